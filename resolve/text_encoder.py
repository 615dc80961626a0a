"""A post's text -> its vector code (``resolve.vectors``): the mean-pooled, unit-length output of a
sentence encoder, by default the offline all-MiniLM-L6-v2 (a BERT; ``runtime.bert_native`` runs it
without importing transformers).

A code that changed from one run to the next would make a second run over the same posts rewrite
their entities, so the same text must give the same code whatever the batch and the threads. In
float32 it does not: the order of a sum depends on the thread count and the batch's shape, and
about half of the vectors then round one int8 component the other way (seen: the same run on the
embedded store and on Neo4j, one after the other, wrote different codes). So each text is encoded
alone, without padding, in float64, where the rounding differences are some 1e-16 against an int8
step of about 1e-3. At 30-60 tokens a post this costs little on a CPU (docs/resolution.md has the
rate).
"""
from __future__ import annotations

from typing import Optional

import torch

from mmkg.resolve.text_settings import DEFAULT_TEXT_ENCODER
from mmkg.resolve.vectors import encode, encoder_tag
from mmkg.runtime import bert_native
from mmkg.runtime.checkpoint_io import resolve_encoder

MAX_TOKENS = 128  # a post longer than this is read from its start (tweets are far shorter)


class TextEncoder:
    """``TextEncoder(name)(text)`` -> the code of the text's vector. ``name``: a local BERT directory
    or the offline MiniLM's names (``runtime.checkpoint_io.resolve_encoder``)."""

    def __init__(self, name: str = DEFAULT_TEXT_ENCODER) -> None:
        path = resolve_encoder(name)
        self.name = name
        # The offline MiniLM under any of its names is one encoder.
        self.tag = encoder_tag(DEFAULT_TEXT_ENCODER if path == resolve_encoder(DEFAULT_TEXT_ENCODER) else name)
        if bert_native.supports(path):
            self._tok = bert_native.WordPieceTokenizer(path)
            self._model = bert_native.load_bert(path).double()
        else:  # any other encoder the user names: transformers' own classes (a local path or its cache)
            from transformers import AutoModel, AutoTokenizer

            try:
                self._tok = AutoTokenizer.from_pretrained(path)
                self._model = AutoModel.from_pretrained(path).eval().double()
            except OSError as e:
                raise ValueError(f"--resolve-encoder {name!r}: no such encoder here ({e}); "
                                 f"'none' turns text vectors off") from None

    def vector(self, text: str) -> Optional[torch.Tensor]:
        ids = self._tok.encode(" ".join(str(text).split()), add_special_tokens=True)
        if len(ids) <= 2:  # [CLS] [SEP]: nothing to read
            return None
        if len(ids) > MAX_TOKENS:
            ids = ids[:MAX_TOKENS - 1] + ids[-1:]
        with torch.inference_mode():
            x = torch.tensor([ids], dtype=torch.long)
            out = self._model(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state[0]
            v = out.mean(dim=0)
            return v / v.norm().clamp_min(1e-12)

    def __call__(self, text: str) -> str:
        """The code of ``text``'s vector, or "" for a text with no words."""
        v = self.vector(text)
        return "" if v is None else encode(v.float().numpy(), self.tag)

