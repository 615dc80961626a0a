"""Weight averaging of guide checkpoints ("model soup", Wortsman et al. 2022; checkpoint averaging
within one run): one model whose weights are the mean of several, so it costs at inference what
one model costs, unlike an ensemble that runs every member.

Only checkpoints fine-tuned from the same pretrained encoder, with the same shapes, average
meaningfully. Fully fine-tuned ones (``--adapt full``) average their weights directly; LoRA
checkpoints are refused, because the mean of the A and B factors is not the mean of the
updates B·A.

    python -m mmkg.guide.training.soup --val mnre_val.txt --out DIR CKPT [CKPT ...] [--greedy]

Scores every member and the soup on --val at its own tuned global offset (the split the members
were selected on; the test split stays held back). ``--greedy`` adds members best-first and
keeps each only if the soup's val F1 does not fall (Wortsman et al.'s greedy soup).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from typing import Dict, List, Optional, Sequence

import torch
from safetensors.torch import load_file, save_file

from mmkg.guide.checkpoint import read_config
from mmkg.guide.metrics import best_global_offset
from mmkg.guide.scorer import Guide
from mmkg.runtime import flags
from mmkg.runtime.checkpoint_files import CONFIG, WEIGHTS
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.relations import label_id


def average(checkpoints: Sequence[str]) -> Dict[str, torch.Tensor]:
    """The element-wise mean of the checkpoints' trained tensors, in fp32."""
    configs = [read_config(c) for c in checkpoints]
    for c, cfg in zip(checkpoints, configs):
        if cfg.get("lora"):
            raise ValueError(f"{c}: a LoRA checkpoint; averaging its factors is not averaging its updates")
        for key in ("encoder", "head_hidden", "freeze_word_embeddings", "max_length"):
            if cfg.get(key) != configs[0].get(key):
                raise ValueError(f"{c}: {key} {cfg.get(key)!r} differs from {checkpoints[0]}'s {configs[0].get(key)!r}")
    total: Optional[Dict[str, torch.Tensor]] = None
    for c in checkpoints:
        state = load_file(os.path.join(c, WEIGHTS))
        if total is None:
            total = {k: v.float().clone() for k, v in state.items()}
        else:
            if set(state) != set(total):
                raise ValueError(f"{c}: holds other tensors than {checkpoints[0]}")
            for k, v in state.items():
                total[k] += v.float()
    return {k: v / len(checkpoints) for k, v in total.items()}


def write_soup(checkpoints: Sequence[str], out: str, version: Optional[str] = None) -> str:
    state = average(checkpoints)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(checkpoints[0], CONFIG), encoding="utf-8") as f:
        config = json.load(f)
    config["version"] = version or f"soup-of-{len(checkpoints)}"
    config["soup"] = {"members": [os.path.abspath(c) for c in checkpoints],
                      "member_versions": [read_config(c).get("version") for c in checkpoints]}
    config["thresholds"] = {"global_offset": 0.0, "per_class": {}}
    config.pop("knn", None)
    save_file({k: v.to(torch.float16).contiguous() for k, v in state.items()}, os.path.join(out, WEIGHTS))
    with open(os.path.join(out, CONFIG), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")
    return out


def val_f1(checkpoint: str, val_pairs, precision: str = "auto") -> Dict[str, float]:
    """Val micro-F1 at the checkpoint's best global offset (classifier only, no kNN)."""
    guide = Guide(checkpoint, "cpu", precision, use_knn=False)
    logits = guide.logits_by_length(val_pairs, 64)
    offset, f1 = best_global_offset(logits, [label_id(p.gold) for p in val_pairs])
    return {"offset": offset, "f1": f1}


def store_offset(checkpoint: str, offset: float) -> None:
    path = os.path.join(checkpoint, CONFIG)
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    config["thresholds"] = {"global_offset": offset, "per_class": {}}
    with open(path, "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2, sort_keys=True)
        f.write("\n")


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmkg.guide.training.soup", description=__doc__.splitlines()[0])
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--val", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--greedy", action="store_true")
    ap.add_argument("--version", default=None)
    flags.add_threads(ap, 2)
    flags.add_precision(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    val = read_mnre(args.val)
    rows: List[Dict] = []
    members = {c: val_f1(c, val, args.precision) for c in args.checkpoints}
    for c, m in members.items():
        rows.append({"model": c, **m})
    order = sorted(args.checkpoints, key=lambda c: -members[c]["f1"])
    if args.greedy:
        kept, best = [order[0]], members[order[0]]
        for c in order[1:]:
            trial = write_soup(kept + [c], args.out + ".trial")
            m = val_f1(trial, val, args.precision)
            rows.append({"model": f"soup of {len(kept) + 1} (+{os.path.basename(c)})", **m})
            if m["f1"] >= best["f1"]:
                kept, best = kept + [c], m
        shutil.rmtree(args.out + ".trial", ignore_errors=True)
    else:
        kept = list(args.checkpoints)
    write_soup(kept, args.out, args.version)
    final = val_f1(args.out, val, args.precision)
    store_offset(args.out, final["offset"])
    rows.append({"model": f"**soup** ({len(kept)}: {', '.join(os.path.basename(c) for c in kept)})", **final})
    print("| model | tuned offset | val micro-F1 |\n|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['offset']:+.1f} | {100 * r['f1']:.2f} |")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
