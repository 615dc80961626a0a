"""pyarrow schemas for the records that are read from or written to Parquet.

Input posts (``POST_SCHEMA``) are what ``--format parquet`` expects; triples, pairs and dead
letters are what a run writes. Conversion helpers keep the dataclass <-> row mapping in one place.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict

import pyarrow as pa

from mmkg.schemas.records import DeadLetter, EntityPair, Triple

ENTITY_STRUCT = pa.struct(
    [
        ("text", pa.string()),
        ("start", pa.int32()),
        ("end", pa.int32()),
        ("type", pa.string()),
    ]
)

# Input posts. Only ``id`` and ``text`` are required; ``image`` is a path (absolute or relative to
# --image-dir), ``image_bytes`` inline image data; ``entities`` may be null (NER is then used).
POST_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("image", pa.string()),
        pa.field("image_id", pa.string()),
        pa.field("image_bytes", pa.binary()),
        pa.field("entities", pa.list_(ENTITY_STRUCT)),
    ]
)
POST_REQUIRED_FIELDS = ("id", "text")

TRIPLE_SCHEMA = pa.schema(
    [
        pa.field("head", pa.string(), nullable=False),
        pa.field("head_type", pa.string(), nullable=False),
        pa.field("relation", pa.string(), nullable=False),
        pa.field("tail", pa.string(), nullable=False),
        pa.field("tail_type", pa.string(), nullable=False),
        pa.field("confidence", pa.float32(), nullable=False),
        pa.field("decided_by", pa.string(), nullable=False),
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("image_id", pa.string()),
        pa.field("guide_version", pa.string()),
        pa.field("llm_model", pa.string()),
        pa.field("reason", pa.string()),
    ]
)

PAIR_SCHEMA = pa.schema(
    [
        pa.field("post_id", pa.string(), nullable=False),
        pa.field("head", pa.string(), nullable=False),
        pa.field("head_start", pa.int32()),
        pa.field("head_end", pa.int32()),
        pa.field("head_type", pa.string()),
        pa.field("tail", pa.string(), nullable=False),
        pa.field("tail_start", pa.int32()),
        pa.field("tail_end", pa.int32()),
        pa.field("tail_type", pa.string()),
        pa.field("image_id", pa.string()),
        pa.field("gold", pa.string()),
    ]
)

DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("input", pa.string()),
        pa.field("source", pa.string()),
        pa.field("post_id", pa.string()),
    ]
)


def triple_to_row(triple: Triple) -> Dict[str, Any]:
    return dataclasses.asdict(triple)


def triple_from_row(row: Dict[str, Any]) -> Triple:
    return Triple(**{f.name: row.get(f.name) for f in dataclasses.fields(Triple)})


def pair_to_row(pair: EntityPair) -> Dict[str, Any]:
    return {
        "post_id": pair.post_id,
        "head": pair.head.text,
        "head_start": pair.head.start,
        "head_end": pair.head.end,
        "head_type": pair.head.type,
        "tail": pair.tail.text,
        "tail_start": pair.tail.start,
        "tail_end": pair.tail.end,
        "tail_type": pair.tail.type,
        "image_id": pair.image.image_id if pair.image else None,
        "gold": pair.gold,
    }


def dead_letter_to_row(dead: DeadLetter) -> Dict[str, Any]:
    return dead.to_dict()
