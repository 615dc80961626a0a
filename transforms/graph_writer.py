"""WriteGraph: posts and triples into the knowledge graph over Bolt, in batches.

Rows are grouped into batches of up to ``batch_size`` with BatchElements, applied to each batch
kind apart, so that a batch holds posts, or triples of one relation label
(:func:`kg.rows.batch_key`). Each batch is
written in one managed write transaction: one ``UNWIND $rows ... MERGE`` statement per kind of
row, and for triples one for their relation type (see :mod:`kg.statements`). Each worker holds one
driver, opened in ``setup`` and closed in ``teardown``. Constraints are created by a one-element
step that the writer takes as a side input, so no batch is written before they exist.

A write that still fails after the driver's retries fails the pipeline: the writes are
idempotent, so the fix is to run it again. Triples the graph must refuse (a label outside the
closed set, an unknown entity type) become dead letters.
"""
from __future__ import annotations

from typing import Optional

import apache_beam as beam

from mmkg.kg.rows import ENTITY, POST, InvalidTriple, batch_key, post_row, triple_row
from mmkg.kg.schema import ensure_schema_at
from mmkg.kg.settings import GraphSettings
from mmkg.kg.statements import RELATION_STATEMENTS, RELATION_TYPES
from mmkg.kg.writer import apply_redirects, write_rows
from mmkg.resolve.records import Identities
from mmkg.schemas.records import DeadLetter, Triple
from mmkg.transforms import counters

DEAD = "dead_letters"
STAGE = "graph"


def identity_of(resolution):
    """A name's (entity key, canonical name) in a :class:`resolve.records.Resolution` or its
    ``Identities`` (None: a name resolution does not know; the writer then keeps the exact key)."""
    if resolution is None:
        return None

    def identity(name: str, etype: str, post_id: str):
        key = resolution.key_of(name, etype, post_id)
        if key is None:
            return None
        return key, resolution.name_of(key)

    return identity


def _post_row(post, resolution=None):
    return post_row(post, identity_of(resolution))


class _TripleRows(beam.DoFn):
    """Triple -> graph row; refused triples to the dead-letter output."""

    def __init__(self) -> None:
        self._rejected = counters.counter(counters.GRAPH_TRIPLES_REJECTED)

    def process(self, triple: Triple, resolution=None):
        try:
            yield triple_row(triple, identity_of(resolution))
        except InvalidTriple as e:
            self._rejected.inc()
            yield beam.pvalue.TaggedOutput(
                DEAD,
                DeadLetter(
                    stage=STAGE,
                    reason=str(e),
                    input=f"{triple.head!r} {triple.relation!r} {triple.tail!r}"[:500],
                    source=triple.post_id or "",
                    post_id=triple.post_id or None,
                ),
            )


BATCH_KINDS = (POST, ENTITY, *RELATION_STATEMENTS)
_KIND_INDEX = {kind: i for i, kind in enumerate(BATCH_KINDS)}


def _kind_index(row, n: int) -> int:
    return _KIND_INDEX[batch_key(row)]


def _step_name(kind: str) -> str:
    return kind.upper() if kind in (POST, ENTITY) else RELATION_TYPES[kind]


def _ensure_schema_once(_, settings: GraphSettings) -> bool:
    ensure_schema_at(settings)
    return True


class _WriteBatch(beam.DoFn):
    """Writes one batch of graph rows per call; one driver per DoFn instance."""

    def __init__(self, settings: GraphSettings) -> None:
        self._settings = settings
        self._driver = None
        self._rows = counters.counter(counters.GRAPH_ROWS_WRITTEN)
        self._posts = counters.counter(counters.GRAPH_POSTS_WRITTEN)
        self._triples = counters.counter(counters.GRAPH_TRIPLES_WRITTEN)
        self._batches = counters.counter(counters.GRAPH_BATCHES)

    def setup(self) -> None:
        self._driver = self._settings.driver()

    def process(self, batch, schema_ready: bool):
        counts = write_rows(self._driver, batch, self._settings.database)
        self._rows.inc(counts["rows"])
        self._posts.inc(counts["posts"])
        self._triples.inc(counts["triples"])
        self._batches.inc()
        yield counts["rows"]

    def teardown(self) -> None:
        if self._driver is not None:
            self._driver.close()
            self._driver = None


