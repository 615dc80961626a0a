"""Turn raw input records into validated Posts. Pure functions: no Beam, no global state.

Each parser returns either a :class:`Post` or a :class:`DeadLetter` whose reason says exactly what
was wrong, so that a reader can route bad records to the dead-letter output and carry on.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import warnings
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple, Union

from mmkg.schemas.records import AnnotatedPair, DeadLetter, EntityMention, ImageRef, Post
from mmkg.schemas.relations import ENTITY_TYPES, RELATIONS

STAGE = "read"
MAX_RAW_IN_DEAD_LETTER = 2000

# Common spellings of the four types (CoNLL, spaCy, Twitter-2015's OTHER).
TYPE_ALIASES = {
    "PER": "PER",
    "PERSON": "PER",
    "ORG": "ORG",
    "ORGANIZATION": "ORG",
    "ORGANISATION": "ORG",
    "LOC": "LOC",
    "LOCATION": "LOC",
    "GPE": "LOC",
    "MISC": "MISC",
    "OTHER": "MISC",
}


class InvalidRecord(ValueError):
    """Raised inside the parsers; its message becomes the dead letter's reason."""


@dataclass(frozen=True)
class ReadConfig:
    image_dir: Optional[str] = None
    max_text_chars: int = 10000
    max_image_pixels: int = 40_000_000
    # MNRE names images by id and most users do not have all of them: an absent file means
    # text-only there, while an explicit path in JSONL/Parquet that does not exist is an error.
    missing_image_is_error: bool = True
    check_images: bool = True


ParseResult = Union[Post, DeadLetter]


def dead(reason: str, raw: Any, source: str, post_id: Optional[str] = None) -> DeadLetter:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="backslashreplace")
    elif not isinstance(raw, str):
        try:
            raw = json.dumps(raw, ensure_ascii=False, default=_json_default)
        except (TypeError, ValueError):
            raw = repr(raw)
    if len(raw) > MAX_RAW_IN_DEAD_LETTER:
        raw = raw[:MAX_RAW_IN_DEAD_LETTER] + f"... [{len(raw)} chars]"
    if post_id is not None and has_bad_chars(post_id):
        # Lone surrogates cannot be written as UTF-8; keep the id readable instead.
        post_id = post_id.encode("utf-8", "backslashreplace").decode("utf-8")
    return DeadLetter(stage=STAGE, reason=reason, input=raw, source=source, post_id=post_id)


def _json_default(obj: Any) -> str:
    if isinstance(obj, bytes):
        return f"<{len(obj)} bytes>"
    return repr(obj)


# ---------------------------------------------------------------------------------------------
# Text and entities


