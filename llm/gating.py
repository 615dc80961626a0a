"""When to ask the LLM, and whether to take its answer: pure functions over the guide's scores.

The thresholds are chosen on a validation split by ``mmkg calibrate`` (pipeline/calibrate.py) and
kept next to the guide checkpoint in ``gating.json``, one entry per LLM model, because how far a
model can be trusted depends on the model.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from mmkg.llm.settings import LlmSettings
from mmkg.schemas.records import RelationScores
from mmkg.schemas.relations import NO_RELATION

_LOG = logging.getLogger("mmkg.llm")
GATING_FILE = "gating.json"

GUIDE = "guide"
LLM = "llm"
FALLBACK = "guide-fallback"


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


# --- storage next to the checkpoint -------------------------------------------------------------


# Same place as models.checkpoint.DEFAULT_CHECKPOINT, without importing torch for it.
DEFAULT_CHECKPOINT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "models", "checkpoints", "guide-default"
)


def weights_digest(checkpoint_dir: Optional[str]) -> str:
    """sha256 of the checkpoint's weights file ("" when absent): ties a calibration to the exact
    guide it was made with."""
    import hashlib

    path = os.path.join(checkpoint_dir or DEFAULT_CHECKPOINT, "weights.safetensors")
    if not os.path.exists(path):
        return ""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def gating_path(checkpoint_dir: Optional[str]) -> str:
    return os.path.join(checkpoint_dir or DEFAULT_CHECKPOINT, GATING_FILE)


def load_gating(checkpoint_dir: Optional[str], llm_model: Optional[str]) -> Gating:
    """The calibrated thresholds for ``llm_model``; the built-in default (with a warning) when the
    checkpoint has none for it."""
    entries: Dict[str, Any] = {}
    checkpoint_dir = checkpoint_dir or DEFAULT_CHECKPOINT
    if os.path.exists(gating_path(checkpoint_dir)):
        with open(gating_path(checkpoint_dir), encoding="utf-8") as f:
            entries = json.load(f).get("models", {})
    entry = entries.get(llm_model or "")
    if entry is None:
        _LOG.warning(
            "no calibrated gating for LLM model %r in %s; using %s. Run `mmkg calibrate` for it.",
            llm_model, checkpoint_dir, Gating(),
        )
        return Gating(llm_model=llm_model or "")
    calibrated_for = (entry.get("calibration") or {}).get("guide_weights_sha256")
    if calibrated_for and calibrated_for != weights_digest(checkpoint_dir):
        _LOG.warning(
            "gating for %r was calibrated with other guide weights than those in %s; "
            "re-run `mmkg calibrate` for this checkpoint", llm_model, checkpoint_dir,
        )
    fields = {f.name for f in dataclasses.fields(Gating)}
    return Gating(**{k: v for k, v in entry.items() if k in fields})


def save_gating(checkpoint_dir: Optional[str], gating: Gating, report: Optional[Dict[str, Any]] = None) -> str:
    """Adds or replaces the entry for ``gating.llm_model``, keeping other models' entries."""
    path = gating_path(checkpoint_dir)
    data: Dict[str, Any] = {"models": {}}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    entry = gating.to_dict()
    if report:
        entry["calibration"] = report
    data.setdefault("models", {})[gating.llm_model] = entry
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


# --- what stage 2 does in a run -----------------------------------------------------------------


@dataclass(frozen=True)
class Stage2:
    """Stage 2 of a run, decided once by :func:`plan_stage2` before any server starts: ``llm``
    None means the guide decides every pair, for ``off_reason``."""

    llm: Optional[LlmSettings] = None
    gating: Optional[Gating] = None
    off_reason: str = "llm off"


def plan_stage2(llm: Optional[LlmSettings], checkpoint_dir: Optional[str], gating: Optional[Gating] = None) -> Stage2:
    """The gate calibrated for ``llm``'s model in ``checkpoint_dir`` (or ``gating``); a gate that
    never opens turns the LLM off, so that no server is started for it and no pair waits on it."""
    if llm is None:
        return Stage2()
    gating = gating or load_gating(checkpoint_dir, llm.expected_model)
    if gating.never:
        _LOG.info("the calibrated gate for %s is closed (%s): the guide decides every pair, no LLM is "
                  "started or asked", llm.expected_model, gating.source)
        return Stage2(off_reason=f"llm gate closed for {gating.llm_model or 'the embedded model'}")
    return Stage2(llm, gating)
