"""Guide checkpoints: a directory with ``config.json`` (encoder, label set, thresholds, version,
LoRA and head shapes, how it was trained) and ``weights.safetensors`` (only the trained tensors —
LoRA adapters, head, image projection — in half precision; the frozen encoder comes from
``config["encoder"]``). Other files in the directory (e.g. the refiner's ``gating.json``) are
ignored here. The file layout itself is runtime.checkpoint_io's, shared with the NER student.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

import torch

from mmkg.guide.markers import HEAD_MARKERS, TAIL_MARKERS
from mmkg.guide.model import GuideModel
from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.runtime.checkpoint_files import CONFIG, WEIGHTS, read_checkpoint_config
from mmkg.runtime.checkpoint_io import LoraSpec, load_encoder, load_trained_state, lora_of, write_trained
from mmkg.runtime.image_features import FEATURE_DIM
from mmkg.schemas.relations import RELATIONS

FORMAT = "mmkg-guide/1"
IMAGE_BACKBONE = "efficientnet-lite0"


def build_model(encoder: str, lora: Optional[LoraSpec], num_labels: int = len(RELATIONS),
                head_hidden: int = 384, dropout: float = 0.1, freeze_word_embeddings: bool = False,
                native: bool = False) -> GuideModel:
    """A fresh guide: pretrained encoder (frozen, LoRA adapters trainable when ``lora`` is set;
    fully trainable otherwise, but for the word-embedding table when ``freeze_word_embeddings``:
    half of MiniLM's weights, which then stay as pretrained and out of the checkpoint)."""
    base = load_encoder(encoder, lora, native)
    if freeze_word_embeddings:
        base.get_input_embeddings().weight.requires_grad_(False)
    return GuideModel(base, base.config.hidden_size, num_labels, head_hidden, dropout)


def architecture() -> Dict[str, Any]:
    """What a guide checkpoint only works with, as this code builds and feeds the model: written
    into every checkpoint's config and checked by :func:`read_config` on loading."""
    return {
        "format": FORMAT,
        "labels": list(RELATIONS),
        "markers": {"head": list(HEAD_MARKERS), "tail": list(TAIL_MARKERS)},
        "image": {"backbone": IMAGE_BACKBONE, "feature_dim": FEATURE_DIM},
    }


def save_checkpoint(model: GuideModel, directory: str, config: Dict[str, Any]) -> None:
    arch = architecture()
    image = dict(config.get("image") or {}, **arch["image"])
    # The head's size as built, so that loading builds the same one.
    head_hidden = model.head[1].out_features
    write_trained(model, directory, {**config, **arch, "image": image, "head_hidden": head_hidden})


def read_config(directory: Optional[str] = None) -> Dict[str, Any]:
    """The checkpoint's config, refused loudly when it was made for another label set, other
    entity markers or another image backbone: such weights would load and score nonsense."""
    directory = directory or DEFAULT_CHECKPOINT
    config = read_checkpoint_config(directory, FORMAT, "a guide")
    path = os.path.join(directory, CONFIG)
    arch = architecture()
    if tuple(config["labels"]) != RELATIONS:
        raise ValueError(f"{path}: label set differs from schemas.relations.RELATIONS")
    if config.get("markers") != arch["markers"]:
        raise ValueError(f"{path}: trained with entity markers {config.get('markers')}, this code marks "
                         f"entities with {arch['markers']}")
    image = config.get("image") or {}
    if {k: image.get(k) for k in arch["image"]} != arch["image"]:
        raise ValueError(f"{path}: trained on image features {image}, this code gives {arch['image']}")
    return config


# Where peft puts the encoder's modules (model.encoder.base_model.model.<path>) and their adapters.
_PEFT_PREFIX = "encoder.base_model.model."
_LORA_A, _LORA_B = ".lora_A.default.weight", ".lora_B.default.weight"


def _merged_without_peft(config: Dict[str, Any], directory: str) -> Optional[GuideModel]:
    """The model with its LoRA adapters folded into the plain encoder's weights, W + B A alpha/r
    (what peft's merge_and_unload computes for these Linear layers), built without peft: importing
    peft alone was ~2 s of a run's start-up. None when the weights hold anything else of peft's,
    which the caller then loads through peft."""
    from safetensors.torch import load_file

    lora = lora_of(config)
    state = {k: v.float() for k, v in load_file(os.path.join(directory, WEIGHTS)).items()}
    adapters = [k for k in state if k.startswith("encoder.")]
    if not all(k.startswith(_PEFT_PREFIX) and k.endswith((_LORA_A, _LORA_B)) for k in adapters):
        return None
    model = build_model(config["encoder"], None, len(config["labels"]), config["head_hidden"], native=True)
    with torch.no_grad():
        for key in adapters:
            if key.endswith(_LORA_A):
                layer = model.encoder.get_submodule(key[len(_PEFT_PREFIX):-len(_LORA_A)])
                a, b = state[key], state[key[: -len(_LORA_A)] + _LORA_B]
                layer.weight += (b @ a) * (lora.alpha / lora.r)
    rest = {k: v for k, v in state.items() if not k.startswith("encoder.")}
    missing = {n for n, _ in model.named_parameters() if not n.startswith("encoder.")} - set(rest)
    if missing:
        raise ValueError(f"{directory}: weights lack {sorted(missing)[:3]}...")
    model.load_state_dict(rest, strict=False)
    return model


def load_checkpoint(directory: Optional[str] = None, merge: bool = True) -> Tuple[GuideModel, Dict[str, Any]]:
    """(model in eval mode, config). ``merge`` folds the LoRA adapters into the encoder's weights,
    which makes inference as fast as a plain encoder."""
    directory = directory or DEFAULT_CHECKPOINT
    config = read_config(directory)
    model = _merged_without_peft(config, directory) if merge and config.get("lora") else None
    if model is None:
        model = build_model(config["encoder"], lora_of(config), len(config["labels"]), config["head_hidden"],
                            freeze_word_embeddings=bool(config.get("freeze_word_embeddings", False)),
                            native=merge and not config.get("lora"))
        load_trained_state(model, directory)
        if merge and config.get("lora"):
            model.encoder = model.encoder.merge_and_unload()
    model.eval()
    return model, config
