"""Beam transforms that read posts (JSON Lines, Parquet, MNRE) into validated Post records.

Every reader has two outputs: ``posts`` and ``dead_letters``. Files are matched with Beam's
``fileio`` so globs and remote file systems work the same, and lines are read as bytes so that one
line of invalid UTF-8 becomes a dead letter instead of failing the whole file.
"""
from __future__ import annotations

import io
import json
from typing import Iterable, Optional, Tuple

import apache_beam as beam
from apache_beam.io import fileio

from mmkg.schemas.arrow import POST_REQUIRED_FIELDS
from mmkg.schemas.mnre import MnreInstance, mnre_from_line, post_from_mnre
from mmkg.schemas.records import DeadLetter
from mmkg.schemas.validation import ReadConfig, dead, post_from_dict, post_from_json_line, source_order
from mmkg.transforms import counters
from mmkg.transforms.dead_letters import count_dead_letter

POSTS = "posts"
DEAD = "dead_letters"


def guess_format(pattern: str) -> str:
    lower = pattern.lower()
    if lower.endswith((".parquet", ".pq")):
        return "parquet"
    if lower.endswith(".txt"):
        return "mnre"
    return "jsonl"


def iter_lines(readable: fileio.ReadableFile) -> Iterable[Tuple[str, bytes]]:
    """The non-blank lines of a file with their "path:line" source: the records of JSONL and MNRE."""
    path = readable.metadata.path
    with readable.open(compression_type=None) as f:
        for n, line in enumerate(io.BufferedReader(f), start=1):
            stripped = line.rstrip(b"\r\n")
            if stripped.strip():
                yield f"{path}:{n}", stripped


class _ReadLines(beam.DoFn):
    def __init__(self):
        self._records = counters.counter(counters.RECORDS_READ)

    def process(self, readable: fileio.ReadableFile):
        for item in iter_lines(readable):
            self._records.inc()
            yield item


class _RouteDeadLetters(beam.DoFn):
    """Counts the dead letters among the parsers' results and sends them to their own output."""

    def process(self, result):
        if isinstance(result, DeadLetter):
            count_dead_letter(result)
            yield beam.pvalue.TaggedOutput(DEAD, result)
        else:
            yield result


class _ParseJsonLine(beam.DoFn):
    def __init__(self, cfg: ReadConfig):
        self._cfg = cfg

    def process(self, element):
        source, line = element
        yield post_from_json_line(line, source, self._cfg)


class _ReadParquetFile(beam.DoFn):
    """Reads one Parquet file in record batches; a file whose schema lacks the required fields
    sends each of its rows to the dead letters (so the counts still add up)."""

    def __init__(self, cfg: ReadConfig, batch_rows: int = 4096):
        self._cfg = cfg
        self._batch_rows = batch_rows
        self._records = counters.counter(counters.RECORDS_READ)

    def process(self, readable: fileio.ReadableFile):
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = readable.metadata.path
        try:
            with readable.open(compression_type=None) as f:
                table_file = pq.ParquetFile(io.BytesIO(f.read()))
        except (pa.ArrowException, OSError) as e:
            self._records.inc()  # its rows cannot be counted: the file is the one record
            yield dead(f"unreadable Parquet file: {e}", path, path)
            return
        schema = table_file.schema_arrow
        missing = [name for name in POST_REQUIRED_FIELDS if name not in schema.names]
        wrong = [
            name
            for name in POST_REQUIRED_FIELDS
            if name in schema.names and not pa.types.is_string(schema.field(name).type)
            and not pa.types.is_large_string(schema.field(name).type)
        ]
        problem = None
        if missing:
            problem = f"Parquet schema lacks field(s) {', '.join(missing)}"
        elif wrong:
            problem = f"Parquet field(s) {', '.join(wrong)} must be strings"
        row = 0
        for batch in table_file.iter_batches(batch_size=self._batch_rows):
            for record in batch.to_pylist():
                source = f"{path}#{row}"
                row += 1
                self._records.inc()
                if problem:
                    yield dead(problem, record, source)
                else:
                    yield post_from_dict(record, source, self._cfg)


