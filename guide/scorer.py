"""The trained guide as a scorer: pairs in, ``RelationScores`` out.

``Guide`` is what the Beam ModelHandler loads once per worker process; ``predict_split`` scores
an MNRE split file (used by ``mmkg evaluate`` and by calibration).
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import torch

from mmkg.guide.checkpoint import load_checkpoint
from mmkg.guide.ftl import decide, offsets_vector
from mmkg.guide.knn import KnnMemory, KnnSettings, mix
from mmkg.guide.markers import EncodedPair, encode_pair
from mmkg.guide.model import forward_pairs
from mmkg.guide.ner_types import type_pairs
from mmkg.guide.settings import DEFAULT_CHECKPOINT
from mmkg.ner.tagger import NerStudent
from mmkg.runtime.checkpoint_io import load_tokenizer
from mmkg.runtime.image_features import ImageEncoder
from mmkg.runtime.padding import padded_rows
from mmkg.runtime.precision import autocast, resolve_device, resolve_precision
from mmkg.schemas.mnre_split import read_mnre
from mmkg.schemas.records import EntityPair, RelationScores
from mmkg.schemas.relations import label_allows


class Guide:
    """A loaded checkpoint computing in ``precision`` (runtime.precision: ``auto`` is fp16 on CUDA,
    bf16 on CPUs with native bf16, else fp32).

    On CUDA the weights themselves are cast (the half-precision path); on a CPU they stay fp32
    and the forward pass runs under autocast, which keeps softmax and layer norm in fp32: cast
    weights would put those in bf16 too, and bf16's 8-bit mantissa there moves decisions."""

    def __init__(self, checkpoint: Optional[str] = None, device: str = "auto", precision: str = "auto",
                 sub_batch_size: int = 32, use_knn: bool = True, ner_checkpoint: Optional[str] = None):
        """``ner_checkpoint``: for a guide with typed markers, the NER student that types mentions
        given without a type (default: the shipped one; it must be the version the guide was
        trained with, whose types it learned to read)."""
        self.sub_batch_size = sub_batch_size
        self.checkpoint = checkpoint or DEFAULT_CHECKPOINT
        self.device = resolve_device(device)
        model, config = load_checkpoint(self.checkpoint)
        self.precision = precision
        self.compute_dtype = resolve_precision(precision, self.device)
        self.dtype = self.compute_dtype if self.device.type == "cuda" else torch.float32  # of the weights
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.config = config
        self.labels = tuple(config["labels"])
        self._allowed_rows: Dict[Tuple[Optional[str], Optional[str]], torch.Tensor] = {}
        self.version = str(config.get("version", ""))
        self.max_length = int(config.get("max_length", 64))
        self.offsets = offsets_vector(config.get("thresholds"), len(self.labels))
        self.tokenizer = load_tokenizer(config["encoder"], native=True)
        self._image_encoder: Optional[ImageEncoder] = None
        self.typed_by: Optional[dict] = config.get("typed_markers")  # the NER student that typed its training pairs
        self.typed_markers = self.typed_by is not None
        self.ner_checkpoint = ner_checkpoint
        self._ner: Optional[NerStudent] = None
        # The checkpoint's nearest-neighbour memory, when it has one with a non-zero share
        # (guide.knn); its offsets were tuned on the mixture, so the two go together.
        self.knn_settings = KnnSettings.from_json(config.get("knn")) if use_knn else None
        self.knn: Optional[KnnMemory] = None
        if self.knn_settings is not None and self.knn_settings.weight > 0:
            self.knn = KnnMemory.load(self.checkpoint, len(self.labels))

    def image_encoder(self) -> ImageEncoder:
        if self._image_encoder is None:
            self._image_encoder = ImageEncoder().to(device=self.device, dtype=self.dtype)
        return self._image_encoder

    def typed(self, pairs: Sequence[EntityPair]) -> Sequence[EntityPair]:
        """``pairs`` as the model reads them: with typed markers, every untyped mention typed by
        the NER student (loaded on first use); otherwise unchanged."""
        if not self.typed_markers or all(p.head.type and p.tail.type for p in pairs):
            return pairs
        if self._ner is None:
            ner = NerStudent(self.ner_checkpoint, str(self.device), self.precision, convention=self.typed_by["convention"])
            if ner.version != self.typed_by["ner"]:
                raise ValueError(f"guide {self.version!r} was trained on types from NER student {self.typed_by['ner']!r}; "
                                 f"{ner.version!r} would give it types it has not learned to read")
            self._ner = ner
        return type_pairs(self._ner, pairs)

    @torch.no_grad()
    def _forward(self, pairs: Sequence[EntityPair], encoded: Optional[Sequence[EncodedPair]], with_features: bool):
        with autocast(self.device, self.compute_dtype if self.device.type == "cpu" else torch.float32):
            return forward_pairs(self.model, self.tokenizer, pairs, self.max_length, self.device, self.image_encoder,
                                 self.dtype, encoded=encoded, with_features=with_features, typed=self.typed_markers)

    def logits(self, pairs: Sequence[EntityPair], encoded: Optional[Sequence[EncodedPair]] = None) -> torch.Tensor:
        """Scores of one batch, padded to its longest pair and to a multiple of ``ROW_MULTIPLE``
        pairs: the classifier's logits, or with a kNN memory the log of its mixture with the
        neighbours' vote (decided on the same way)."""
        if not pairs:
            return torch.zeros((0, len(self.labels)))
        if encoded is None:
            pairs = self.typed(pairs)
        n = len(pairs)
        # Rows to a fixed multiple, so that a pair's scores do not depend on its batch (runtime/padding.py).
        fill = padded_rows(n) - n
        pairs = list(pairs) + [pairs[-1]] * fill
        if encoded is not None:
            encoded = list(encoded) + [encoded[-1]] * fill
        if self.knn is None:
            return self._forward(pairs, encoded, False).float().cpu()[:n]
        logits, hidden = self._forward(pairs, encoded, True)
        s = self.knn_settings
        return mix(logits.float().cpu(), self.knn.vote(hidden.float().cpu(), s.k, s.temperature), s.weight)[:n]

    def logits_and_features(self, pairs: Sequence[EntityPair], batch_size: int = 64):
        """(classifier logits, head hidden layer) of every pair in input order, length-sorted
        batches; what a kNN memory is built and tuned from."""
        pairs = self.typed(pairs)
        width = [0]

        def forward(batch: Sequence[EntityPair]) -> torch.Tensor:
            logits, hidden = self._forward(batch, None, True)
            width[0] = logits.shape[1]
            return torch.cat([logits.float(), hidden.float()], dim=-1)

        both = logits_in_order(forward, pairs, batch_size)
        return both[:, : width[0]], both[:, width[0]:]

    def logits_by_length(self, pairs: Sequence[EntityPair], batch_size: Optional[int] = None) -> torch.Tensor:
        """Logits in input order. Each pair is tokenised once; pairs are sorted by token length and
        cut into batches of at most ``batch_size`` (default ``sub_batch_size``), so that a batch
        pads to about its own pairs' length instead of the longest pair's of all."""
        items = [(p, encode_pair(self.tokenizer, p, self.max_length, self.typed_markers)) for p in self.typed(pairs)]

        def forward(batch: Sequence[Tuple[EntityPair, EncodedPair]]) -> torch.Tensor:
            return self.logits([p for p, _ in batch], [e for _, e in batch])

        out = logits_in_order(forward, items, batch_size or self.sub_batch_size, length=lambda it: len(it[1][0]))
        return out if len(items) else torch.zeros((0, len(self.labels)))

    def allowed_labels(self, pairs: Sequence[EntityPair]) -> torch.Tensor:
        """(N, C) booleans: the labels each pair may take given its mentions' types."""
        if not pairs:
            return torch.ones((0, len(self.labels)), dtype=torch.bool)
        return torch.stack([self._allowed_row(p.head.type, p.tail.type) for p in pairs])

    def _allowed_row(self, head_type: Optional[str], tail_type: Optional[str]) -> torch.Tensor:
        # A handful of type pairs cover every pair of a run: each row is computed once per worker.
        key = (head_type, tail_type)
        row = self._allowed_rows.get(key)
        if row is None:
            row = torch.tensor([label_allows(label, head_type, tail_type) for label in self.labels], dtype=torch.bool)
            self._allowed_rows[key] = row
        return row

    def scores_from_logits(self, pairs: Sequence[EntityPair], logits: torch.Tensor, top_k: int = 3) -> List[RelationScores]:
        probs = torch.softmax(logits, dim=-1)
        # A label whose entity types contradict the pair's known types (a person CONTAINing a
        # place) is never decided nor offered to the refiner; its probability stays as computed.
        allowed = self.allowed_labels(pairs)
        decisions = decide(logits, self.offsets, allowed).tolist()
        k = max(1, min(top_k, len(self.labels)))
        _, top_i = probs.masked_fill(~allowed, -1.0).topk(k, dim=-1)
        top_p = probs.gather(1, top_i)
        out = []
        for n, pair in enumerate(pairs):
            row = probs[n].tolist()
            d = decisions[n]
            out.append(
                RelationScores(
                    pair=pair,
                    labels=self.labels,
                    probs=tuple(row),
                    candidates=tuple((self.labels[i], p) for i, p, ok in zip(top_i[n].tolist(), top_p[n].tolist(),
                                                                             allowed[n, top_i[n]].tolist()) if ok),
                    decision=self.labels[d],
                    confidence=row[d],
                    model_version=self.version,
                )
            )
        return out

    def score(self, pairs: Sequence[EntityPair], top_k: int = 3, batch_size: Optional[int] = None) -> List[RelationScores]:
        """Scores in input order, computed in length-sorted batches (see logits_by_length)."""
        return self.scores_from_logits(pairs, self.logits_by_length(pairs, batch_size), top_k)


