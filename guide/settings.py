"""Settings of stage 1 (the guide) in a run, and where the shipped checkpoint is; importable
without torch (parsing the flags and planning stage 2 must not import it)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

# The shipped guides, beside this module (the package data of mmkg.guide): one for the pairs an
# input annotates (MNRE's; the benchmark's guide), one trained on candidate pairs as the pipeline
# enumerates them from raw posts (docs/guide.md, "A guide for candidate pairs").
_HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints")
DEFAULT_CHECKPOINT = os.path.join(_HERE, "guide-default")
CANDIDATES_CHECKPOINT = os.path.join(_HERE, "guide-candidates")


@dataclass(frozen=True)
class GuideSettings:
    """Stage 1 of a run."""

    checkpoint: Optional[str] = None  # None: the shipped checkpoints (below); a path: for every pair
    device: str = "auto"  # auto, cpu or cuda[:N]
    precision: str = "auto"  # auto, fp32, bf16, fp16 (see runtime.precision)
    batch_size: int = 128  # most pairs RunInference hands the model at once
    # That batch is sorted by token length and cut into sub-batches of at most this many pairs,
    # each padded to its own longest pair (docs/guide.md has the measurements behind both sizes).
    sub_batch_size: int = 32
    top_k: int = 3  # candidates kept per pair (the LLM sees them)
    # torch threads of a worker process (0: its share of the machine's cores, see runtime.threads)
    # and how many model-running workers share one machine (0: one per core).
    torch_threads: int = 0
    workers_per_machine: int = 1

    @property
    def for_given_pairs(self) -> str:
        """The checkpoint that scores pairs the input annotates."""
        return self.checkpoint or DEFAULT_CHECKPOINT

    @property
    def for_candidate_pairs(self) -> str:
        """The checkpoint that scores the pairs enumerated from a post's detected entities."""
        return self.checkpoint or CANDIDATES_CHECKPOINT
