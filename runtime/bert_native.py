"""A BERT encoder and its WordPiece tokenizer for inference, without importing transformers.

Why it exists: importing ``transformers`` and its ``AutoModel`` machinery (which pulls in
torch.distributed.tensor, torch._dynamo, sympy and scipy) was most of a run's start-up on a
2-core machine — about 2 s of the guide's 2.5 s load — for a 6-layer encoder whose forward pass
is a few lines of torch. Training, LoRA and every encoder that is not a plain BERT still go
through transformers; this is only the serving path of BERT-architecture checkpoints (the default
MiniLM is one).

The module tree and parameter names are exactly transformers' ``BertModel`` (without the pooler),
so its state dicts — the pretrained file, a full fine-tune's weights, the names LoRA merging
addresses — load unchanged; ``tests/test_bert_native.py`` checks the hidden states against
transformers' own on real text. The tokenizer is the encoder's own ``tokenizer.json`` run by the
``tokenizers`` library (what transformers' fast tokenizer wraps), with the file's padding and
truncation switched off as transformers does.
"""
from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import Any, Dict, List, Optional, Sequence

import torch
from torch import nn
from torch.nn import functional as F

from mmkg.runtime.padding import padded_length

CONFIG = "config.json"
WEIGHTS = ("model.safetensors",)
TOKENIZER = "tokenizer.json"


def read_encoder_config(path: str) -> Optional[Dict[str, Any]]:
    try:
        with open(os.path.join(path, CONFIG), encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def supports(path: str) -> bool:
    """True when ``path`` is a local BERT encoder this module computes exactly like transformers:
    absolute positions, exact GELU, a safetensors file and a tokenizer.json."""
    cfg = read_encoder_config(path)
    return bool(
        cfg
        and cfg.get("model_type") == "bert"
        and cfg.get("hidden_act", "gelu") == "gelu"
        and cfg.get("position_embedding_type", "absolute") == "absolute"
        and not cfg.get("is_decoder", False)
        and os.path.exists(os.path.join(path, TOKENIZER))
        and any(os.path.exists(os.path.join(path, w)) for w in WEIGHTS)
    )


class _Embeddings(nn.Module):
    def __init__(self, cfg: Dict[str, Any]):
        super().__init__()
        h = cfg["hidden_size"]
        self.word_embeddings = nn.Embedding(cfg["vocab_size"], h, padding_idx=cfg.get("pad_token_id", 0))
        self.position_embeddings = nn.Embedding(cfg["max_position_embeddings"], h)
        self.token_type_embeddings = nn.Embedding(cfg.get("type_vocab_size", 2), h)
        self.LayerNorm = nn.LayerNorm(h, eps=cfg.get("layer_norm_eps", 1e-12))

    def forward(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(inputs_embeds.shape[1], device=inputs_embeds.device)
        x = inputs_embeds + self.position_embeddings(positions)[None] + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, h: int):
        super().__init__()
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)