class _Redirect(beam.DoFn):
    """After every batch is written: names split off an entity take their posts to their new one,
    and entities that resolution merged into others are folded in."""

    def __init__(self, settings: GraphSettings) -> None:
        self._settings = settings
        self._moved = counters.counter("graph_entities_redirected")

    def process(self, resolution, written: int):
        if not resolution.redirects and not resolution.moves:
            return
        driver = self._settings.driver()
        try:
            self._moved.inc(apply_redirects(driver, resolution.redirects, self._settings.database,
                                            resolution.moves, read=resolution.read))
        finally:
            driver.close()


DEFAULT_BATCH_SIZE = 1000  # rows per transaction


class WriteGraph(beam.PTransform):
    """``{"posts": PCollection[Post], "triples": PCollection[Triple]} | WriteGraph(settings)``.

    Either key may be missing. Returns ``{"dead_letters": PCollection[DeadLetter]}``.

    With entity resolution, also ``"resolution"`` (a PCollection of one
    :class:`resolve.records.Resolution`, from transforms.resolve.ResolveEntities): names are
    written under their entity's key and canonical name; and ``"entities"`` (graph rows of the
    entities resolution made or changed, ``kg.rows.entity_row``: every alias, the decisions).
    Entities the resolution redirects are folded into their new one once everything is written,
    unless another run has rewritten one since this run read it (``Resolution.read``;
    kg.writer.GraphChangedError).
    """

    def __init__(self, settings: GraphSettings, batch_size: int = DEFAULT_BATCH_SIZE, label: Optional[str] = None) -> None:
        super().__init__(label)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self._settings = settings
        self._batch_size = batch_size

    # No type hints on expand: Beam reads them as element types and warns at every run that a
    # dict of PCollections is not one (inputs: {"posts", "triples"}; returns {"written", "dead_letters"}).
    def expand(self, inputs):
        pipeline = next(v for v in inputs.values() if v is not None).pipeline
        parts = []
        resolution = inputs.get("resolution")
        side = {} if resolution is None else {
            "resolution": beam.pvalue.AsSingleton(resolution | "Identities" >> beam.Map(Identities.of))}
        if inputs.get("posts") is not None:
            parts.append(inputs["posts"] | "PostRows" >> beam.Map(_post_row, **side))
        if inputs.get("entities") is not None:
            parts.append(inputs["entities"])
        dead = None
        if inputs.get("triples") is not None:
            triple_rows = inputs["triples"] | "TripleRows" >> beam.ParDo(_TripleRows(), **side).with_outputs(
                DEAD, main="rows"
            )
            parts.append(triple_rows["rows"])
            dead = triple_rows[DEAD]
        if dead is None:
            dead = pipeline | "NoDeadLetters" >> beam.Create([])
        rows = parts[0] if len(parts) == 1 else parts | "AllGraphRows" >> beam.Flatten()
        schema_ready = (
            pipeline
            | "SchemaOnce" >> beam.Create([None])
            | "EnsureSchema" >> beam.Map(_ensure_schema_once, self._settings)
        )
        # One BatchElements per batch kind (posts, each relation label): no state or timers, and
        # a batch of triples needs one relationship statement.
        kinds = rows | "ByBatchKind" >> beam.Partition(_kind_index, len(BATCH_KINDS))
        batches = [
            part | f"Batch_{_step_name(kind)}" >> beam.BatchElements(
                min_batch_size=self._batch_size, max_batch_size=self._batch_size)
            for kind, part in zip(BATCH_KINDS, kinds)
        ]
        written = (
            batches
            | "AllBatches" >> beam.Flatten()
            | "WriteBatches"
            >> beam.ParDo(_WriteBatch(self._settings), schema_ready=beam.pvalue.AsSingleton(schema_ready))
        )
        if resolution is not None:
            # The side input is complete only when every batch is written.
            done = written | "RowsWritten" >> beam.CombineGlobally(sum)
            _ = resolution | "Redirect" >> beam.ParDo(_Redirect(self._settings), written=beam.pvalue.AsSingleton(done))
        return {DEAD: dead}
