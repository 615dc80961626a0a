"""How one training run of the guide is configured: the typed record ``mmkg train`` parses its
flags into (cli/train.py) and guide.training.train.Trainer reads. No torch here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mmkg.runtime.checkpoint_files import DEFAULT_ENCODER


@dataclass(frozen=True)
class TrainSettings:
    train: str  # MNRE training split (one instance per line)
    val: str  # MNRE validation split, used for early stopping
    output: str = "guide-checkpoint"  # checkpoint directory to write
    encoder: str = DEFAULT_ENCODER  # Hugging Face encoder name or path
    image_dir: Optional[str] = None  # MNRE image directory (absent: text only)
    loss: str = "ftl"
    tau: float = 1.0  # FTL margin strength (0 = plain adaptive threshold)
    mrda: str = "all"  # 'all', 'none' or kinds: substitute,swap,noise,image[=p]; rare=N: only pairs whose label has < N training pairs
    epochs: int = 5
    max_steps: Optional[int] = None  # stop after this many optimiser steps
    eval_every: Optional[int] = None  # validate every N steps (default: per epoch)
    patience: int = 2  # evaluations without improvement before stopping
    batch_size: int = 16
    eval_batch_size: int = 64
    lr: float = 5e-4  # learning rate of the LoRA adapters
    head_lr: float = 1e-3
    warmup: float = 0.06  # fraction of steps with linear warm-up
    weight_decay: float = 0.01
    max_length: int = 64
    adapt: str = "lora"  # LoRA adapters or full fine-tuning
    freeze_word_embeddings: bool = False  # with --adapt full: keep the word-embedding table as pretrained (and out of the checkpoint)
    lora_r: int = 16
    lora_alpha: int = 32
    lora_layers: Optional[str] = None  # comma-separated encoder layers with adapters (default all)
    lora_targets: str = "all-linear"
    tune_offset: bool = False  # pick the global decision offset on --val (and select checkpoints by F1 at that offset)
    seed: int = 13
    threads: Optional[int] = None  # torch CPU threads (default: torch's)
    device: str = "auto"  # auto, cpu or cuda[:N]
    limit_train: Optional[int] = None
    limit_val: Optional[int] = None
    init_from: Optional[str] = None  # start from this checkpoint's trained tensors (same encoder and LoRA shape)
    version: Optional[str] = None  # version string stored in the checkpoint
    save_every_best: bool = False  # write the checkpoint at every val improvement, not only at the end
    snapshots: Optional[str] = None  # also write the model at every evaluation to DIR/step-N (for guide.training.soup)
    teacher: Optional[str] = None  # soft targets to distil (python -m mmkg.guide.training.teacher) for the --train split
    distill_weight: float = 0.5  # with --teacher: share of the loss that matches the teacher's distribution
    distill_temperature: float = 1.0  # with --teacher: softening of both distributions in the matching term
    typed_markers: bool = False  # typed entity markers: head and tail typed by the NER student (--ner-checkpoint)
    ner_checkpoint: Optional[str] = None  # NER student that types the pairs (default: the shipped one)
    quiet: bool = False  # no progress bar
    # Share (0..1) of the unannotated candidate pairs of the training posts (guide.training.candidates)
    # added as None examples; 0: MNRE's annotated pairs alone. Uses --ner-checkpoint's student.
    candidate_negatives: float = 0.0
    command: str = "mmkg train"  # the command line, recorded in the checkpoint