def check_text(text: Any, cfg: ReadConfig) -> str:
    if text is None:
        raise InvalidRecord("missing field 'text'")
    if not isinstance(text, str):
        raise InvalidRecord(f"field 'text' must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InvalidRecord("empty text")
    if len(text) > cfg.max_text_chars:
        raise InvalidRecord(f"text too long: {len(text)} chars > {cfg.max_text_chars}")
    bad = [c for c in text if _is_bad_control(c)]
    if bad:
        raise InvalidRecord(f"text contains control characters (U+{ord(bad[0]):04X})")
    return text


def _is_bad_control(c: str) -> bool:
    o = ord(c)
    return (o < 32 and c not in "\t\n\r") or o == 0x7F or 0xD800 <= o <= 0xDFFF


def has_bad_chars(value: str) -> bool:
    """Control characters (tabs and newlines too) or lone surrogates: not in an id or file name."""
    return any(ord(c) < 32 or _is_bad_control(c) for c in value)


def check_name(value: str, field: str) -> str:
    if has_bad_chars(value):
        raise InvalidRecord(f"field '{field}' contains control characters")
    return value


def normalise_type(value: Any) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidRecord(f"entity type must be a string, got {type(value).__name__}")
    t = TYPE_ALIASES.get(value.strip().upper())
    if t is None:
        raise InvalidRecord(f"unknown entity type {value!r} (expected one of {', '.join(ENTITY_TYPES)})")
    return t


# Offsets counted in other units than Python's code points: UTF-16 code units (JavaScript, Java,
# C#) and UTF-8 bytes (Go, Rust, byte-oriented tools) differ from them after an emoji or an accent.
_OFFSET_UNITS = (("UTF-16 code units", "utf-16-le", 2), ("UTF-8 bytes", "utf-8", 1))


def _offset_hint(text: str, name: str, start: int, end: int) -> str:
    """Why a span may be off, when it is: the same offsets read in another unit give the name."""
    for unit, codec, width in _OFFSET_UNITS:
        encoded = text.encode(codec)
        if end * width > len(encoded):
            continue
        try:
            found = encoded[start * width:end * width].decode(codec)
            before = len(encoded[:start * width].decode(codec))
        except UnicodeDecodeError:
            continue
        if found == name and (before, before + len(name)) != (start, end):
            return (f" (offsets count Unicode code points; read as {unit} they give {name!r}, "
                    f"which is [{before}, {before + len(name)}) in code points)")
    return ""


def check_entity(item: Any, text: str, index: int) -> EntityMention:
    if not isinstance(item, dict):
        raise InvalidRecord(f"entity {index} must be an object")
    name, start, end = item.get("text"), item.get("start"), item.get("end")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRecord(f"entity {index}: 'text' must be a non-empty string")
    for key, v in (("start", start), ("end", end)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise InvalidRecord(f"entity {index}: '{key}' must be an integer")
    if not 0 <= start < end <= len(text):
        raise InvalidRecord(f"entity {index}: span [{start}, {end}) out of range for text of {len(text)} chars"
                            f"{_offset_hint(text, name, start, end)}")
    if text[start:end] != name:
        raise InvalidRecord(
            f"entity {index}: span [{start}, {end}) is {text[start:end]!r}, not {name!r}"
            f"{_offset_hint(text, name, start, end)}"
        )
    return EntityMention(text=name, start=start, end=end, type=normalise_type(item.get("type")))


def check_entities(items: Any, text: str) -> Optional[Tuple[EntityMention, ...]]:
    if items is None:
        return None
    if not isinstance(items, list):
        raise InvalidRecord("field 'entities' must be a list")
    return tuple(check_entity(item, text, i) for i, item in enumerate(items))


def same_span(a: EntityMention, b: EntityMention) -> bool:
    """An entity cannot relate to itself: such a pair would be scored as, say, Obama -> Obama."""
    return (a.start, a.end) == (b.start, b.end)


def check_pairs(items: Any, entities: Optional[Tuple[EntityMention, ...]]) -> Optional[Tuple[AnnotatedPair, ...]]:
    if items is None:
        return None
    if not isinstance(items, list):
        raise InvalidRecord("field 'pairs' must be a list")
    n = len(entities or ())
    out = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InvalidRecord(f"pair {i} must be an object")
        h, t, rel = item.get("head"), item.get("tail"), item.get("relation")
        if not (isinstance(h, int) and isinstance(t, int) and 0 <= h < n and 0 <= t < n and h != t):
            raise InvalidRecord(f"pair {i}: head/tail must be distinct entity indices below {n}")
        if same_span(entities[h], entities[t]):
            raise InvalidRecord(f"pair {i}: head and tail are the same span [{entities[h].start}, {entities[h].end})")
        if rel is not None and rel not in RELATIONS:
            raise InvalidRecord(f"pair {i}: unknown relation {rel!r}")
        out.append(AnnotatedPair(head=h, tail=t, relation=rel))
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Images


def open_image_bytes(path: str) -> bytes:
    # Beam's FileSystems reads local paths and gs://, s3://... alike.
    from apache_beam.io.filesystems import FileSystems

    with FileSystems.open(path) as f:
        return f.read()


def image_exists(path: str) -> bool:
    from apache_beam.io.filesystems import FileSystems

    try:
        return FileSystems.exists(path)
    except Exception:  # noqa: BLE001 - an unreachable file system means "not there" here
        return False


def check_image_bytes(data: bytes, cfg: ReadConfig, what: str) -> None:
    """Decode the image fully once, so truncated or disguised files fail here, not in a model."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > cfg.max_image_pixels:
                    raise InvalidRecord(
                        f"image too large: {w}x{h} pixels > {cfg.max_image_pixels} ({what})"
                    )
                im.load()
    except InvalidRecord:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise InvalidRecord(f"image too large (decompression bomb guard): {what}: {e}") from None
    except Image.UnidentifiedImageError:
        raise InvalidRecord(f"not an image: {what}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidRecord(f"unreadable image: {what}: {e}") from None


def resolve_image_path(path: str, cfg: ReadConfig, base_dir: Optional[str] = None) -> str:
    """Absolute paths and URIs stay; relative ones resolve against --image-dir, else against the
    folder of the file the post came from (so a dataset folder can be moved as a whole)."""
    if "://" in path:
        return path
    if not os.path.isabs(path):
        root = cfg.image_dir or base_dir
        path = os.path.join(root, path) if root else path
    # Absolute, so that the graph's Image.uri still points at the file from another directory.
    return path if "://" in path else os.path.abspath(path)


def source_dir(source: str) -> Optional[str]:
    """The folder of a "path:line" / "path#row" source."""
    path = source_order(source)[0]
    return os.path.dirname(path) or None


def check_image(record: Dict[str, Any], cfg: ReadConfig, base_dir: Optional[str] = None) -> Optional[ImageRef]:
    path, inline, image_id = record.get("image"), record.get("image_bytes"), record.get("image_id")
    if path is None and inline is None:
        return None
    if image_id is not None and not isinstance(image_id, str):
        raise InvalidRecord("field 'image_id' must be a string")
    if image_id is not None:
        check_name(image_id, "image_id")
    if inline is not None:
        if isinstance(inline, str):
            try:
                inline = base64.b64decode(inline, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRecord("field 'image_bytes' is not valid base64") from None
        if not isinstance(inline, (bytes, bytearray)):
            raise InvalidRecord("field 'image_bytes' must be base64 text or bytes")
        data = bytes(inline)
        if cfg.check_images:
            check_image_bytes(data, cfg, "inline image")
        return ImageRef(image_id=image_id or "sha1-" + hashlib.sha1(data).hexdigest()[:16], data=data)
    if not isinstance(path, str) or not path:
        raise InvalidRecord("field 'image' must be a non-empty path string")
    full = resolve_image_path(path, cfg, base_dir)
    if not image_exists(full):
        if cfg.missing_image_is_error:
            raise InvalidRecord(f"image not found: {path}")
        return None
    if cfg.check_images:
        try:
            data = open_image_bytes(full)
        except OSError as e:
            raise InvalidRecord(f"unreadable image: {path}: {e}") from None
        check_image_bytes(data, cfg, path)
    return ImageRef(image_id=image_id or os.path.basename(path), path=full)


# ---------------------------------------------------------------------------------------------
# Whole records


def post_from_dict(record: Any, source: str, cfg: ReadConfig, raw: Any = None) -> ParseResult:
    """Validate one JSON/Parquet record: ``{"id", "text", "image"?, "image_bytes"?, "entities"?}``."""
    raw = record if raw is None else raw
    post_id = record.get("id") if isinstance(record, dict) else None
    try:
        if not isinstance(record, dict):
            raise InvalidRecord(f"record must be a JSON object, got {type(record).__name__}")
        if post_id is None:
            raise InvalidRecord("missing field 'id'")
        if isinstance(post_id, int) and not isinstance(post_id, bool):
            post_id = str(post_id)
        if not isinstance(post_id, str) or not post_id.strip():
            raise InvalidRecord("field 'id' must be a non-empty string")
        check_name(post_id, "id")
        text = check_text(record.get("text"), cfg)
        entities = check_entities(record.get("entities"), text)
        pairs = check_pairs(record.get("pairs"), entities)
        image = check_image(record, cfg, source_dir(source))
    except InvalidRecord as e:
        return dead(str(e), raw, source, post_id if isinstance(post_id, str) else None)
    return Post(post_id=post_id, text=text, image=image, entities=entities, pairs=pairs, source=source)


def decode_line(line: bytes) -> str:
    """UTF-8 text of a line; a byte-order mark (Windows tools write one) is not part of it."""
    return line.decode("utf-8").removeprefix("\ufeff")


def post_from_json_line(line: bytes, source: str, cfg: ReadConfig) -> ParseResult:
    try:
        text = decode_line(line)
    except UnicodeDecodeError as e:
        return dead(f"invalid UTF-8 at byte {e.start}", line, source)
    try:
        record = json.loads(text)
    except json.JSONDecodeError as e:
        return dead(f"invalid JSON: {e.msg} at column {e.colno}", text, source)
    except RecursionError:
        return dead("invalid JSON: nested too deeply", text, source)
    return post_from_dict(record, source, cfg, raw=text)


def source_order(source: str) -> Tuple[str, int]:
    """Sort key for "path:line" / "path#row" sources, numeric on the line."""
    for sep in (":", "#"):
        head, _, tail = source.rpartition(sep)
        if head and tail.isdigit():
            return head, int(tail)
    return source, 0
