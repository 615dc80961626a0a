"""The NER student as a tagger: words or raw texts in, BIO tags or character spans out.

One prediction loop serves training's validation, ``mmkg evaluate-ner`` and the pipeline. Posts
longer than the encoder's window are cut into consecutive chunks at word boundaries, so a
10,000-character post is tagged whole rather than truncated; batches are formed from
length-sorted sequences so that little of each batch is padding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

import torch

from .ner_data import TAGS, spans_from_tags
from .ner_model import NerModel, encode_words, subword_lengths
from .ner_tokenize import tokenize
from .precision import autocast, resolve_precision

CharSpan = Tuple[int, int, str]  # [start, end) in characters, type


def chunk_words(lengths: Sequence[int], budget: int) -> List[Tuple[int, int]]:
    """[start, end) word ranges whose sub-word counts fit ``budget`` (a word longer than the
    budget gets a chunk of its own and is truncated there)."""
    chunks, start, used = [], 0, 0
    for i, n in enumerate(lengths):
        if i > start and used + n > budget:
            chunks.append((start, i))
            start, used = i, 0
        used += n
    if start < len(lengths) or not chunks:
        chunks.append((start, len(lengths)))
    return chunks


@torch.no_grad()
def predict_tags(model: NerModel, tokenizer, word_lists: Sequence[Sequence[str]], max_length: int,
                 device, batch_size: int = 64, dtype: torch.dtype = torch.float32) -> List[List[str]]:
    """BIO tags for each list of words, in input order."""
    was_training = model.training
    model.eval()
    budget = max_length - 2  # [CLS] and [SEP]
    pieces: List[Tuple[int, int, int]] = []  # (sequence, start word, end word)
    nonempty = [i for i, w in enumerate(word_lists) if w]
    lengths = subword_lengths(tokenizer, [word_lists[i] for i in nonempty]) if nonempty else []
    for i, counts in zip(nonempty, lengths):
        pieces += [(i, s, e) for s, e in chunk_words(counts, budget)]
    out: List[List[str]] = [["O"] * len(w) for w in word_lists]
    order = sorted(range(len(pieces)), key=lambda k: pieces[k][2] - pieces[k][1])
    for k in range(0, len(order), batch_size):
        batch = [pieces[j] for j in order[k : k + batch_size]]
        words = [list(word_lists[i][s:e]) for i, s, e in batch]
        enc = encode_words(tokenizer, words, max_length).to(device)
        with autocast(torch.device(device), dtype):
            em = model.emissions(enc)
        for (i, s, e), path in zip(batch, model.decode(em, enc.word_mask)):
            out[i][s:e] = [TAGS[t] for t in path]
    model.train(was_training)
    return out


@dataclass
class TaggedPost:
    spans: List[CharSpan]
    words: int


class NerStudent:
    """A loaded checkpoint on a device, in the precision chosen for it."""

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", precision: str = "auto",
                 batch_size: int = 64):
        from .checkpoint import load_tokenizer
        from .ner_checkpoint import load_ner_checkpoint
        from .predict import resolve_device

        self.device = resolve_device(device)
        self.model, self.config = load_ner_checkpoint(checkpoint)
        self.model.to(self.device)
        self.dtype = resolve_precision(precision, self.device)
        self.tokenizer = load_tokenizer(self.config["encoder"])
        self.max_length = int(self.config.get("max_length", 128))
        self.batch_size = batch_size
        self.version = str(self.config.get("version", ""))

    def tag(self, word_lists: Sequence[Sequence[str]]) -> List[List[str]]:
        return predict_tags(self.model, self.tokenizer, word_lists, self.max_length, self.device,
                            self.batch_size, self.dtype)

    def detect(self, texts: Sequence[str]) -> List[TaggedPost]:
        """Character spans into each original text."""
        words = [tokenize(t) for t in texts]
        tags = self.tag([[w.text for w in ws] for ws in words])
        out = []
        for ws, ts in zip(words, tags):
            spans = [(ws[s].start, ws[e - 1].end, t) for s, e, t in spans_from_tags(ts)]
            out.append(TaggedPost(spans, len(ws)))
        return out
