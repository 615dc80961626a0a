"""The NER student as a tagger: words or raw texts in, BIO tags or character spans out.

One prediction loop serves training's validation, ``mmkg evaluate-ner`` and the pipeline. Posts
longer than the encoder's window are cut into consecutive chunks at word boundaries, so a
10,000-character post is tagged whole rather than truncated; batches are formed from
length-sorted sequences so that little of each batch is padding.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import torch

from mmkg.ner.checkpoint import conventions_of, load_ner_checkpoint, serving_convention
from mmkg.ner.data import TAGS, spans_from_tags
from mmkg.ner.model import NerModel, encode_words, subword_lengths
from mmkg.ner.tokens import tokenize
from mmkg.runtime.checkpoint_io import load_tokenizer
from mmkg.runtime.precision import autocast, resolve_device, resolve_precision

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
                 device, batch_size: int = 64, dtype: torch.dtype = torch.float32,
                 o_penalties: Sequence[float] = (0.0,), convention: int = 0) -> List[List[List[str]]]:
    """BIO tags for each list of words, in input order, once per entry of ``o_penalties``.

    A penalty is subtracted from every word's O score before Viterbi: 0 is the model's own
    answer; a positive one decodes a recall-leaning reading (more and longer spans) from the same
    forward pass, which is how the pipeline proposes extra candidate entities. ``convention``:
    the index of the annotation convention to follow (ner_model.CONVENTIONS).
    """
    was_training = model.training
    model.eval()
    budget = max_length - 2  # [CLS] and [SEP]
    pieces: List[Tuple[int, int, int]] = []  # (sequence, start word, end word)
    nonempty = [i for i, w in enumerate(word_lists) if w]
    lengths = subword_lengths(tokenizer, [word_lists[i] for i in nonempty]) if nonempty else []
    for i, counts in zip(nonempty, lengths):
        pieces += [(i, s, e) for s, e in chunk_words(counts, budget)]
    out = [[["O"] * len(w) for w in word_lists] for _ in o_penalties]
    order = sorted(range(len(pieces)), key=lambda k: pieces[k][2] - pieces[k][1])
    for k in range(0, len(order), batch_size):
        batch = [pieces[j] for j in order[k : k + batch_size]]
        words = [list(word_lists[i][s:e]) for i, s, e in batch]
        enc = encode_words(tokenizer, words, max_length).to(device)
        with autocast(torch.device(device), dtype):
            em = model.emissions(enc, convention=torch.full((len(batch),), convention, device=device)).float()
        for v, penalty in enumerate(o_penalties):
            scores = em if not penalty else torch.cat([em[..., :1] - penalty, em[..., 1:]], dim=-1)
            for (i, s, e), path in zip(batch, model.decode(scores, enc.word_mask)):
                out[v][i][s:e] = [TAGS[t] for t in path]
    model.train(was_training)
    return out


@dataclass
class TaggedPost:
    spans: List[CharSpan]  # the model's own reading
    words: int
    candidates: List[CharSpan] = field(default_factory=list)  # extra spans of the recall-leaning readings


class NerStudent:
    """A loaded checkpoint on a device, in the precision chosen for it."""

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", precision: str = "auto",
                 batch_size: int = 64, convention: Optional[str] = None):
        """``convention``: whose entity boundaries to draw (ner_model.CONVENTIONS, among those the
        checkpoint was trained on); by default the one its trainer chose for serving."""
        self.device = resolve_device(device)
        self.model, self.config = load_ner_checkpoint(checkpoint)
        self.model.to(self.device)
        self.dtype = resolve_precision(precision, self.device)
        self.tokenizer = load_tokenizer(self.config["encoder"], native=True)
        self.max_length = int(self.config.get("max_length", 128))
        self.batch_size = batch_size
        self.version = str(self.config.get("version", ""))
        known = conventions_of(self.config)
        self.convention = convention or serving_convention(self.config)
        if self.convention not in known:
            raise ValueError(f"NER checkpoint {self.version!r} knows the conventions {list(known)}, "
                             f"not {self.convention!r}")
        self.convention_index = known.index(self.convention)

    def tag(self, word_lists: Sequence[Sequence[str]], o_penalties: Sequence[float] = (0.0,)) -> List[List[List[str]]]:
        return predict_tags(self.model, self.tokenizer, word_lists, self.max_length, self.device,
                            self.batch_size, self.dtype, o_penalties, self.convention_index)

    def detect(self, texts: Sequence[str], recall_penalty: float = 0.0) -> List[TaggedPost]:
        """Character spans into each original text. With ``recall_penalty`` > 0 the same forward
        pass is decoded a second time with that much taken off every O score; its spans that the
        first reading lacks come back as ``candidates`` (they may overlap the first reading's)."""
        words = [tokenize(t) for t in texts]
        penalties = (0.0, recall_penalty) if recall_penalty > 0 else (0.0,)
        variants = self.tag([[w.text for w in ws] for ws in words], penalties)
        out = []
        for n, ws in enumerate(words):
            readings = [[(ws[s].start, ws[e - 1].end, t) for s, e, t in spans_from_tags(tags[n])] for tags in variants]
            primary = readings[0]
            extra = sorted({sp for r in readings[1:] for sp in r} - set(primary))
            out.append(TaggedPost(primary, len(ws), extra))
        return out
