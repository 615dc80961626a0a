"""Entity markers and tokenisation of pairs.

Head and tail are wrapped in marker tokens that already exist in the encoder's vocabulary, so no
embedding row has to be added or saved: ``« head »`` and ``{ tail }``. Social-media text is full of
``@`` and ``#``, which is why those (Zhou & Chen 2021's choice) are not used here. The pooled
representation reads the hidden state at each opening marker.

Segments are tokenised separately and joined, which keeps the marker positions exact without
relying on offset mappings (and works with any WordPiece/BPE tokenizer).

Typed markers (Zhou & Chen's "typed entity marker (punct)", a checkpoint's ``typed_markers``) put
the mention's entity type as a plain word right after the opening marker, ``« person : Bill »``:
the uncased encoder cannot see the casing that tells ``Apple`` from ``apple``, the cased NER
student that typed the mention could.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch

from mmkg.schemas.records import EntityPair

HEAD_MARKERS = ("«", "»")
TAIL_MARKERS = ("{", "}")
# Words the encoder already knows; an untyped mention (no type given, none predicted) says so.
TYPE_WORDS = {"PER": "person", "ORG": "organization", "LOC": "location", "MISC": "other", None: "entity"}


@dataclass
class EncodedBatch:
    input_ids: torch.Tensor  # (B, L)
    attention_mask: torch.Tensor  # (B, L)
    head_index: torch.Tensor  # (B,) position of the head's opening marker
    tail_index: torch.Tensor  # (B,)

    def to(self, device) -> "EncodedBatch":
        return EncodedBatch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.head_index, self.tail_index)))


def marked_segments(pair: EntityPair) -> List[Tuple[str, str]]:
    """The text cut at the entity boundaries: a list of (kind, text), kind in text/head/tail.

    Overlapping spans (possible with NER output) are resolved by putting the tail's markers
    around the part of it that does not overlap the head.
    """
    text = pair.text
    spans = sorted(
        [("head", pair.head.start, pair.head.end), ("tail", pair.tail.start, pair.tail.end)],
        key=lambda s: (s[1], s[2]),
    )
    (k1, s1, e1), (k2, s2, e2) = spans
    s2 = max(s2, e1)
    e2 = max(e2, s2)
    return [
        ("text", text[:s1]),
        (k1, text[s1:e1]),
        ("text", text[e1:s2]),
        (k2, text[s2:e2]),
        ("text", text[e2:]),
    ]


def type_prefix(tokenizer, mention_type: Optional[str]) -> List[int]:
    return tokenizer.encode(f"{TYPE_WORDS.get(mention_type, TYPE_WORDS[None])} :", add_special_tokens=False)


def encode_pair(tokenizer, pair: EntityPair, max_length: int, typed: bool = False) -> Tuple[List[int], int, int]:
    """Token ids with [CLS]/[SEP] and markers, plus the positions of the two opening markers;
    ``typed``: each opening marker is followed by the mention's type word (see the module's doc)."""
    marker_ids = {}
    for kind, (open_, close) in (("head", HEAD_MARKERS), ("tail", TAIL_MARKERS)):
        marker_ids[kind] = (tokenizer.convert_tokens_to_ids(open_), tokenizer.convert_tokens_to_ids(close))
    ids: List[int] = []
    pos = {}
    for kind, seg in marked_segments(pair):
        pieces = tokenizer.encode(seg, add_special_tokens=False) if seg.strip() else []
        if kind == "text":
            ids.extend(pieces)
        else:
            open_id, close_id = marker_ids[kind]
            pos[kind] = len(ids)
            ids.append(open_id)
            if typed:
                ids.extend(type_prefix(tokenizer, (pair.head if kind == "head" else pair.tail).type))
            ids.extend(pieces)
            ids.append(close_id)
    budget = max_length - 2
    if len(ids) > budget:
        # Keep a window that starts a little before the first marker; the rest of a long post
        # matters less than the entities' neighbourhood.
        first = min(pos.values())
        start = max(0, min(first - 8, len(ids) - budget))
        ids = ids[start : start + budget]
        pos = {k: min(max(v - start, 0), budget - 1) for k, v in pos.items()}
    cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
    return [cls_id] + ids + [sep_id], pos["head"] + 1, pos["tail"] + 1


EncodedPair = Tuple[List[int], int, int]  # what encode_pair returns


def encode_pairs(tokenizer, pairs: Sequence[EntityPair], max_length: int, typed: bool = False) -> EncodedBatch:
    return pad_encoded(tokenizer, [encode_pair(tokenizer, p, max_length, typed) for p in pairs])


def pad_encoded(tokenizer, encoded: Sequence[EncodedPair]) -> EncodedBatch:
    """Encoded pairs as one batch, padded to the longest of them."""
    width = max(len(ids) for ids, _, _ in encoded)
    pad = tokenizer.pad_token_id or 0
    input_ids = torch.full((len(encoded), width), pad, dtype=torch.long)
    mask = torch.zeros((len(encoded), width), dtype=torch.long)
    for i, (ids, _, _) in enumerate(encoded):
        input_ids[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[i, : len(ids)] = 1
    head = torch.tensor([h for _, h, _ in encoded], dtype=torch.long)
    tail = torch.tensor([t for _, _, t in encoded], dtype=torch.long)
    return EncodedBatch(input_ids, mask, head, tail)
