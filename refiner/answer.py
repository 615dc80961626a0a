"""Validation of the LLM's reply. Anything that is not exactly one of the allowed labels is no
answer: the caller falls back to the guide and records why."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Optional, Sequence

# Fault kinds found in the reply itself (transport faults are named in refiner.client).
EMPTY = "empty_answer"
INVALID_JSON = "invalid_json"
OFF_CANDIDATE = "off_candidate"

_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)
MAX_ANSWER_CHARS = 2000


@dataclass(frozen=True)
class ParsedAnswer:
    label: Optional[str]  # one of the allowed labels, or None when the reply is unusable
    fault: Optional[str] = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.label is not None


def _short(s: str, n: int = 80) -> str:
    s = " ".join(s.split())
    return s if len(s) <= n else s[: n - 3] + "..."


def parse_answer(content: Optional[str], allowed: Sequence[str]) -> ParsedAnswer:
    """``content`` should be ``{"relation": "<label>"}``; a bare label (servers without JSON
    mode) is accepted too. Matching is exact up to surrounding whitespace and letter case; no
    substring search, so a reply that merely mentions a label is not an answer."""
    if content is None or not content.strip():
        return ParsedAnswer(None, EMPTY, "empty reply")
    text = content.strip()
    if len(text) > MAX_ANSWER_CHARS:
        return ParsedAnswer(None, INVALID_JSON, f"reply of {len(text)} chars")
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    by_key = {label.lower(): label for label in allowed}
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except json.JSONDecodeError:
            return ParsedAnswer(None, INVALID_JSON, f"not JSON: {_short(text)!r}")
        if not isinstance(obj, dict) or set(obj) != {"relation"}:
            return ParsedAnswer(None, INVALID_JSON, f"unexpected object: {_short(text)!r}")
        value = obj["relation"]
        if not isinstance(value, str):
            return ParsedAnswer(None, INVALID_JSON, f"relation is {type(value).__name__}")
    else:
        value = text.strip('"').strip("'")
    label = by_key.get(value.strip().lower())
    if label is None:
        return ParsedAnswer(None, OFF_CANDIDATE, f"answered {_short(value, 60)!r}, not a candidate")
    return ParsedAnswer(label)
