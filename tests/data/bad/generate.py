"""Generators for the bad inputs that are too big (or too binary) to commit: tests write them
into a temporary folder next to the committed corpus (posts.jsonl, mnre.txt, images/)."""
from __future__ import annotations

import json
import pathlib
import struct
import zlib

import pyarrow as pa
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).parent


def huge_text_post(post_id: str = "b-huge-text", chars: int = 1_000_000) -> str:
    """A 1 MB post: far over --max-text-chars, and one line that a reader must not choke on."""
    return json.dumps({"id": post_id, "text": ("Ada Lovelace " * (chars // 13 + 1))[:chars]})


def nested_json(depth: int = 20_000) -> str:
    """Valid-looking JSON nested deeper than any parser's recursion limit."""
    return "[" * depth + "]" * depth


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def decompression_bomb_png(path: pathlib.Path, side: int = 12_000) -> pathlib.Path:
    """A real 1-bit PNG of side x side pixels (144 M by default) that compresses to ~20 KB:
    decoding it would take far more memory than the file suggests."""
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter byte + one bit per pixel
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")
    )
    return path


def parquet_files(folder: pathlib.Path) -> dict:
    """Parquet inputs: good rows mixed with bad ones, files with the wrong schema, and a file that
    is not Parquet at all. Returns {file name: number of records it holds} (a file that cannot be
    read counts as one record)."""
    from mmkg.schemas.arrow import POST_SCHEMA

    def row(post_id, text, entities=None):
        return {"id": post_id, "text": text, "image": None, "image_id": None, "image_bytes": None, "entities": entities}

    text = "Lionel Messi plays for Inter Miami."
    messi = [{"text": "Lionel Messi", "start": 0, "end": 12, "type": "PER"},
             {"text": "Inter Miami", "start": 23, "end": 34, "type": "ORG"}]
    rows = [
        row("pq-good-1", text, messi),
        row("pq-empty", "", None),
        row("pq-good-2", "Angela Merkel visited Paris.", [
            {"text": "Angela Merkel", "start": 0, "end": 13, "type": "PER"},
            {"text": "Paris", "start": 22, "end": 27, "type": "LOC"}]),
        row("pq-span", text, [{"text": "Messi", "start": 0, "end": 12, "type": "PER"}]),
        row("pq-good-1", "The same id again.", None),
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=POST_SCHEMA), folder / "posts.parquet")
    pq.write_table(pa.table({"id": ["pq-w1", "pq-w2"], "body": ["no text column", "here"]}), folder / "wrong_schema.parquet")
    pq.write_table(pa.table({"id": [1, 2, 3], "text": ["ids are", "integers", "here"]}), folder / "wrong_types.parquet")
    (folder / "not_parquet.parquet").write_text("id,text\nx,this is a CSV file\n")
    return {"posts.parquet": len(rows), "wrong_schema.parquet": 2, "wrong_types.parquet": 3, "not_parquet.parquet": 1}
