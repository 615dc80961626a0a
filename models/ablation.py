"""The guide's ablation: cross-entropy vs FTL, with and without MRDA, at one identical budget.

    python -m models.ablation --out /tmp/guide-ablation --max-steps 400 [--shipped DIR]

Every cell trains with ``mmkg train`` (same seed, data, encoder, optimiser and step budget; only
``--loss`` and ``--mrda`` change), then is scored on the validation split by the same code as
``mmkg evaluate``. Prints a Markdown table (val micro P/R/F1, accuracy) and writes results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import List, Optional, Sequence

CELLS = (
    ("CE", "ce", "none"),
    ("CE + MRDA", "ce", "all"),
    ("FTL", "ftl", "none"),
    ("FTL + MRDA", "ftl", "all"),
)


def train_argv(args, loss: str, mrda: str, out: str) -> List[str]:
    return ["--train", args.train, "--val", args.val, "--output", out, "--loss", loss, "--tau", str(args.tau),
            "--mrda", mrda, "--epochs", "1", "--max-steps", str(args.max_steps), "--eval-every", str(args.max_steps),
            "--batch-size", "16", "--lr", "1e-3", "--head-lr", "2e-3", "--seed", str(args.seed),
            "--threads", str(args.threads), "--quiet", "--version", f"ablation-{loss}-{mrda}"]


def val_metrics(checkpoint: str, val: str, threads: int) -> dict:
    import torch

    from models.evaluate import guide_report
    from models.predict import Guide, predict_split

    torch.set_num_threads(threads)
    return guide_report(predict_split(val, guide=Guide(checkpoint, "cpu")))["micro"]


def row(name: str, m: dict, how: str) -> str:
    return (f"| {name} | {100 * m['precision']:.2f} | {100 * m['recall']:.2f} | {100 * m['f1']:.2f} | "
            f"{100 * m['accuracy']:.2f} | {how} |")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.ablation", description=__doc__.splitlines()[0])
    ap.add_argument("--train", default="../shared/data/mnre/mnre_train.txt")
    ap.add_argument("--val", default="../shared/data/mnre/mnre_val.txt")
    ap.add_argument("--out", default="guide-ablation")
    ap.add_argument("--max-steps", type=int, default=400)
    ap.add_argument("--tau", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--cells", default=",".join(c[0] for c in CELLS), help="which cells to run (names)")
    ap.add_argument("--shipped", default=None, help="also score this checkpoint (the shipped one)")
    args = ap.parse_args(argv)

    from models import train

    os.makedirs(args.out, exist_ok=True)
    wanted = {c.strip() for c in args.cells.split(",")}
    results = {}
    path = os.path.join(args.out, "results.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    for name, loss, mrda in CELLS:
        if name not in wanted or name in results:
            continue
        ckpt = os.path.join(args.out, f"{loss}-{mrda}")
        train.main(train_argv(args, loss, mrda, ckpt))
        results[name] = {"command": "mmkg train " + " ".join(train_argv(args, loss, mrda, ckpt)),
                         "val": val_metrics(ckpt, args.val, args.threads)}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        print(f"{name}: val micro-F1 {100 * results[name]['val']['f1']:.2f}", file=sys.stderr)
    print(f"| model (val, {args.max_steps} steps x 16 pairs unless noted) | P | R | micro-F1 | accuracy | run |")
    print("|---|---|---|---|---|---|")
    for name, _, _ in CELLS:
        if name in results:
            print(row(name, results[name]["val"], f"{args.max_steps} steps"))
    if args.shipped:
        print(row("shipped (FTL + MRDA, full budget)", val_metrics(args.shipped, args.val, args.threads), "see docs"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
