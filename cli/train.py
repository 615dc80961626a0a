"""``mmkg train``: the guide's training flags to a TrainSettings, the run, its result."""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Optional, Sequence

from mmkg.guide.training.mrda import MrdaConfig
from mmkg.guide.training.settings import TrainSettings
from mmkg.runtime import flags
from mmkg.runtime.checkpoint_files import DEFAULT_ENCODER


def parse_args(argv: Optional[Sequence[str]]) -> TrainSettings:
    ap = argparse.ArgumentParser(prog="mmkg train", description="train the guide on an MNRE split, select on a validation split, save a checkpoint")
    ap.add_argument("--train", required=True, help="MNRE training split (one instance per line)")
    ap.add_argument("--val", required=True, help="MNRE validation split, used for early stopping")
    ap.add_argument("--output", "-o", default="guide-checkpoint", help="checkpoint directory to write")
    ap.add_argument("--encoder", default=DEFAULT_ENCODER, help="Hugging Face encoder name or path")
    ap.add_argument("--image-dir", default=None, help="MNRE image directory (absent: text only)")
    ap.add_argument("--loss", choices=("ftl", "ce"), default="ftl")
    ap.add_argument("--tau", type=float, default=1.0, help="FTL margin strength (0 = plain adaptive threshold)")
    ap.add_argument("--mrda", default="all", help="'all', 'none' or kinds: substitute,swap,noise,image[=p]; rare=N: only pairs whose label has < N training pairs")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--max-steps", type=int, default=None, help="stop after this many optimiser steps")
    ap.add_argument("--eval-every", type=int, default=None, help="validate every N steps (default: per epoch)")
    ap.add_argument("--patience", type=int, default=2, help="evaluations without improvement before stopping")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--eval-batch-size", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4, help="learning rate of the LoRA adapters")
    ap.add_argument("--head-lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.06, help="fraction of steps with linear warm-up")
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--adapt", choices=("lora", "full"), default="lora", help="LoRA adapters or full fine-tuning")
    ap.add_argument("--freeze-word-embeddings", action="store_true",
                    help="with --adapt full: keep the word-embedding table as pretrained (and out of the checkpoint)")
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--lora-alpha", type=int, default=32)
    ap.add_argument("--lora-layers", default=None, help="comma-separated encoder layers with adapters (default all)")
    ap.add_argument("--lora-targets", default="all-linear")
    ap.add_argument("--tune-offset", action="store_true", help="pick the global decision offset on --val (and select checkpoints by F1 at that offset)")
    ap.add_argument("--seed", type=int, default=13)
    flags.add_threads(ap)
    flags.add_device(ap)
    ap.add_argument("--limit-train", type=int, default=None)
    ap.add_argument("--limit-val", type=int, default=None)
    ap.add_argument("--init-from", default=None,
                    help="start from this checkpoint's trained tensors (same encoder and LoRA shape)")
    ap.add_argument("--version", default=None, help="version string stored in the checkpoint")
    ap.add_argument("--save-every-best", action="store_true",
                    help="write the checkpoint at every val improvement, not only at the end")
    ap.add_argument("--snapshots", default=None,
                    help="also write the model at every evaluation to DIR/step-N (for guide.training.soup)")
    ap.add_argument("--teacher", default=None,
                    help="soft targets to distil (python -m mmkg.guide.training.teacher) for the --train split")
    ap.add_argument("--distill-weight", type=float, default=0.5,
                    help="with --teacher: share of the loss that matches the teacher's distribution")
    ap.add_argument("--distill-temperature", type=float, default=1.0,
                    help="with --teacher: softening of both distributions in the matching term")
    ap.add_argument("--typed-markers", action="store_true",
                    help="typed entity markers: head and tail typed by the NER student (--ner-checkpoint)")
    ap.add_argument("--ner-checkpoint", default=None, help="NER student that types the pairs (default: the shipped one)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    ap.add_argument("--candidate-negatives", type=float, default=0.0,
                    help="share (0..1) of the training posts' unannotated candidate pairs (as the pipeline "
                         "enumerates them with the NER student) added as None examples")
    args = ap.parse_args(argv)
    if not 0.0 <= args.distill_weight <= 1.0 or args.distill_temperature <= 0:
        ap.error("--distill-weight must lie in [0, 1] and --distill-temperature be positive")
    if not 0.0 <= args.candidate_negatives <= 1.0:
        ap.error("--candidate-negatives must lie in [0, 1]")
    if args.candidate_negatives and args.teacher:
        ap.error("--candidate-negatives and --teacher cannot be combined: the teacher's targets cover the MNRE pairs only")
    try:
        MrdaConfig.parse(args.mrda)
    except ValueError as e:  # a typo in the spec is the user's, so it gets usage, not a traceback
        ap.error(f"--mrda: {e}")
    return TrainSettings(**vars(args), command="mmkg train " + shlex.join(argv or []))


def result_line(output: str, final: dict) -> str:
    return (f"saved {output} (version {final['version']}); val micro-F1 {100 * final['f1']:.2f} "
            f"P {100 * final['precision']:.2f} R {100 * final['recall']:.2f} acc {100 * final['accuracy']:.2f}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    settings = parse_args(list(sys.argv[1:] if argv is None else argv))
    # Deferred: torch and the encoder load only once the flags are known to be good.
    from mmkg.guide.training.train import train_guide

    print(result_line(settings.output, train_guide(settings)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
