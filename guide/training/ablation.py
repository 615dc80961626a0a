"""The guide's ablation: cross-entropy vs FTL, with and without MRDA, at one identical budget.

    python -m mmkg.guide.training.ablation --out /tmp/guide-ablation --max-steps 400 [--shipped DIR]

Every cell trains with ``mmkg train`` (same seed, data, encoder, optimiser and step budget; only
``--loss`` and ``--mrda`` change; a cell whose checkpoint is already in --out is not retrained),
then is scored on the validation split by the same decision code as ``mmkg evaluate``, at offset 0
and at the one global decision offset that is best on val. Prints a Markdown table and writes
results.json.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import List, Optional, Sequence

import torch

from mmkg.guide.ftl import decide, offsets_vector
from mmkg.guide.metrics import best_global_offset, summary
from mmkg.guide.scorer import Guide, logits_in_order
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.relations import RELATIONS, label_id

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
    """Val micro P/R/F1 and accuracy at the checkpoint's own thresholds and at the single global
    decision offset that is best on val (what ``mmkg train --tune-offset`` would store)."""
    torch.set_num_threads(threads)
    guide = Guide(checkpoint, "cpu")
    pairs = read_mnre(val)
    logits = logits_in_order(guide.logits, pairs, 64)
    gold_ids = [label_id(p.gold) for p in pairs]
    gold = [p.gold for p in pairs]

    def at(offsets):
        return summary(gold, [RELATIONS[i] for i in decide(logits, offsets).tolist()])

    offset, _ = best_global_offset(logits, gold_ids)
    return {"stored": at(guide.offsets), "zero": at(offsets_vector({}, len(RELATIONS))),
            "tuned": dict(at(offsets_vector({"global_offset": offset}, len(RELATIONS))), offset=offset)}


def row(name: str, m: dict, how: str) -> str:
    z, t = m["zero"], m["tuned"]
    return (f"| {name} | {100 * z['precision']:.2f} | {100 * z['recall']:.2f} | {100 * z['f1']:.2f} | "
            f"{100 * z['accuracy']:.2f} | {t['offset']:+.1f} | {100 * t['precision']:.2f} | {100 * t['recall']:.2f} | "
            f"{100 * t['f1']:.2f} | {100 * t['accuracy']:.2f} | {how} |")


HEADER = ("| model | P | R | F1 | acc | tuned offset | P | R | F1 | acc | budget |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmkg.guide.training.ablation", description=__doc__.splitlines()[0])
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

    os.makedirs(args.out, exist_ok=True)
    wanted = {c.strip() for c in args.cells.split(",")}
    path = os.path.join(args.out, "results.json")
    results = {}
    if os.path.exists(path):  # cells not asked for this time keep their earlier scores
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    for name, loss, mrda in CELLS:
        ckpt = os.path.join(args.out, f"{loss}-{mrda}")
        if name not in wanted:
            continue
        if not os.path.exists(os.path.join(ckpt, "config.json")):
            # `mmkg train` itself, in its own process: the cell is trained exactly as a user would.
            subprocess.run([sys.executable, "-m", "mmkg", "train", *train_argv(args, loss, mrda, ckpt)], check=True)
        results[name] = {"command": "mmkg train " + " ".join(train_argv(args, loss, mrda, ckpt)),
                         "val": val_metrics(ckpt, args.val, args.threads)}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
        print(f"{name}: val micro-F1 {100 * results[name]['val']['zero']['f1']:.2f}", file=sys.stderr)
    if args.shipped:
        results["shipped"] = {"checkpoint": args.shipped, "val": val_metrics(args.shipped, args.val, args.threads)}
        with open(path, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2)
    print("Val micro-F1 over non-None labels; left: decision offset 0 (plain threshold / argmax), "
          "right: one global offset tuned on val.")
    print(HEADER)
    for name, _, _ in CELLS:
        if name in results:
            print(row(name, results[name]["val"], f"{args.max_steps} steps x 16"))
    if "shipped" in results:
        print(row("shipped checkpoint", results["shipped"]["val"], "see docs/guide.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
