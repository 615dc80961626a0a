"""Settings of entity detection, built from the flags by pipeline.options and handed to the
transforms; importable without torch (parsing the flags must not import it)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Tuple

from mmkg.runtime.checkpoint_files import DEFAULT_ENCODER

# The shipped student, beside this module (the package data of mmkg.ner).
DEFAULT_NER_CHECKPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints", "ner-default")

NER_DEFAULT = "default"  # the shipped NER student
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
    # Whose entity boundaries the student draws (ner/model.py CONVENTIONS); None: the
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
class NerTrainSettings:
    """One training run of the NER student (``mmkg train-ner``, cli/train_ner.py)."""

    train: Tuple[str, ...]  # CoNLL training files (IMGID lines, token TAB tag); MNRE split files add partial annotations
    val: Tuple[str, ...]  # validation files (CoNLL, or MNRE: recall of its spans), for selection and early stopping
    init: Optional[str] = None  # continue from this NER checkpoint (its encoder and adaptation; --encoder/--adapt ignored)
    output: str = "ner-checkpoint"  # checkpoint directory to write
    one_convention: bool = False  # train every file as one annotation convention (no per-corpus convention vectors)
    serving_convention: str = "mnre"  # the convention the checkpoint follows when not told (the pipeline's): MNRE's  spans are relation heads and tails
    encoder: str = DEFAULT_ENCODER  # Hugging Face encoder name or path
    adapt: str = "lora"  # LoRA adapters or full fine-tuning
    freeze_word_embeddings: bool = False  # with --adapt full: keep the word-embedding table as pretrained (and out of the checkpoint)
    lora_r: int = 32
    lora_alpha: int = 64
    epochs: int = 4
    max_steps: Optional[int] = None
    eval_every: Optional[int] = None  # validate every N steps (default: per epoch)
    patience: int = 3
    batch_size: int = 16
    lr: Optional[float] = None  # encoder learning rate (default 1e-3 LoRA, 1e-4 full)
    head_lr: float = 2e-3  # shape tables, image fusion, tag layer
    crf_lr: float = 1e-2
    warmup: float = 0.06
    weight_decay: float = 0.01
    max_length: int = 128
    seed: int = 13
    threads: Optional[int] = None
    device: str = "auto"
    limit_train: Optional[int] = None
    limit_val: Optional[int] = None
    version: Optional[str] = None
    quiet: bool = False
    command: str = "mmkg train-ner"  # the command line, recorded in the checkpoint