class _ParseMnreLine(beam.DoFn):
    def __init__(self, cfg: ReadConfig):
        self._cfg = cfg

    def process(self, element):
        source, line = element
        result = mnre_from_line(line, source, self._cfg)
        if isinstance(result, MnreInstance):
            yield result.post_key, result
        else:
            yield beam.pvalue.TaggedOutput(DEAD, result)


def _merge_mnre(element, cfg: ReadConfig):
    _, instances = element
    yield from post_from_mnre(list(instances), cfg)


def _first_of_duplicates(element) -> Iterable:
    """Keeps the first post of an id (by file position) and dead-letters the others."""
    post_id, posts = element
    posts = sorted(posts, key=lambda p: source_order(p.source))
    yield posts[0]
    for other in posts[1:]:
        yield DeadLetter(
            stage="read",
            reason=f"duplicate post id {post_id!r} (first seen at {posts[0].source})",
            input=json.dumps({"id": other.post_id, "text": other.text[:500]}, ensure_ascii=False),
            source=other.source,
            post_id=post_id,
        )


class ReadPosts(beam.PTransform):
    """Reads posts from ``pattern`` in ``fmt``; returns ``{"posts": ..., "dead_letters": ...}``.

    Posts with the same id are reduced to the first one; the rest become dead letters.
    """

    def __init__(self, pattern: str, fmt: Optional[str] = None, cfg: Optional[ReadConfig] = None):
        super().__init__()
        self._pattern = pattern
        self._fmt = fmt or guess_format(pattern)
        if self._fmt not in ("jsonl", "parquet", "mnre"):
            raise ValueError(f"unknown input format {self._fmt!r}")
        base = cfg or ReadConfig()
        if self._fmt == "mnre":
            # MNRE images are named by id; most users hold only some of them.
            base = ReadConfig(
                image_dir=base.image_dir,
                max_text_chars=base.max_text_chars,
                max_image_pixels=base.max_image_pixels,
                missing_image_is_error=False,
                check_images=base.check_images,
            )
        self._cfg = base

    def expand(self, pbegin):
        files = (
            pbegin
            | "Match" >> fileio.MatchFiles(self._pattern)
            | "ReadMatches" >> fileio.ReadMatches()
        )
        cfg = self._cfg
        if self._fmt == "parquet":
            parsed = files | "ReadParquet" >> beam.ParDo(_ReadParquetFile(cfg))
        else:
            lines = (
                files
                | "Lines" >> beam.ParDo(_ReadLines())
                # One big file would otherwise be parsed by one worker.
                | "Spread" >> beam.Reshuffle()
            )
            if self._fmt == "jsonl":
                parsed = lines | "ParseJson" >> beam.ParDo(_ParseJsonLine(cfg))
            else:
                instances = lines | "ParseMnre" >> beam.ParDo(_ParseMnreLine(cfg)).with_output_types(
                    Tuple[str, MnreInstance]
                ).with_outputs(DEAD, main="instances")
                merged = (
                    instances.instances
                    | "GroupSentence" >> beam.GroupByKey()
                    | "MergeSentence" >> beam.FlatMap(_merge_mnre, cfg)
                )
                parsed = [merged, instances[DEAD]] | "MnreResults" >> beam.Flatten()
        routed = parsed | "Route" >> beam.ParDo(_RouteDeadLetters()).with_outputs(DEAD, main=POSTS)
        deduped = (
            routed[POSTS]
            | "KeyById" >> beam.Map(lambda p: (p.post_id, p))
            | "GroupById" >> beam.GroupByKey()
            | "FirstOfId" >> beam.FlatMap(_first_of_duplicates)
            | "RouteDuplicates" >> beam.ParDo(_SplitDuplicates()).with_outputs(DEAD, main=POSTS)
        )
        dead_letters = [routed[DEAD], deduped[DEAD]] | "FlattenDead" >> beam.Flatten()
        return {POSTS: deduped[POSTS], DEAD: dead_letters}


class _SplitDuplicates(beam.DoFn):
    """Posts are counted here, once, when duplicates are already dead letters."""

    def __init__(self):
        self._posts = counters.counter(counters.POSTS_READ)

    def process(self, item):
        if isinstance(item, DeadLetter):
            count_dead_letter(item)
            yield beam.pvalue.TaggedOutput(DEAD, item)
        else:
            self._posts.inc()
            yield item
