"""``mmkg train-ner``: the NER student's training flags to a NerTrainSettings, the run, its result."""
from __future__ import annotations

import argparse
import shlex
import sys
from typing import Optional, Sequence

from mmkg.ner.settings import NER_CONVENTIONS as CONVENTIONS
from mmkg.ner.settings import NerTrainSettings
from mmkg.runtime import flags
from mmkg.runtime.checkpoint_files import DEFAULT_ENCODER


def parse_args(argv: Optional[Sequence[str]]) -> NerTrainSettings:
    ap = argparse.ArgumentParser(prog="mmkg train-ner", description="train the NER student on CoNLL files (Twitter-2015/2017), select on valid")
    ap.add_argument("--train", nargs="+", required=True,
                    help="CoNLL training files (IMGID lines, token TAB tag); MNRE split files add partial annotations")
    ap.add_argument("--val", nargs="+", required=True,
                    help="validation files (CoNLL, or MNRE: recall of its spans), for selection and early stopping")
    ap.add_argument("--init", default=None,
                    help="continue from this NER checkpoint (its encoder and adaptation; --encoder/--adapt ignored)")
    ap.add_argument("--output", "-o", default="ner-checkpoint", help="checkpoint directory to write")
    ap.add_argument("--one-convention", action="store_true",
                    help="train every file as one annotation convention (no per-corpus convention vectors)")
    ap.add_argument("--serving-convention", choices=CONVENTIONS, default="mnre",
                    help="the convention the checkpoint follows when not told (the pipeline's): MNRE's "
                         "spans are relation heads and tails")
    ap.add_argument("--encoder", default=DEFAULT_ENCODER, help="Hugging Face encoder name or path")
    ap.add_argument("--adapt", choices=("lora", "full"), default="lora", help="LoRA adapters or full fine-tuning")
    ap.add_argument("--freeze-word-embeddings", action="store_true",
                    help="with --adapt full: keep the word-embedding table as pretrained (and out of the checkpoint)")
    ap.add_argument("--lora-r", type=int, default=32)
    ap.add_argument("--lora-alpha", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--max-steps", type=int, default=None)
    ap.add_argument("--eval-every", type=int, default=None, help="validate every N steps (default: per epoch)")
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=None, help="encoder learning rate (default 1e-3 LoRA, 1e-4 full)")
    ap.add_argument("--head-lr", type=float, default=2e-3, help="shape tables, image fusion, tag layer")
    ap.add_argument("--crf-lr", type=float, default=1e-2)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=13)
    flags.add_threads(ap)
    flags.add_device(ap)
    ap.add_argument("--limit-train", type=int, default=None)
    ap.add_argument("--limit-val", type=int, default=None)
    ap.add_argument("--version", default=None)
    ap.add_argument("--quiet", action="store_true")
    args = vars(ap.parse_args(argv))
    args["train"], args["val"] = tuple(args["train"]), tuple(args["val"])
    return NerTrainSettings(**args, command="mmkg train-ner " + shlex.join(argv or []))


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    settings = parse_args(argv)
    # Deferred: torch and the encoder load only once the flags are known to be good.
    from mmkg.ner.train import train_ner

    best = train_ner(settings)
    print(f"saved {best['output']} (version {best['version']}); best val mean F1 {100 * best['score']:.2f} "
          f"at step {best['step']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
