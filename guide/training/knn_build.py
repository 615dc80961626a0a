"""Builds a guide checkpoint's nearest-neighbour memory (guide.knn) from a training split and
picks its k, temperature T and share w, with the decision offset, on the validation split (the
split the offsets are tuned on anyway; the test split stays held back). Prints the grid's best
cells against the classifier alone; ``--write`` stores the memory and the choice in the
checkpoint (only when the vote helps on val).

    python -m mmkg.guide.training.knn_build --checkpoint DIR --train mnre_train.txt --val mnre_val.txt [--write]
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

import torch

from mmkg.guide.knn import MEMORY, KnnMemory, KnnSettings, mix
from mmkg.guide.metrics import best_global_offset
from mmkg.guide.scorer import Guide
from mmkg.runtime import flags
from mmkg.runtime.checkpoint_files import CONFIG
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.relations import label_id


def tune(memory: KnnMemory, val_logits: torch.Tensor, val_feats: torch.Tensor, val_gold: Sequence[int],
         ks=(16, 64, 128, 256, 512, 1024), temperatures=(0.05, 0.1, 0.2, 0.5),
         weights=(0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)) -> List[Dict]:
    """Every grid cell's val micro-F1 at its own best global offset, best first."""
    rows = []
    base_offset, base_f1 = best_global_offset(val_logits, val_gold)
    rows.append({"k": 0, "temperature": 0.0, "weight": 0.0, "offset": base_offset, "f1": base_f1})
    for k, t in itertools.product(ks, temperatures):
        votes = memory.vote(val_feats, k, t)
        for w in weights:
            if w == 0.0:
                continue
            off, f1 = best_global_offset(mix(val_logits, votes, w), val_gold)
            rows.append({"k": k, "temperature": t, "weight": w, "offset": off, "f1": f1})
    return sorted(rows, key=lambda r: -r["f1"])


def build_and_tune(checkpoint: str, train_path: str, val_path: str, write: bool, threads: int,
                   precision: str = "auto", cache: Optional[str] = None, command: str = "",
                   candidate_pairs: bool = False) -> Dict[str, Any]:
    torch.set_num_threads(threads)
    guide = Guide(checkpoint, "cpu", precision, use_knn=False)
    train, val = read_mnre(train_path), read_mnre(val_path)
    if candidate_pairs:
        # Deferred: only this option needs the NER student.
        from mmkg.guide.training.candidates import student_detector, unannotated_candidates
        from mmkg.ner.tagger import NerStudent

        extra = unannotated_candidates(train, student_detector(NerStudent(None, "cpu", precision)))
        print(f"memory: {len(train)} annotated pairs + {len(extra)} unannotated candidate pairs as None",
              file=sys.stderr)
        train = list(train) + extra
    if cache and os.path.exists(cache):
        train_feats, val_logits, val_feats = torch.load(cache)
    else:
        _, train_feats = guide.logits_and_features(train)
        val_logits, val_feats = guide.logits_and_features(val)
        if cache:
            torch.save((train_feats, val_logits, val_feats), cache)
    memory = KnnMemory(train_feats, torch.tensor([label_id(p.gold) for p in train]), len(guide.labels))
    rows = tune(memory, val_logits, val_feats, [label_id(p.gold) for p in val])
    best = rows[0]
    result = {"baseline": next(r for r in rows if r["weight"] == 0.0), "best": best, "grid": rows}
    if write and best["weight"] > 0.0:
        memory.save(checkpoint)
        path = os.path.join(checkpoint, CONFIG)
        with open(path, encoding="utf-8") as f:
            config = json.load(f)
        config["knn"] = dict(KnnSettings(best["k"], best["temperature"], best["weight"]).to_json(),
                             memory=MEMORY, train_pairs=len(train), command=command, selected_on=os.path.basename(val_path),
                             classifier_only={"offset": result["baseline"]["offset"], "f1": result["baseline"]["f1"]})
        config["thresholds"] = dict(config.get("thresholds") or {}, global_offset=best["offset"])
        with open(path, "w", encoding="utf-8") as f:
            json.dump(config, f, indent=2, sort_keys=True)
            f.write("\n")
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmkg.guide.training.knn_build", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--train", required=True)
    ap.add_argument("--val", required=True)
    ap.add_argument("--write", action="store_true", help="store the memory and the best (k, T, w, offset) in the checkpoint")
    flags.add_threads(ap, 2)
    flags.add_precision(ap)
    ap.add_argument("--cache", default=None,
                    help="file keeping the computed features between runs of the same checkpoint")
    ap.add_argument("--candidate-pairs", action="store_true",
                    help="also put every unannotated candidate pair of the training posts in the memory, as None "
                         "(read as the pipeline reads raw posts; for a guide trained with --candidate-negatives)")
    args = ap.parse_args(argv)
    res = build_and_tune(args.checkpoint, args.train, args.val, args.write, args.threads, args.precision, args.cache,
                         "python -m mmkg.guide.training.knn_build " + " ".join(sys.argv[1:] if argv is None else argv),
                         args.candidate_pairs)
    print("| k | T | w | offset | val micro-F1 |\n|---|---|---|---|---|")
    for r in [res["baseline"]] + res["grid"][:12]:
        print(f"| {r['k']} | {r['temperature']} | {r['weight']} | {r['offset']:+.1f} | {100 * r['f1']:.2f} |")
    b = res["best"]
    print(f"best: k={b['k']} T={b['temperature']} w={b['weight']} -> {100 * b['f1']:.2f} "
          f"(classifier alone {100 * res['baseline']['f1']:.2f})" + ("; written" if args.write and b["weight"] > 0 else ""),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
