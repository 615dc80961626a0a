"""The NER student: a text encoder over the post's words, casing given back through word-shape
features, the guide's image fusion, and a CRF whose transitions only allow valid BIO.

Per word: [h(first sub-word) ; shape embedding ; v_image] -> tag scores; a linear-chain CRF
(``pytorch-crf``) scores tag sequences. The default encoder (all-MiniLM-L6-v2) is uncased, so
"Apple" and "apple" reach it as the same ids: the word's shape (Title, ALLCAPS, mixed, digits,
@mention, URL, ...) is added to the input embeddings of its sub-words (a zero-initialised table,
so training starts from the pretrained encoder exactly) and concatenated again before the tag
layer. ``v_image`` is a learned "no image" vector plus a zero-initialised projection of the frozen
EfficientNet feature for posts that have an image, as in the guide: a model trained without
images answers the same with or without one.

Annotation conventions: corpora draw entities differently (Twitter-2015/2017 leave @mentions out
and cut ``Shri RK Dhawan`` where MNRE, whose spans are the heads and tails of relation pairs,
keeps ``Late Shri RK Dhawan``). A student trained on several of them gets one learned vector per
convention (zero-initialised, added to every sub-word's input embedding, as the shape table is), so
it learns each corpus's boundaries without averaging them; it is told which one to follow when it
tags.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import List, Optional, Sequence

import torch
from torch import nn
from torchcrf import CRF

from mmkg.ner.data import TAGS
from mmkg.ner.settings import NER_CONVENTIONS
from mmkg.runtime.image_features import FEATURE_DIM

SHAPES = ("pad", "lower", "title", "upper", "letter_upper", "mixed", "number", "alnum", "punct",
          "mention", "hashtag", "url", "other")
SHAPE_ID = {s: i for i, s in enumerate(SHAPES)}
CONVENTIONS = NER_CONVENTIONS
_PUNCT = re.compile(r"^[^\w\s]+$", re.UNICODE)


def word_shape(word: str) -> int:
    if word.startswith("@") and len(word) > 1:
        return SHAPE_ID["mention"]
    if word.startswith("#"):
        return SHAPE_ID["hashtag"]
    if word.startswith(("http://", "https://", "www.")):
        return SHAPE_ID["url"]
    letters = [c for c in word if c.isalpha()]
    if word.replace(",", "").replace(".", "").isdigit():
        return SHAPE_ID["number"]
    if letters and any(c.isdigit() for c in word):
        return SHAPE_ID["alnum"]
    if letters:
        if all(c.islower() for c in letters):
            return SHAPE_ID["lower"]
        if len(letters) == 1:
            return SHAPE_ID["letter_upper"]
        if all(c.isupper() for c in letters):
            return SHAPE_ID["upper"]
        if letters[0].isupper() and all(c.islower() for c in letters[1:]):
            return SHAPE_ID["title"]
        if any(c.isupper() for c in letters) and not all(c.isupper() or not c.isalpha() for c in letters):
            return SHAPE_ID["mixed"]
        return SHAPE_ID["other"]
    if _PUNCT.match(word):
        return SHAPE_ID["punct"]
    return SHAPE_ID["other"]


def allowed_transitions(tags: Sequence[str] = TAGS):
    """(start[T], trans[T, T]) booleans: an I-X may only start after B-X or I-X."""
    n = len(tags)
    start = torch.ones(n, dtype=torch.bool)
    trans = torch.ones((n, n), dtype=torch.bool)
    for j, t in enumerate(tags):
        if t.startswith("I-"):
            start[j] = False
            for i, prev in enumerate(tags):
                if prev[2:] != t[2:] or prev == "O":
                    trans[i, j] = False
    return start, trans


class ConstrainedCRF(CRF):
    """pytorch-crf's CRF with invalid BIO transitions pinned to a large negative score: Viterbi
    can only emit well-formed spans, and training never spends mass on impossible sequences."""

    NEG = -1e4

    def __init__(self, tags: Sequence[str] = TAGS):
        super().__init__(len(tags), batch_first=True)
        start, trans = allowed_transitions(tags)
        self.register_buffer("start_ok", start, persistent=False)
        self.register_buffer("trans_ok", trans, persistent=False)
        self.enforce()

    @torch.no_grad()
    def enforce(self) -> None:
        self.start_transitions.masked_fill_(~self.start_ok, self.NEG)
        self.transitions.masked_fill_(~self.trans_ok, self.NEG)


@dataclass
class WordBatch:
    input_ids: torch.Tensor  # (B, L) sub-word ids, with [CLS] and [SEP]
    attention_mask: torch.Tensor  # (B, L)
    subword_shape: torch.Tensor  # (B, L) shape id of the word each sub-word belongs to (0: special/pad)
    word_index: torch.Tensor  # (B, W) position of each word's first sub-word
    word_shape: torch.Tensor  # (B, W)
    word_mask: torch.Tensor  # (B, W) bool

    def to(self, device) -> "WordBatch":
        return WordBatch(*(t.to(device) for t in (self.input_ids, self.attention_mask, self.subword_shape,
                                                  self.word_index, self.word_shape, self.word_mask)))


def subword_lengths(tokenizer, word_lists: Sequence[Sequence[str]]) -> List[List[int]]:
    """Sub-words per word (0 for a word the tokenizer drops entirely, e.g. some control chars)."""
    # Untruncated on purpose (the caller chunks long posts); verbose=False drops the length warning.
    enc = tokenizer([list(w) for w in word_lists], is_split_into_words=True, add_special_tokens=False, verbose=False)
    out = []
    for b, words in enumerate(word_lists):
        counts = [0] * len(words)
        for wid in enc.word_ids(b):
            if wid is not None:
                counts[wid] += 1
        out.append(counts)
    return out


def encode_words(tokenizer, word_lists: Sequence[Sequence[str]], max_length: int) -> WordBatch:
    """Tokenise lists of words. Every word keeps a position: a word the tokenizer maps to nothing
    (or one beyond ``max_length``, which callers avoid by chunking) reads the [UNK]/[SEP] state."""
    enc = tokenizer([list(w) for w in word_lists], is_split_into_words=True, truncation=True,
                    max_length=max_length, padding=True, return_tensors="pt")
    B, L = enc["input_ids"].shape
    W = max(1, max(len(w) for w in word_lists))
    word_index = torch.zeros((B, W), dtype=torch.long)
    word_shape_t = torch.zeros((B, W), dtype=torch.long)
    word_mask = torch.zeros((B, W), dtype=torch.bool)
    sub_shape = torch.zeros((B, L), dtype=torch.long)
    for b, words in enumerate(word_lists):
        shapes = [word_shape(w) for w in words]
        first = {}
        for pos, wid in enumerate(enc.word_ids(b)):
            if wid is None:
                continue
            sub_shape[b, pos] = shapes[wid]
            first.setdefault(wid, pos)
        last = int(enc["attention_mask"][b].sum()) - 1  # [SEP]
        for w in range(len(words)):
            word_index[b, w] = first.get(w, last)
            word_shape_t[b, w] = shapes[w]
            word_mask[b, w] = True
    return WordBatch(enc["input_ids"], enc["attention_mask"], sub_shape, word_index, word_shape_t, word_mask)


class NerModel(nn.Module):
    def __init__(self, encoder: nn.Module, hidden: int, shape_dim: int = 32, image_dim: int = 64,
                 dropout: float = 0.1, tags: Sequence[str] = TAGS, conventions: int = 1):
        super().__init__()
        self.encoder = encoder
        self.convention = None
        if conventions > 1:
            self.convention = nn.Embedding(conventions, hidden)
            nn.init.zeros_(self.convention.weight)
        self.shape_input = nn.Embedding(len(SHAPES), hidden, padding_idx=0)
        nn.init.zeros_(self.shape_input.weight)
        self.shape_output = nn.Embedding(len(SHAPES), shape_dim, padding_idx=0)
        self.image_proj = nn.Linear(FEATURE_DIM, image_dim)
        nn.init.zeros_(self.image_proj.weight)
        nn.init.zeros_(self.image_proj.bias)
        self.no_image = nn.Parameter(torch.zeros(image_dim))
        self.dropout = nn.Dropout(dropout)
        self.emit = nn.Linear(hidden + shape_dim + image_dim, len(tags))
        self.crf = ConstrainedCRF(tags)

    def input_embeddings(self) -> nn.Embedding:
        return self.encoder.get_input_embeddings()

    def emissions(self, batch: WordBatch, image_features: Optional[torch.Tensor] = None,
                  has_image: Optional[torch.Tensor] = None, convention: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Tag scores per word; ``convention``: (B,) indices into CONVENTIONS (default: the first)."""
        embeds = self.input_embeddings()(batch.input_ids) + self.shape_input(batch.subword_shape)
        if self.convention is not None:
            if convention is None:
                convention = torch.zeros(batch.input_ids.shape[0], dtype=torch.long, device=embeds.device)
            embeds = embeds + self.convention(convention)[:, None, :]
        h = self.encoder(inputs_embeds=embeds, attention_mask=batch.attention_mask).last_hidden_state
        words = torch.gather(h, 1, batch.word_index[..., None].expand(-1, -1, h.shape[-1]))
        B, W = batch.word_index.shape
        image = self.no_image.to(h.dtype).expand(B, -1)
        if image_features is not None and has_image is not None and bool(has_image.any()):
            image = image + self.image_proj(image_features.to(h.dtype)) * has_image[:, None].to(h.dtype)
        feats = torch.cat([words, self.shape_output(batch.word_shape).to(h.dtype), image[:, None].expand(-1, W, -1)], -1)
        return self.emit(self.dropout(feats))

    def partial_loss(self, emissions: torch.Tensor, allowed: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """-log P(the tag sequence is one the annotation allows), mean over the batch: the CRF's
        likelihood marginalised over what a partial annotation leaves open (``allowed``, (B, W, T)
        booleans). With exactly one allowed tag per word it is the ordinary CRF loss."""
        em = emissions.float().transpose(0, 1)
        m = mask.transpose(0, 1)
        known = em.masked_fill(~allowed.transpose(0, 1), self.crf.NEG)
        return (self.crf._compute_normalizer(em, m) - self.crf._compute_normalizer(known, m)).mean()

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> List[List[int]]:
        return self.crf.decode(emissions.float(), mask=mask)
