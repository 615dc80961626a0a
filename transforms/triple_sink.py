"""Triples as Parquet, so results are usable without a graph database, and the confidence cut
that decides which of them reach the graph."""
from __future__ import annotations

import dataclasses
from typing import Dict

import apache_beam as beam

from mmkg.guide.confidence import ConfidenceMap
from mmkg.refiner.gate import GUIDE
from mmkg.schemas.arrow import TRIPLE_SCHEMA, triple_to_row
from mmkg.schemas.records import Triple
from mmkg.transforms import counters

# Chosen on the project's evaluation set for precision >= 0.8 (docs/evaluation.md).
DEFAULT_MIN_CONFIDENCE = 0.7


class WriteTriplesParquet(beam.PTransform):
    """Writes ``<prefix>triples-*.parquet`` with :data:`schemas.arrow.TRIPLE_SCHEMA`."""

    def __init__(self, prefix: str):
        super().__init__()
        self._prefix = prefix

    def expand(self, triples):
        return (
            triples
            | "ToRows" >> beam.Map(triple_to_row)
            | "Write" >> beam.io.WriteToParquet(
                self._prefix + "triples", TRIPLE_SCHEMA, file_name_suffix=".parquet"
            )
        )


class KeepConfident(beam.DoFn):
    """The triples at or above ``min_confidence``; the others are counted (they stay in the
    triples Parquet, so a user can choose another cut without a new run)."""

    def __init__(self, min_confidence: float):
        self._min = min_confidence
        self._below = counters.counter(counters.TRIPLES_BELOW_MIN_CONFIDENCE)

    def process(self, triple: Triple):
        if triple.confidence >= self._min:
            yield triple
        else:
            self._below.inc()


class CalibrateConfidence(beam.DoFn):
    """The guide's confidence as a probability (guide.confidence: the map fitted for this
    checkpoint on the evaluation set). An LLM's decisions keep theirs: the map was fitted on the
    guide's."""

    def __init__(self, maps: Dict[str, ConfidenceMap]):
        self._maps = maps  # by the guide version a triple names

    def process(self, triple: Triple):
        cmap = self._maps.get(triple.guide_version)
        if cmap is not None and triple.decided_by == GUIDE:
            triple = dataclasses.replace(triple, confidence=cmap(triple.confidence))
        yield triple
