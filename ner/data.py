"""The NER tag set, BIO spans, and the CoNLL files of Twitter-2015/2017.

Entity scoring follows conlleval: a span is (start word, end word, type), counted correct only
when both boundaries and the type match; an ``I-X`` that does not continue an ``X`` starts a new
span (so gold files with such tags score as conlleval scores them).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from mmkg.schemas.relations import ENTITY_TYPES

TYPES = ENTITY_TYPES  # the CoNLL tag suffixes are the project's entity types
TAGS = ("O",) + tuple(f"{p}-{t}" for t in TYPES for p in ("B", "I"))
TAG_ID = {t: i for i, t in enumerate(TAGS)}
# Twitter-2015 calls MISC "OTHER"; one inventory for both sets and for the relation schema.
TYPE_ALIASES = {"OTHER": "MISC"}

Span = Tuple[int, int, str]  # [start, end) in words, type


@dataclass(frozen=True)
class TaggedSentence:
    image_id: Optional[str]
    tokens: Tuple[str, ...]
    tags: Tuple[str, ...]


def normalise_tag(tag: str) -> str:
    if tag == "O" or "-" not in tag:
        return "O"
    prefix, etype = tag.split("-", 1)
    etype = TYPE_ALIASES.get(etype, etype)
    if etype not in TYPES or prefix not in ("B", "I"):
        raise ValueError(f"unknown NER tag {tag!r}")
    return f"{prefix}-{etype}"


def spans_from_tags(tags: Sequence[str]) -> List[Span]:
    spans: List[Span] = []
    start, etype = None, None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, _, t = tag.partition("-")
        continues = prefix == "I" and t == etype
        if start is not None and not continues:
            spans.append((start, i, etype))
            start, etype = None, None
        if prefix == "B" or (prefix == "I" and not continues):
            start, etype = i, t
    return spans


def tags_from_spans(n: int, spans: Iterable[Span]) -> List[str]:
    tags = ["O"] * n
    for s, e, t in spans:
        tags[s] = f"B-{t}"
        for i in range(s + 1, e):
            tags[i] = f"I-{t}"
    return tags


def repair(tags: Sequence[str]) -> Tuple[str, ...]:
    """The same spans (conlleval's reading) written as valid BIO: what the CRF is trained on."""
    return tuple(tags_from_spans(len(tags), spans_from_tags(tags)))


def read_conll(path: str) -> List[TaggedSentence]:
    """``IMGID:<id>`` line, then ``token<TAB>tag`` lines, blank line between posts."""
    out: List[TaggedSentence] = []
    image_id, tokens, tags = None, [], []

    def flush():
        nonlocal image_id, tokens, tags
        if tokens:
            out.append(TaggedSentence(image_id, tuple(tokens), tuple(tags)))
        image_id, tokens, tags = None, [], []

    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n").rstrip("\r")
            if not line.strip():
                flush()
                continue
            if line.startswith("IMGID:"):
                flush()
                image_id = line[len("IMGID:") :].strip()
                continue
            parts = line.split("\t")
            if len(parts) < 2:
                parts = line.rsplit(None, 1)
            if len(parts) < 2:
                raise ValueError(f"{path}:{n}: expected 'token<TAB>tag', got {line!r}")
            try:
                tags.append(normalise_tag(parts[-1].strip()))
            except ValueError as e:
                raise ValueError(f"{path}:{n}: {e}") from None
            tokens.append(parts[0])
    flush()
    return out


@dataclass
class Counts:
    tp: int = 0
    pred: int = 0
    gold: int = 0

    def add(self, pred: Iterable[Span], gold: Iterable[Span]) -> None:
        p, g = set(pred), set(gold)
        self.tp += len(p & g)
        self.pred += len(p)
        self.gold += len(g)

    def prf(self) -> Dict[str, float]:
        p = self.tp / self.pred if self.pred else 0.0
        r = self.tp / self.gold if self.gold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return {"precision": p, "recall": r, "f1": f, "tp": self.tp, "predicted": self.pred, "gold": self.gold}


def span_scores(pred: Sequence[Sequence[Span]], gold: Sequence[Sequence[Span]]) -> Dict:
    """Micro P/R/F1 over exact (boundaries, type) spans, and the same per type."""
    micro = Counts()
    per = {t: Counts() for t in TYPES}
    for p, g in zip(pred, gold):
        micro.add(p, g)
        for t in TYPES:
            per[t].add([s for s in p if s[2] == t], [s for s in g if s[2] == t])
    return {"micro": micro.prf(), "per_type": {t: c.prf() for t, c in per.items()}, "sentences": len(gold)}
