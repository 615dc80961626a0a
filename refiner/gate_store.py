"""The calibrated gate's storage, ``gating.json`` next to the guide checkpoint it was calibrated
with (one entry per LLM model, tied to the exact weights by their sha256), and the plan of stage 2
for a run. The checkpoint folder is the caller's; None means the shipped guide."""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.refiner.gate import Gating
from mmkg.refiner.settings import LlmSettings
from mmkg.runtime.checkpoint_files import weights_sha256

_LOG = logging.getLogger("mmkg.refiner")
GATING_FILE = "gating.json"


def weights_digest(checkpoint_dir: Optional[str]) -> str:
    """sha256 of the guide's weights: ties a calibration to the exact guide it was made with."""
    return weights_sha256(checkpoint_dir or DEFAULT_CHECKPOINT)


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
