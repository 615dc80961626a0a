"""Triples as Parquet, so results are usable without a graph database."""
from __future__ import annotations

import apache_beam as beam

from mmkg.schemas.arrow import TRIPLE_SCHEMA, triple_to_row


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
