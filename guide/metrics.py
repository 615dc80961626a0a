"""Relation-extraction metrics as pure functions over label strings.

MNRE papers report micro precision/recall/F1 over the non-None labels: a prediction counts as a
positive when it is not None, as correct when it also equals the gold label; plus accuracy over
all pairs.
"""
from __future__ import annotations

from collections import Counter
from typing import Dict, List, Sequence, Tuple

from mmkg.schemas.relations import NO_RELATION, RELATIONS


def _check(gold: Sequence[str], pred: Sequence[str]) -> None:
    if len(gold) != len(pred):
        raise ValueError(f"gold and pred differ in length: {len(gold)} != {len(pred)}")


def micro_prf(gold: Sequence[str], pred: Sequence[str], none: str = NO_RELATION) -> Dict[str, float]:
    _check(gold, pred)
    tp = sum(1 for g, p in zip(gold, pred) if p != none and p == g)
    n_pred = sum(1 for p in pred if p != none)
    n_gold = sum(1 for g in gold if g != none)
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "predicted": n_pred, "gold": n_gold}


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    _check(gold, pred)
    return sum(1 for g, p in zip(gold, pred) if g == p) / len(gold) if gold else 0.0


def per_relation(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] = RELATIONS) -> List[Dict]:
    """One row per label: support (gold count), predicted count, P/R/F1 of that label."""
    _check(gold, pred)
    rows = []
    for label in labels:
        tp = sum(1 for g, p in zip(gold, pred) if g == p == label)
        n_pred = sum(1 for p in pred if p == label)
        n_gold = sum(1 for g in gold if g == label)
        p_ = tp / n_pred if n_pred else 0.0
        r_ = tp / n_gold if n_gold else 0.0
        rows.append({"label": label, "support": n_gold, "predicted": n_pred, "tp": tp, "precision": p_,
                     "recall": r_, "f1": 2 * p_ * r_ / (p_ + r_) if p_ + r_ else 0.0})
    return rows


def confusion_summary(gold: Sequence[str], pred: Sequence[str], top: int = 10, none: str = NO_RELATION) -> Dict:
    """Where the errors go: relation missed (pred None), spurious (gold None), wrong relation, and
    the most frequent (gold, pred) confusions."""
    _check(gold, pred)
    errors = Counter((g, p) for g, p in zip(gold, pred) if g != p)
    missed = sum(n for (g, p), n in errors.items() if p == none)
    spurious = sum(n for (g, p), n in errors.items() if g == none)
    return {
        "errors": sum(errors.values()),
        "missed": missed,
        "spurious": spurious,
        "wrong_relation": sum(errors.values()) - missed - spurious,
        "top": [{"gold": g, "pred": p, "count": n} for (g, p), n in errors.most_common(top)],
    }


def summary(gold: Sequence[str], pred: Sequence[str]) -> Dict:
    out = micro_prf(gold, pred)
    out["accuracy"] = accuracy(gold, pred)
    out["n"] = len(gold)
    return out


def format_table(rows: List[Dict]) -> str:
    lines = [f"{'relation':<30} {'support':>7} {'pred':>6} {'P':>6} {'R':>6} {'F1':>6}"]
    for r in rows:
        lines.append(f"{r['label']:<30} {r['support']:>7} {r['predicted']:>6} {100 * r['precision']:>6.1f} "
                     f"{100 * r['recall']:>6.1f} {100 * r['f1']:>6.1f}")
    return "\n".join(lines)


def best_global_offset(logits, gold_ids, grid: Tuple[float, float, float] = (-3.0, 3.0, 0.1)) -> Tuple[float, float]:
    """The single decision offset (added to the threshold of every relation) that maximises micro-F1
    on the given logits: (offset, f1). Ties go to the offset closest to 0."""
    # Deferred: the metrics serve evaluation and calibration, which need no torch but for this.
    import torch

    from mmkg.guide.ftl import decide

    lo, hi, step = grid
    best = (0.0, -1.0)
    n = int(round((hi - lo) / step))
    gold = [RELATIONS[i] for i in gold_ids]
    for k in range(n + 1):
        off = round(lo + k * step, 6)
        offsets = torch.full((logits.shape[1],), off)
        offsets[0] = 0.0
        pred = [RELATIONS[i] for i in decide(logits, offsets).tolist()]
        f1 = micro_prf(gold, pred)["f1"]
        if f1 > best[1] + 1e-12 or (abs(f1 - best[1]) <= 1e-12 and abs(off) < abs(best[0])):
            best = (off, f1)
    return best