class _Output(nn.Module):
    def __init__(self, d_in: int, h: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(d_in, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class _Attention(nn.Module):
    def __init__(self, h: int, eps: float):
        super().__init__()
        self.self = _SelfAttention(h)
        self.output = _Output(h, h, eps)


class _Intermediate(nn.Module):
    def __init__(self, h: int, inner: int):
        super().__init__()
        self.dense = nn.Linear(h, inner)


class _Layer(nn.Module):
    def __init__(self, cfg: Dict[str, Any]):
        super().__init__()
        h, eps = cfg["hidden_size"], cfg.get("layer_norm_eps", 1e-12)
        self.heads = cfg["num_attention_heads"]
        self.attention = _Attention(h, eps)
        self.intermediate = _Intermediate(h, cfg["intermediate_size"])
        self.output = _Output(cfg["intermediate_size"], h, eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, n, h = x.shape
        att = self.attention.self

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(b, n, self.heads, h // self.heads).transpose(1, 2)

        q, k, v = split(att.query(x)), split(att.key(x)), split(att.value(x))
        # ``mask`` comes padded to the attention length (BertEncoder.forward): q, k, v follow it.
        extra = mask.shape[-1] - n
        if extra:
            q, k, v = F.pad(q, (0, 0, 0, extra)), F.pad(k, (0, 0, 0, extra)), F.pad(v, (0, 0, 0, extra))
        ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask.to(q.dtype))[:, :, :n]
        ctx = ctx.transpose(1, 2).reshape(b, n, h)
        x = self.attention.output.LayerNorm(self.attention.output.dense(ctx) + x)
        inner = F.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(self.output.dense(inner) + x)


class _Layers(nn.Module):
    def __init__(self, cfg: Dict[str, Any]):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(cfg) for _ in range(cfg["num_hidden_layers"]))


class BertEncoder(nn.Module):
    """BERT's encoder stack for inference (eval mode: no dropout), called like transformers'
    ``BertModel``: ``forward(input_ids | inputs_embeds, attention_mask)`` -> an object with
    ``last_hidden_state``."""

    def __init__(self, cfg: Dict[str, Any]):
        super().__init__()
        self.config = SimpleNamespace(**cfg)
        self.embeddings = _Embeddings(cfg)
        self.encoder = _Layers(cfg)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(self, input_ids: Optional[torch.Tensor] = None, attention_mask: Optional[torch.Tensor] = None,
                inputs_embeds: Optional[torch.Tensor] = None) -> SimpleNamespace:
        if inputs_embeds is None:
            inputs_embeds = self.embeddings.word_embeddings(input_ids)
        x = self.embeddings(inputs_embeds)
        if attention_mask is None:
            attention_mask = torch.ones(x.shape[:2], dtype=torch.long, device=x.device)
        # Additive mask over keys, in the computing dtype (what transformers' sdpa path builds).
        mask = torch.zeros(attention_mask.shape, dtype=x.dtype, device=x.device)
        mask = mask.masked_fill(attention_mask == 0, torch.finfo(x.dtype).min)[:, None, None, :]
        # Attention runs over a length rounded up to a multiple of 16, the padding masked: in bf16
        # on a CPU a sequence's outputs then do not depend on the batch it came in
        # (runtime/padding.py). Built once here for every layer.
        n = mask.shape[-1]
        mask = F.pad(mask, (0, padded_length(n) - n), value=torch.finfo(mask.dtype).min)
        for layer in self.encoder.layer:
            x = layer(x, mask)
        return SimpleNamespace(last_hidden_state=x)


def load_bert(path: str) -> BertEncoder:
    """The pretrained encoder at ``path`` (see :func:`supports`), in eval mode."""
    from safetensors.torch import load_file

    cfg = read_encoder_config(path)
    model = BertEncoder(cfg)
    weights = next(os.path.join(path, w) for w in WEIGHTS if os.path.exists(os.path.join(path, w)))
    state = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in load_file(weights).items()}
    state = {k: v for k, v in state.items() if not k.startswith("pooler.") and not k.endswith("position_ids")}
    model.load_state_dict(state, strict=True)
    return model.eval()


class WordPieceTokenizer:
    """The slice of transformers' tokenizer API the guide's pair encoding uses, over the
    encoder's tokenizer.json."""

    def __init__(self, path: str):
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(os.path.join(path, TOKENIZER))
        self._tok.no_padding()
        self._tok.no_truncation()
        special = _special_tokens(path)
        self.cls_token_id = self._tok.token_to_id(special.get("cls_token", "[CLS]"))
        self.sep_token_id = self._tok.token_to_id(special.get("sep_token", "[SEP]"))
        self.pad_token_id = self._tok.token_to_id(special.get("pad_token", "[PAD]"))
        self.unk_token_id = self._tok.token_to_id(special.get("unk_token", "[UNK]"))
        self._pad_token = special.get("pad_token", "[PAD]")

    def __call__(self, word_lists: Sequence[Sequence[str]], is_split_into_words: bool = True,
                 add_special_tokens: bool = True, truncation: bool = False, max_length: Optional[int] = None,
                 padding: bool = False, return_tensors: Optional[str] = None, verbose: bool = True) -> "_Batch":
        """Pre-split words to sub-word ids (the NER student's call): what transformers' fast
        tokenizer returns for the same arguments, ``word_ids(b)`` included."""
        if not is_split_into_words:
            raise ValueError("this tokenizer takes pre-split words only")
        if truncation and max_length:
            self._tok.enable_truncation(max_length)
        if padding:
            self._tok.enable_padding(pad_id=self.pad_token_id, pad_token=self._pad_token)
        try:
            encs = self._tok.encode_batch([list(w) for w in word_lists], is_pretokenized=True,
                                          add_special_tokens=add_special_tokens)
        finally:
            self._tok.no_truncation()
            self._tok.no_padding()
        return _Batch(encs, return_tensors == "pt")

    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        return self._tok.encode(text, add_special_tokens=add_special_tokens).ids

    def convert_tokens_to_ids(self, token: str) -> int:
        i = self._tok.token_to_id(token)
        return self.unk_token_id if i is None else i


class _Batch(dict):
    """``input_ids`` and ``attention_mask`` (lists, or tensors with ``return_tensors="pt"``) and
    each row's word ids, like transformers' BatchEncoding."""

    def __init__(self, encodings, as_tensors: bool):
        ids = [e.ids for e in encodings]
        mask = [e.attention_mask for e in encodings]
        if as_tensors:
            ids, mask = torch.tensor(ids, dtype=torch.long), torch.tensor(mask, dtype=torch.long)
        super().__init__(input_ids=ids, attention_mask=mask)
        self._encodings = encodings

    def word_ids(self, b: int) -> List[Optional[int]]:
        return self._encodings[b].word_ids


def _special_tokens(path: str) -> Dict[str, str]:
    try:
        with open(os.path.join(path, "special_tokens_map.json"), encoding="utf-8") as f:
            raw = json.load(f)
    except (OSError, ValueError):
        return {}
    return {k: (v["content"] if isinstance(v, dict) else v) for k, v in raw.items() if isinstance(v, (str, dict))}
