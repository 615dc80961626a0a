"""The settings records of stage 1 and of entity detection, built from the flags by
pipeline.options and handed to the transforms. Here, apart from the transforms, because those
import torch (through Beam's RunInference), which parsing the flags should not."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


NER_DEFAULT = "default"  # the shipped NER student
# Number formats a model may compute in (``--precision``); resolved against the hardware by
# models.precision. Named here so that parsing the flags does not import torch.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
SPACY_PREFIX = "spacy:"


# The annotation conventions an NER student can be trained on and told to follow; index 0 is the
# convention of a model trained on one corpus (Twitter-2015/2017's CoNLL files).
NER_CONVENTIONS = ("twitter", "mnre")


@dataclass(frozen=True)
class NerSettings:
    """How posts without entities get them (``--ner-model``): the NER student (the shipped
    checkpoint when ``checkpoint`` is None) or, when ``spacy`` is set, that spaCy pipeline."""

    checkpoint: Optional[str] = None
    spacy: Optional[str] = None  # a spaCy pipeline name or path
    device: str = "auto"
    precision: str = "auto"  # auto, fp32, bf16, fp16
    batch_size: int = 64  # most posts RunInference hands the student at once
    # Candidate entities beyond the student's own reading, for the guide to accept or reject:
    # spans of a second decoding with this much taken off every O score (0: none), and
    # untagged @mentions but retweet sources (untyped). The second decoding is off by default
    # since the student follows MNRE's convention (ner-conventions-v2): on MNRE val as raw posts
    # it added 1.3 points of gold pairs enumerated for 22 % more pairs (docs/ner.md).
    recall_penalty: float = 0.0
    mentions: bool = True
    # Whose entity boundaries the student draws (models/ner_model.py CONVENTIONS); None: the
    # checkpoint's serving convention (the shipped student's is MNRE's, the relation corpus's).
    convention: Optional[str] = None
    # As for the guide (GuideSettings): torch threads of a worker (0: its share of the cores).
    torch_threads: int = 0
    workers_per_machine: int = 1

    @property
    def model(self) -> str:
        """The ``--ner-model`` value these settings came from."""
        if self.spacy is not None:
            return SPACY_PREFIX + self.spacy
        return self.checkpoint or NER_DEFAULT


@dataclass(frozen=True)
class GuideSettings:
    """Stage 1 of a run."""

    checkpoint: Optional[str] = None  # None: the shipped checkpoint
    device: str = "auto"  # auto, cpu or cuda[:N]
    precision: str = "auto"  # auto, fp32, bf16, fp16 (see models.precision)
    batch_size: int = 128  # most pairs RunInference hands the model at once
    # That batch is sorted by token length and cut into sub-batches of at most this many pairs,
    # each padded to its own longest pair (docs/guide.md has the measurements behind both sizes).
    sub_batch_size: int = 32
    top_k: int = 3  # candidates kept per pair (the LLM sees them)
    # torch threads of a worker process (0: its share of the machine's cores, see models.threads)
    # and how many model-running workers share one machine (0: one per core).
    torch_threads: int = 0
    workers_per_machine: int = 1
