"""Confidence that is a probability: the guide's probability of the label it decides, mapped by
Platt scaling (``sigmoid(a * logit(p) + b)``) fitted on the project's evaluation set, where each
triple of a run is known right or wrong (docs/evaluation.md).

The guide's softmax is sure of itself on pairs it never learned about (two unrelated entities of
a raw post): on the evaluation set its triples at p >= 0.8 were right 40 % of the time. Two
parameters, because a few hundred judged triples do not support more (isotonic or per-label maps
overfit them). The map lives beside the checkpoint it was fitted for, in ``confidence.json`` with
the weights' sha256, like the refiner's gate; torch-free, so a run reads it while building.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.runtime.checkpoint_files import CONFIG
from mmkg.runtime.checkpoint_files import weights_sha256 as checkpoint_weights_sha256

CONFIDENCE_FILE = "confidence.json"
_EPS = 1e-6


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _logit(p: float) -> float:
    p = min(1 - _EPS, max(_EPS, p))
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class ConfidenceMap:
    """``a = 1, b = 0`` is the identity (no calibration)."""

    a: float = 1.0
    b: float = 0.0
    fitted_on: str = ""
    triples: int = 0
    guide_weights_sha256: str = ""

    def __call__(self, p: float) -> float:
        return _sigmoid(self.a * _logit(p) + self.b)

    def then(self, a: float, b: float) -> "ConfidenceMap":
        """This map followed by another Platt map on its output: one map again."""
        return ConfidenceMap(a * self.a, a * self.b + b)


IDENTITY = ConfidenceMap()


def fit_platt(probs: Sequence[float], correct: Sequence[bool], l2: float = 1e-3) -> Tuple[float, float]:
    """(a, b) of the logistic regression of ``correct`` on logit(``probs``) (scipy's L-BFGS on the
    log-loss, with a small ridge so that a separable sample still gives finite values)."""
    import numpy as np
    from scipy.optimize import minimize

    z = np.array([_logit(p) for p in probs])
    y = np.array([1.0 if c else 0.0 for c in correct])

    def loss(w):
        s = w[0] * z + w[1]
        # log(1 + e^s) - y s, computed stably; its gradient is (sigmoid(s) - y) [z, 1].
        value = np.logaddexp(0.0, s).sum() - (y * s).sum() + 0.5 * l2 * w[0] ** 2
        r = 1.0 / (1.0 + np.exp(-s)) - y
        return value, np.array([(r * z).sum() + l2 * w[0], r.sum()])

    w = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B").x
    return float(w[0]), float(w[1])


def reliability(probs: Sequence[float], correct: Sequence[bool], bins: int = 5) -> List[Dict[str, float]]:
    """Equal-width bins of the stated confidence: count, mean confidence, share correct."""
    rows = []
    for k in range(bins):
        lo, hi = k / bins, (k + 1) / bins
        idx = [i for i, p in enumerate(probs) if lo <= p < hi or (k == bins - 1 and p == 1.0)]
        if idx:
            rows.append({"from": lo, "to": hi, "n": len(idx), "confidence": sum(probs[i] for i in idx) / len(idx),
                         "correct": sum(bool(correct[i]) for i in idx) / len(idx)})
    return rows


def expected_calibration_error(probs: Sequence[float], correct: Sequence[bool], bins: int = 5) -> float:
    n = len(probs)
    return sum(r["n"] / n * abs(r["confidence"] - r["correct"]) for r in reliability(probs, correct, bins)) if n else 0.0


def weights_sha256(checkpoint_dir: Optional[str]) -> str:
    return checkpoint_weights_sha256(checkpoint_dir or DEFAULT_CHECKPOINT)


def load_map(checkpoint_dir: Optional[str]) -> ConfidenceMap:
    """The checkpoint's map; the identity when it has none, or when the map was fitted for other
    weights (a map is only right for the model it was fitted on)."""
    path = os.path.join(checkpoint_dir or DEFAULT_CHECKPOINT, CONFIDENCE_FILE)
    if not os.path.exists(path):
        return IDENTITY
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    cmap = ConfidenceMap(**{k: d[k] for k in ("a", "b", "fitted_on", "triples", "guide_weights_sha256") if k in d})
    if cmap.guide_weights_sha256 and cmap.guide_weights_sha256 != weights_sha256(checkpoint_dir):
        return IDENTITY
    return cmap


def confidence_maps(checkpoint_dirs) -> Dict[str, ConfidenceMap]:
    """Model version -> its map, for the checkpoints that have one (a triple names the version of
    the guide that scored it)."""
    out = {}
    for d in checkpoint_dirs:
        cmap = load_map(d)
        if cmap != IDENTITY:
            with open(os.path.join(d, CONFIG), encoding="utf-8") as f:
                out[json.load(f).get("version") or ""] = cmap
    return out


def save_map(checkpoint_dir: Optional[str], cmap: ConfidenceMap, report: Optional[dict] = None) -> str:
    path = os.path.join(checkpoint_dir or DEFAULT_CHECKPOINT, CONFIDENCE_FILE)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({**asdict(cmap), "report": report or {}}, f, indent=2, sort_keys=True)
        f.write("\n")
    return path
