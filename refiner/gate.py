"""When to ask the LLM, and whether to take its answer: pure functions over the guide's scores.

The thresholds are chosen on a validation split by ``mmkg calibrate`` and kept next to the guide
checkpoint (refiner.gate_store), one entry per LLM model, because how far a model can be trusted
depends on the model.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from mmkg.schemas.records import DECIDED_BY, RelationScores
from mmkg.schemas.relations import NO_RELATION

_LOG = logging.getLogger("mmkg.refiner")
GATING_FILE = "gating.json"

# Who decided a triple (``Triple.decided_by``): declared with the record.
GUIDE, LLM, FALLBACK, GAZETTEER = DECIDED_BY


@dataclass(frozen=True)
class Gating:
    """A pair goes to the LLM when the guide's top-1 probability is below ``gate_top1`` or its
    margin over the runner-up is below ``gate_margin`` (0 and 0: never). The LLM's answer is taken
    when the guide gave that label at least ``accept_min_prob``; an answer of None (dropping the
    guide's relation) only when ``accept_none``."""

    gate_top1: float = 0.5
    gate_margin: float = 0.1
    accept_min_prob: float = 0.0
    accept_none: bool = True
    llm_model: str = ""
    source: str = "built-in default (not calibrated)"

    @property
    def never(self) -> bool:
        return self.gate_top1 <= 0.0 and self.gate_margin <= 0.0

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


NEVER = Gating(0.0, 0.0, 1.0, False, source="LLM disabled")


@dataclass(frozen=True)
class Decision:
    label: str
    confidence: float
    decided_by: str
    reason: str


def top_two(scores: RelationScores) -> Tuple[float, float]:
    probs = sorted((p for _, p in scores.candidates), reverse=True)
    if not probs:
        probs = sorted(scores.probs, reverse=True)
    p1 = probs[0] if probs else 0.0
    p2 = probs[1] if len(probs) > 1 else 0.0
    return float(p1), float(p2)


def guide_label(scores: RelationScores) -> str:
    return scores.decision or NO_RELATION


def label_prob(scores: RelationScores, label: str) -> float:
    for lbl, p in scores.candidates:
        if lbl == label:
            return float(p)
    for lbl, p in zip(scores.labels, scores.probs):
        if lbl == label:
            return float(p)
    return 0.0


def uncertainty(scores: RelationScores) -> str:
    p1, p2 = top_two(scores)
    return f"top1={p1:.2f} margin={p1 - p2:.2f}"


def should_ask(scores: RelationScores, gating: Gating) -> bool:
    p1, p2 = top_two(scores)
    return p1 < gating.gate_top1 or (p1 - p2) < gating.gate_margin


def guide_decision(scores: RelationScores, why: str, decided_by: str = GUIDE) -> Decision:
    label = guide_label(scores)
    return Decision(label, float(scores.confidence), decided_by, why)


def accept(scores: RelationScores, llm_label: Optional[str], fault: Optional[str], detail: str, gating: Gating) -> Decision:
    """The final decision for a pair that was sent to the LLM."""
    g = guide_label(scores)
    if llm_label is None:
        return guide_decision(scores, f"llm_fault:{fault or 'unknown'}: {detail}".rstrip(": "), FALLBACK)
    p = label_prob(scores, llm_label)
    if llm_label == g:
        return Decision(g, max(p, float(scores.confidence)), LLM, f"llm agreed with guide ({uncertainty(scores)})")
    if llm_label == NO_RELATION and not gating.accept_none:
        return guide_decision(scores, f"llm said None, policy keeps guide's {g} ({uncertainty(scores)})", FALLBACK)
    if p < gating.accept_min_prob:
        return guide_decision(
            scores, f"llm said {llm_label} (guide p={p:.2f} < {gating.accept_min_prob:.2f}), policy keeps guide's {g}", FALLBACK
        )
    return Decision(llm_label, p, LLM, f"llm chose {llm_label} over guide's {g} ({uncertainty(scores)})")
