"""The MNRE benchmark's text format: one dict literal per line (tokens, head and tail token spans,
relation, image id). Lines of one sentence and image become one post whose pairs are exactly the
annotated ones. Pure functions, like the record checks they build on."""
from __future__ import annotations

import ast
import hashlib
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from mmkg.schemas.records import AnnotatedPair, DeadLetter, EntityMention, Post
from mmkg.schemas.relations import RELATIONS
from mmkg.schemas.validation import (
    InvalidRecord,
    ParseResult,
    ReadConfig,
    check_image,
    check_text,
    dead,
    decode_line,
    has_bad_chars,
    same_span,
    source_dir,
    source_order,
)


@dataclass(frozen=True)
class MnreInstance:
    """One MNRE line: a sentence, one annotated pair and its image id."""

    text: str
    head: EntityMention
    tail: EntityMention
    img_id: Optional[str]
    relation: Optional[str]
    source: str

    @property
    def post_key(self) -> str:
        """Lines that share the image and sentence are one post with several pairs."""
        digest = hashlib.sha1(f"{self.img_id}\x00{self.text}".encode("utf-8")).hexdigest()[:10]
        stem = os.path.splitext(self.img_id)[0] if self.img_id else "noimg"
        return f"mnre-{stem}-{digest}"


def tokens_to_text(tokens: List[str]) -> Tuple[str, List[int]]:
    """Join tokens with single spaces; returns the text and each token's start offset."""
    starts, pos = [], 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    return " ".join(tokens), starts


def _mnre_entity(ent: Any, tokens: List[str], starts: List[int], role: str) -> EntityMention:
    if not isinstance(ent, dict) or "pos" not in ent:
        raise InvalidRecord(f"'{role}' must be a dict with 'name' and 'pos'")
    pos = ent["pos"]
    if not (isinstance(pos, (list, tuple)) and len(pos) == 2 and all(isinstance(p, int) for p in pos)):
        raise InvalidRecord(f"'{role}.pos' must be [start, end]")
    s, e = pos
    if not 0 <= s < e <= len(tokens):
        raise InvalidRecord(f"'{role}.pos' {list(pos)} out of range for {len(tokens)} tokens")
    start, end = starts[s], starts[e - 1] + len(tokens[e - 1])
    span_text = " ".join(tokens[s:e])
    name = ent.get("name")
    if isinstance(name, str) and name.split() != span_text.split():
        raise InvalidRecord(f"'{role}.name' {name!r} does not match tokens {span_text!r}")
    return EntityMention(text=span_text, start=start, end=end, type=None)


def mnre_from_line(line: bytes, source: str, cfg: ReadConfig) -> Union[MnreInstance, DeadLetter]:
    try:
        text_line = decode_line(line)
    except UnicodeDecodeError as e:
        return dead(f"invalid UTF-8 at byte {e.start}", line, source)
    try:
        try:
            record = ast.literal_eval(text_line.strip())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise InvalidRecord("not a Python dict literal") from None
        if not isinstance(record, dict):
            raise InvalidRecord(f"not a dict literal, got {type(record).__name__}")
        tokens = record.get("token")
        if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
            raise InvalidRecord("'token' must be a non-empty list of strings")
        text, starts = tokens_to_text(tokens)
        check_text(text, cfg)
        head = _mnre_entity(record.get("h"), tokens, starts, "h")
        tail = _mnre_entity(record.get("t"), tokens, starts, "t")
        if same_span(head, tail):
            raise InvalidRecord(f"'h' and 't' are the same span {list(record['h']['pos'])}")
        relation = record.get("relation")
        if relation is not None and relation not in RELATIONS:
            raise InvalidRecord(f"unknown relation {relation!r}")
        img_id = record.get("img_id")
        if img_id is not None and (
            not isinstance(img_id, str) or "/" in img_id or img_id.startswith(".") or has_bad_chars(img_id)
        ):
            raise InvalidRecord("'img_id' must be a plain file name")
    except InvalidRecord as e:
        return dead(str(e), text_line, source)
    return MnreInstance(text, head, tail, img_id, relation, source)


def post_from_mnre(instances: List[MnreInstance], cfg: ReadConfig) -> List[ParseResult]:
    """Merge the lines of one MNRE sentence into a post whose pairs are exactly the annotated ones.

    A sentence that cannot be a post (its image is bad) is one dead letter per line, so that each
    line of the input has exactly one fate: in a post, or a dead letter.
    """
    instances = sorted(instances, key=lambda i: source_order(i.source))
    first = instances[0]
    entities: List[EntityMention] = []
    index: Dict[Tuple[int, int], int] = {}
    pairs = []
    for inst in instances:
        ids = []
        for ent in (inst.head, inst.tail):
            key = (ent.start, ent.end)
            if key not in index:
                index[key] = len(entities)
                entities.append(ent)
            ids.append(index[key])
        pairs.append(AnnotatedPair(head=ids[0], tail=ids[1], relation=inst.relation))
    image = None
    if first.img_id:
        try:
            image = check_image(
                {"image": first.img_id, "image_id": first.img_id}, cfg, _mnre_image_dir(first.source)
            )
        except InvalidRecord as e:
            return [dead(str(e), first.img_id, inst.source, first.post_key) for inst in instances]
    return [Post(
        post_id=first.post_key,
        text=first.text,
        image=image,
        entities=tuple(entities),
        pairs=tuple(pairs),
        source=first.source,
    )]


def _mnre_image_dir(source: str) -> Optional[str]:
    """MNRE keeps images in ``images/`` beside the split files."""
    folder = source_dir(source)
    return os.path.join(folder, "images") if folder else None