Item = TypeVar("Item")


@torch.no_grad()
def logits_in_order(
    forward: Callable[[Sequence[Item]], torch.Tensor], pairs: Sequence[Item], batch_size: int = 64,
    length: Callable[[Item], int] = lambda pair: len(pair.text),
) -> torch.Tensor:
    """``forward``'s logits for every pair, in input order; batches are formed from pairs sorted
    by ``length`` (by default the text's, a proxy for its tokens) to cut padding. The one
    prediction loop: the pipeline, evaluation, calibration and training's validation all score
    through it."""
    order = sorted(range(len(pairs)), key=lambda i: length(pairs[i]))
    out: Optional[torch.Tensor] = None
    for k in range(0, len(order), batch_size):
        idx = order[k : k + batch_size]
        logits = forward([pairs[i] for i in idx]).float().cpu()
        if out is None:
            out = torch.zeros((len(pairs), logits.shape[-1]))
        out[idx] = logits
    return out if out is not None else torch.zeros((0, 0))


def predict_pairs(guide: Guide, pairs: Sequence[EntityPair], batch_size: int = 64, top_k: int = 3) -> List[RelationScores]:
    """Scores in input order."""
    return guide.score(pairs, top_k, batch_size)


def predict_split(
    path: str,
    checkpoint: Optional[str] = None,
    image_dir: Optional[str] = None,
    batch_size: int = 64,
    device: str = "auto",
    top_k: int = 3,
    limit: Optional[int] = None,
    guide: Optional[Guide] = None,
    precision: str = "auto",
) -> List[RelationScores]:
    """Guide scores for every instance of an MNRE split file, in file order (``pair.gold`` holds
    the gold label)."""
    guide = guide or Guide(checkpoint, device, precision)
    return predict_pairs(guide, read_mnre(path, image_dir, limit), batch_size, top_k)
