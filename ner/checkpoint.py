"""NER student checkpoints: ``config.json`` (format, encoder, tags, shapes, how the encoder is
adapted, how it was trained) and ``weights.safetensors`` (the trained tensors in half precision:
LoRA adapters or, for a full fine-tune, the whole encoder; shape tables, image fusion, tag layer,
CRF). Loading checks that the tag set, shape inventory and adaptation match this code, so a
checkpoint made for another inventory fails loudly instead of tagging nonsense.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Optional, Tuple

from mmkg.ner.data import TAGS
from mmkg.ner.model import CONVENTIONS, SHAPES, NerModel
from mmkg.ner.settings import DEFAULT_NER_CHECKPOINT
from mmkg.runtime.checkpoint_files import CONFIG, WEIGHTS, read_checkpoint_config
from mmkg.runtime.checkpoint_io import LoraSpec, load_encoder, trained_state, write_trained

FORMAT = "mmkg-ner/1"


def build_ner_model(encoder: str, lora: Optional[LoraSpec], shape_dim: int = 32, image_dim: int = 64,
                    freeze_word_embeddings: bool = False, native: bool = False, conventions: int = 1) -> NerModel:
    """Pretrained encoder; with ``lora`` it is frozen behind adapters, without it fully trainable
    (but for its word-embedding table when ``freeze_word_embeddings``: half of MiniLM's weights,
    which then need not be saved)."""
    base = load_encoder(encoder, lora, native)
    if freeze_word_embeddings:
        base.get_input_embeddings().weight.requires_grad_(False)
    return NerModel(base, base.config.hidden_size, shape_dim, image_dim, conventions=conventions)


def save_ner_checkpoint(model: NerModel, directory: str, config: Dict[str, Any]) -> None:
    # The CRF's pinned -1e4 transitions survive fp16 (max 65504), and so do its learned ones.
    write_trained(model, directory, dict(config, format=FORMAT, tags=list(TAGS), shapes=list(SHAPES)))


def read_ner_config(directory: str) -> Dict[str, Any]:
    config = read_checkpoint_config(directory, FORMAT, "an mmkg NER")
    path = os.path.join(directory, CONFIG)
    if tuple(config.get("tags", ())) != TAGS:
        raise ValueError(f"{path}: tag set {config.get('tags')} differs from this version's {list(TAGS)}")
    if tuple(config.get("shapes", ())) != SHAPES:
        raise ValueError(f"{path}: word-shape inventory differs from this version's")
    conventions = conventions_of(config)
    if conventions != CONVENTIONS[: len(conventions)]:
        raise ValueError(f"{path}: annotation conventions {config.get('conventions')} differ from this version's")
    return config


def conventions_of(config: Dict[str, Any]) -> Tuple[str, ...]:
    """The annotation conventions a checkpoint was trained on (one, unnamed, before they existed)."""
    return tuple(config.get("conventions", CONVENTIONS[:1]))


def serving_convention(config: Dict[str, Any]) -> str:
    """The convention a checkpoint follows unless told otherwise: the one its trainer chose."""
    return config.get("serving_convention", conventions_of(config)[0])


def load_ner_checkpoint(directory: Optional[str] = None, merge: bool = True) -> Tuple[NerModel, Dict[str, Any]]:
    """(model in eval mode, config); LoRA adapters folded into the encoder for inference speed."""
    directory = directory or DEFAULT_NER_CHECKPOINT
    config = read_ner_config(directory)
    lora = LoraSpec.from_json(config["lora"]) if config.get("lora") else None
    model = build_ner_model(config["encoder"], lora, config["shape_dim"], config["image_dim"],
                            bool(config.get("freeze_word_embeddings", False)), native=merge and lora is None,
                            conventions=len(conventions_of(config)))
    load_trained_tensors(model, os.path.join(directory, WEIGHTS))
    if merge and lora is not None:
        model.encoder = model.encoder.merge_and_unload()
    model.crf.enforce()
    model.eval()
    return model, config


def load_trained_tensors(model: NerModel, path: str, new: Tuple[str, ...] = ()) -> None:
    """The checkpoint's tensors into ``model``; ``new``: parameters the model may have and the file
    lack (a training run that adds them), left as initialised."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(path).items()}
    expected = set(trained_state(model))
    missing, unexpected = expected - set(state) - set(new), set(state) - expected
    if missing or unexpected:
        raise ValueError(f"{path} does not match this model: missing {sorted(missing)[:3]}, "
                         f"unexpected {sorted(unexpected)[:3]}")
    model.load_state_dict(state, strict=False)
