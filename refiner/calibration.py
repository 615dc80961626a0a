"""Choosing the gate and the acceptance policy on a validation split.

Every threshold combination is scored from one set of LLM answers: the pairs that any admissible
gate would send are asked once (cached), then each (gate, policy) is replayed offline. Gates that
send more than ``max_share`` of the pairs are not admissible. The closed gate (never ask, i.e.
guide-only) is always a candidate, so the choice can only match or beat the guide on this split;
a two-fold estimate (choose on one half, score on the other) shows how much of the gain holds on
pairs the choice did not see.
"""
from __future__ import annotations

import itertools
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmkg.refiner.client import LlmOutcome
from mmkg.refiner.evaluation import decide_all, gold_labels, micro_f1
from mmkg.refiner.gate import NEVER, Gating, should_ask, top_two
from mmkg.schemas.records import RelationScores

GATE_TOP1 = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
GATE_MARGIN = (0.0, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
ACCEPT_MIN_PROB = (0.0, 0.05, 0.1, 0.2, 0.3)
ACCEPT_NONE = (True, False)


def gates() -> List[Tuple[float, float]]:
    return [(t, m) for t, m in itertools.product(GATE_TOP1, GATE_MARGIN) if t > 0 or m > 0]


def policies() -> List[Tuple[float, bool]]:
    return list(itertools.product(ACCEPT_MIN_PROB, ACCEPT_NONE))


def gated(scores: Sequence[RelationScores], t: float, m: float) -> List[int]:
    g = Gating(gate_top1=t, gate_margin=m)
    return [i for i, s in enumerate(scores) if should_ask(s, g)]


def pairs_to_ask(scores: Sequence[RelationScores], max_share: float, cap: Optional[int] = None) -> List[int]:
    """Indices any admissible gate sends, most uncertain (smallest margin) first, at most ``cap``."""
    n = len(scores)
    union = set()
    for t, m in gates():
        idx = gated(scores, t, m)
        if len(idx) <= max_share * n:
            union.update(idx)

    def margin(i: int) -> float:
        p1, p2 = top_two(scores[i])
        return p1 - p2

    ordered = sorted(union, key=lambda i: (margin(i), i))
    return ordered[:cap] if cap is not None else ordered


def search(
    scores: Sequence[RelationScores],
    outcomes: Dict[int, LlmOutcome],
    max_share: float,
    subset: Optional[Sequence[int]] = None,
    min_gain: float = 0.0,
) -> Tuple[Gating, Dict[str, Any]]:
    """Best (gate, policy) by micro-F1 on ``subset`` (default all); ties go to fewer LLM pairs.
    Gates whose pairs were not all asked are skipped. Returns NEVER when nothing beats the guide
    by more than ``min_gain``."""
    idx = list(subset) if subset is not None else list(range(len(scores)))
    sub = [scores[i] for i in idx]
    sub_out = {j: outcomes[i] for j, i in enumerate(idx) if i in outcomes}
    golds = gold_labels(sub)
    guide_f1 = micro_f1(golds, [s.decision or "None" for s in sub])["f1"]
    best: Tuple[float, int, Gating] = (guide_f1, 0, NEVER)
    n = len(sub)
    for t, m in gates():
        g_idx = [j for j, s in enumerate(sub) if should_ask(s, Gating(gate_top1=t, gate_margin=m))]
        if len(g_idx) > max_share * n or any(j not in sub_out for j in g_idx):
            continue
        for p_min, a_none in policies():
            gating = Gating(t, m, p_min, a_none)
            f1 = micro_f1(golds, [d.label for d in decide_all(sub, gating, sub_out)])["f1"]
            if f1 > best[0] + 1e-12 and f1 > guide_f1 + min_gain or (
                abs(f1 - best[0]) <= 1e-12 and best[2] is not NEVER and len(g_idx) < best[1]
            ):
                best = (f1, len(g_idx), gating)
    f1, sent, gating = best
    return gating, {"guide_f1": guide_f1, "f1": f1, "sent": sent, "pairs": n}


def two_fold(
    scores: Sequence[RelationScores], outcomes: Dict[int, LlmOutcome], max_share: float, min_gain: float = 0.0
) -> Dict[str, Any]:
    """Choose on even-numbered pairs, score on odd ones, and the reverse: the held-out gain."""
    halves = [list(range(0, len(scores), 2)), list(range(1, len(scores), 2))]
    folds = []
    for a, b in ((0, 1), (1, 0)):
        chosen, _ = search(scores, outcomes, max_share, halves[a], min_gain)
        held = [scores[i] for i in halves[b]]
        held_out = {j: outcomes[i] for j, i in enumerate(halves[b]) if i in outcomes}
        golds = gold_labels(held)
        guide = micro_f1(golds, [s.decision or "None" for s in held])["f1"]
        both = micro_f1(golds, [d.label for d in decide_all(held, chosen, held_out)])["f1"]
        folds.append({"gate": chosen.to_dict(), "guide_f1": guide, "guide_llm_f1": both})
    gain = sum(f["guide_llm_f1"] - f["guide_f1"] for f in folds) / 2
    return {"folds": folds, "mean_heldout_gain": gain}


def choose(
    scores: Sequence[RelationScores],
    outcomes: Dict[int, LlmOutcome],
    max_share: float,
    min_gain: float = 0.0,
    require_heldout_gain: bool = True,
) -> Tuple[Gating, Dict[str, Any]]:
    """The gate to ship: the best on the whole split, kept closed unless its gain also holds out
    of sample (two-fold mean gain > 0) — a gain found by searching 560 combinations on the same
    pairs is otherwise likely noise."""
    gating, best = search(scores, outcomes, max_share, min_gain=min_gain)
    folds = two_fold(scores, outcomes, max_share, min_gain)
    info = {"search": best, "two_fold": folds, "why": "best on the split"}
    if gating.never:
        info["why"] = "nothing beat the guide on the split"
    elif require_heldout_gain and folds["mean_heldout_gain"] <= 0:
        info["why"] = f"gain on the split did not hold out (two-fold {folds['mean_heldout_gain']:+.4f})"
        info["rejected"] = {k: v for k, v in gating.to_dict().items() if k not in ("llm_model", "source")}
        gating = NEVER
    return gating, info
