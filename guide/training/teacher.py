"""Soft targets for distilling guides (and their kNN votes) into one guide.

The kNN vote (guide.knn) is worth ~+2.7 F1 on MNRE val but is a memory next to the network,
and an ensemble of seeds costs its size in pairs/s. Distillation (Hinton et al.; Furlanello et
al.'s born-again networks) moves what they know into the weights of a single network that costs
what one guide costs: a fresh guide is trained on the hard labels and on the teachers' averaged
distribution over each training pair.

A teacher's vote on its own training pairs must not see the pair itself, or the soft target is
the hard label again: the vote here leaves out each pair's nearest memory entry (itself).

    python -m mmkg.guide.training.teacher --checkpoint A [--checkpoint B ...] --train mnre_train.txt --output T.safetensors

The file holds ``log_probs`` (N, labels) in the training split's order and ``row_keys`` (N,), a
64-bit hash of each pair, so that ``mmkg train --teacher`` refuses targets made for other data.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from typing import Dict, Optional, Sequence

import torch

from mmkg.guide.checkpoint import read_config
from mmkg.guide.knn import mix
from mmkg.guide.scorer import Guide
from mmkg.runtime import flags
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.records import EntityPair
from mmkg.schemas.relations import RELATIONS, label_id


def row_key(pair: EntityPair) -> int:
    """A stable 64-bit key of what a training row is: text, both spans and the gold label."""
    s = "\x1f".join(map(str, (pair.text, pair.head.start, pair.head.end, pair.tail.start, pair.tail.end, pair.gold)))
    return int.from_bytes(hashlib.blake2b(s.encode("utf-8"), digest_size=8).digest(), "little", signed=True)


def row_keys(pairs: Sequence[EntityPair]) -> torch.Tensor:
    return torch.tensor([row_key(p) for p in pairs], dtype=torch.int64)


def member_log_probs(checkpoint: str, pairs: Sequence[EntityPair], precision: str = "auto",
                     device: str = "auto") -> torch.Tensor:
    """One guide's log-distribution over each of its own training pairs, with its kNN vote (if it
    has one) leaving each pair's own memory entry out."""
    guide = Guide(checkpoint, device, precision)
    logits, feats = guide.logits_and_features(list(pairs))  # the classifier's, before any vote
    memory, knn = guide.knn, guide.knn_settings
    if memory is None or knn is None:
        return torch.log_softmax(logits.float(), dim=-1)
    if memory.keys.shape[0] != len(pairs):
        raise ValueError(f"{checkpoint}: its kNN memory has {memory.keys.shape[0]} pairs, the training split "
                         f"{len(pairs)}; build the teacher from the split the memory was built from")
    return mix(logits.float(), memory.vote(feats, knn.k, knn.temperature, exclude_self=True), knn.weight)


def build(checkpoints: Sequence[str], pairs: Sequence[EntityPair], precision: str = "auto",
          device: str = "auto") -> torch.Tensor:
    """The members' mean log-distribution (N, labels)."""
    return torch.stack([member_log_probs(c, pairs, precision, device) for c in checkpoints]).mean(0)


def save(path: str, log_probs: torch.Tensor, pairs: Sequence[EntityPair], meta: Dict[str, str]) -> None:
    from safetensors.torch import save_file

    save_file({"log_probs": log_probs.float().contiguous(), "row_keys": row_keys(pairs)}, path, metadata=meta)


def load(path: str, pairs: Sequence[EntityPair]) -> torch.Tensor:
    """The teacher's log-probs for exactly ``pairs`` (a prefix of its split is fine, for
    ``--limit-train``); any other data is refused with the first row that differs."""
    from safetensors.torch import load_file

    t = load_file(path)
    log_probs, keys = t["log_probs"], t["row_keys"]
    if log_probs.shape[1] != len(RELATIONS):
        raise ValueError(f"{path}: {log_probs.shape[1]} labels, the guide has {len(RELATIONS)}")
    if len(pairs) > keys.shape[0]:
        raise ValueError(f"{path}: targets for {keys.shape[0]} training pairs, the split has {len(pairs)}")
    mine = row_keys(pairs)
    bad = (mine != keys[: len(pairs)]).nonzero()
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{path} was made for other training data: row {i + 1} differs "
                         f"({pairs[i].text[:60]!r}); rebuild it with python -m mmkg.guide.training.teacher")
    return log_probs[: len(pairs)]


def agreement(log_probs: torch.Tensor, pairs: Sequence[EntityPair]) -> float:
    """Share of training pairs whose gold label is the teacher's argmax (how soft the targets are)."""
    gold = torch.tensor([label_id(p.gold) for p in pairs])
    return float((log_probs.argmax(-1) == gold).float().mean())


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mmkg.guide.training.teacher", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", action="append", required=True, help="a guide checkpoint (repeat for an ensemble)")
    ap.add_argument("--train", required=True, help="the MNRE training split the student will be trained on")
    ap.add_argument("--output", required=True, help="safetensors file to write")
    flags.add_precision(ap)
    flags.add_device(ap)
    flags.add_threads(ap)
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    pairs = read_mnre(args.train)
    log_probs = build(args.checkpoint, pairs, args.precision, args.device)
    versions = [str(read_config(c).get("version", c)) for c in args.checkpoint]
    save(args.output, log_probs, pairs, {"members": json.dumps(versions), "train": args.train,
                                         "command": "python -m mmkg.guide.training.teacher " + " ".join(argv or sys.argv[1:])})
    print(f"wrote {args.output}: {len(pairs)} pairs, teacher argmax = gold on {100 * agreement(log_probs, pairs):.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
