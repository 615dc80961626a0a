"""Dead letters: counting them by kind and writing them as JSON Lines next to the results."""
from __future__ import annotations

import json
import re

import apache_beam as beam

from mmkg.schemas.records import DeadLetter
from mmkg.transforms import counters


def reason_kind(reason: str) -> str:
    """The reason without its particulars: ``entity 3: span [0, 4) ...`` -> ``entity N: span``.

    Used as a metric name, so that a run's summary counts dead letters by kind.
    """
    kind = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", reason)
    kind = re.sub(r"\d+", "N", kind)
    head, sep, rest = kind.partition(":")
    if sep and rest.strip():
        # Keep the first words after the colon when the prefix alone is only "entity N".
        first = rest.strip().split(" ")[0]
        kind = f"{head}: {first}" if head.startswith(("entity", "pair", "'")) else head
    return kind.split(" (")[0].strip()[:80]


def count_dead_letter(dead: DeadLetter) -> None:
    counters.counter(counters.DEAD_LETTERS).inc()
    counters.counter(f"{counters.DEAD_LETTER_KIND}{dead.stage}:{reason_kind(dead.reason)}").inc()


def dead_letter_json(dead: DeadLetter) -> str:
    return json.dumps(dead.to_dict(), ensure_ascii=False, sort_keys=True)


class WriteDeadLetters(beam.PTransform):
    """Writes dead letters to ``<prefix>dead_letters-*.jsonl``, one JSON object a line."""

    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def expand(self, dead_letters):
        return (
            dead_letters
            | "ToJson" >> beam.Map(dead_letter_json)
            | "Write" >> beam.io.WriteToText(
                self._prefix + "dead_letters", file_name_suffix=".jsonl", shard_name_template="-SSSSS-of-NNNNN"
            )
        )
