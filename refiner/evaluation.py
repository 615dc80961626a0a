"""The LLM branch of ``mmkg evaluate`` and the pieces calibration shares with it: ask the LLM
about the gated pairs of a split (through the same Refiner, cache and acceptance policy as the
pipeline), and score guide-only against guide+LLM with MNRE's micro-F1."""
from __future__ import annotations

import collections
import logging
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from mmkg.guide.metrics import micro_prf
from mmkg.refiner.client import LlmOutcome, Refiner
from mmkg.refiner.gate import Decision, Gating, accept, guide_decision, should_ask, uncertainty
from mmkg.refiner.gate_store import load_gating
from mmkg.refiner.local_server import serving
from mmkg.refiner.settings import LlmSettings
from mmkg.schemas.records import RelationScores
from mmkg.schemas.relations import NO_RELATION

_LOG = logging.getLogger("mmkg.refiner")


def micro_f1(golds: Sequence[str], preds: Sequence[str]) -> Dict[str, float]:
    """MNRE's micro P/R/F1 (None is the negative class), as the guide's evaluation reports it."""
    return micro_prf(golds, preds)


def gold_labels(scores: Sequence[RelationScores]) -> List[str]:
    return [s.pair.gold or NO_RELATION for s in scores]


def ask_all(
    scores: Sequence[RelationScores],
    settings: LlmSettings,
    top_k: Optional[int] = None,
    chunk: int = 32,
    progress: bool = False,
) -> List[LlmOutcome]:
    """LLM outcomes for ``scores`` in order (cached answers are reused)."""
    out: List[LlmOutcome] = []
    start = time.monotonic()
    with Refiner(settings, top_k) as refiner:
        for i in range(0, len(scores), chunk):
            out.extend(refiner.ask_many(scores[i : i + chunk]))
            if progress:
                done = len(out)
                rate = done / max(1e-9, time.monotonic() - start)
                print(f"  llm: {done}/{len(scores)} pairs ({rate:.2f}/s)", file=sys.stderr, flush=True)
    return out


def decide_all(
    scores: Sequence[RelationScores], gating: Gating, outcomes: Dict[int, LlmOutcome]
) -> List[Decision]:
    """Final decisions: pairs the gate sends and that have an outcome go through the acceptance
    policy, the rest keep the guide's decision."""
    out = []
    for i, s in enumerate(scores):
        o = outcomes.get(i)
        if o is not None and not gating.never and should_ask(s, gating):
            out.append(accept(s, o.label, o.fault, o.detail, gating))
        else:
            out.append(guide_decision(s, f"guide confident ({uncertainty(s)})"))
    return out


def report_for(
    scores: Sequence[RelationScores],
    gating: Gating,
    outcomes: Dict[int, LlmOutcome],
    seconds: float = 0.0,
) -> Dict[str, Any]:
    golds = gold_labels(scores)
    guide = micro_f1(golds, [s.decision or NO_RELATION for s in scores])
    decisions = decide_all(scores, gating, outcomes)
    both = micro_f1(golds, [d.label for d in decisions])
    sent = [i for i, s in enumerate(scores) if not gating.never and should_ask(s, gating)]
    used = [outcomes[i] for i in sent if i in outcomes]
    faults = collections.Counter(o.fault for o in used if o.fault)
    n = len(scores)
    return {
        "pairs": n,
        "guide": guide,
        "guide_llm": both,
        "sent_to_llm": len(sent),
        "share_sent": len(sent) / n if n else 0.0,
        "calls": sum(o.called for o in used),
        "cache_hits": sum(o.cache_hit for o in used),
        "prompt_tokens_spent": sum(o.prompt_tokens for o in used if o.called),
        "completion_tokens_spent": sum(o.completion_tokens for o in used if o.called),
        "prompt_tokens_per_llm_pair": _mean([o.prompt_tokens for o in used]),
        "completion_tokens_per_llm_pair": _mean([o.completion_tokens for o in used]),
        "faults": dict(faults),
        "decided_by": dict(collections.Counter(d.decided_by for d in decisions)),
        "llm_changed": sum(1 for s, d in zip(scores, decisions) if d.label != (s.decision or NO_RELATION)),
        "seconds": seconds,
        "gating": gating.to_dict(),
    }


def _mean(xs: Sequence[int]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def evaluate_with_llm(
    scores: Sequence[RelationScores],
    settings: LlmSettings,
    checkpoint: Optional[str] = None,
    top_k: Optional[int] = None,
    gating: Optional[Gating] = None,
    progress: bool = True,
) -> Dict[str, Any]:
    """Guide-only vs guide+LLM on ``scores`` (the guide's predictions for a split, gold in
    ``pair.gold``). Starts the embedded server when ``settings`` name no endpoint and the gate
    sends any pair. The gate is the one calibrated for the model in ``checkpoint`` unless given."""
    gating = gating or load_gating(checkpoint, settings.expected_model)
    todo = [i for i, s in enumerate(scores) if not gating.never and should_ask(s, gating)]
    model, where = settings.expected_model, "embedded" if settings.needs_local_server else settings.base_url
    asked: List[LlmOutcome] = []
    start = time.monotonic()
    if todo:  # a closed gate needs no server
        with serving(settings) as resolved:
            asked = ask_all([scores[i] for i in todo], resolved, top_k, progress=progress)
    seconds = time.monotonic() - start
    report = report_for(scores, gating, dict(zip(todo, asked)), seconds)
    report["llm_model"] = model
    report["llm_base_url"] = where
    return report


def format_llm_report(report: Dict[str, Any]) -> str:
    g, b = report["guide"], report["guide_llm"]
    gate = report["gating"]
    lines = [
        f"LLM refiner: {report.get('llm_model', '')} ({report.get('llm_base_url', '')})",
        f"  gate: top1 < {gate['gate_top1']:.2f} or margin < {gate['gate_margin']:.2f}; "
        f"accept if guide p >= {gate['accept_min_prob']:.2f}, None answers {'accepted' if gate['accept_none'] else 'rejected'}"
        f"  [{gate['source']}]",
        f"  {'':<12}{'P':>8}{'R':>8}{'F1':>8}",
        f"  {'guide':<12}{g['precision']:>8.4f}{g['recall']:>8.4f}{g['f1']:>8.4f}",
        f"  {'guide+LLM':<12}{b['precision']:>8.4f}{b['recall']:>8.4f}{b['f1']:>8.4f}",
        f"  pairs {report['pairs']}, sent to LLM {report['sent_to_llm']} ({100 * report['share_sent']:.1f}%), "
        f"decisions changed {report['llm_changed']}",
        f"  calls {report['calls']}, cache hits {report['cache_hits']}, tokens spent: prompt "
        f"{report['prompt_tokens_spent']}, completion {report['completion_tokens_spent']}; per LLM pair "
        f"{report['prompt_tokens_per_llm_pair']:.0f} + {report['completion_tokens_per_llm_pair']:.1f}",
        f"  decided by {report['decided_by']}, faults {report['faults'] or 'none'}, "
        f"LLM time {report['seconds']:.1f}s",
    ]
    return "\n".join(lines)
