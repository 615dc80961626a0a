"""The guide network: text encoder with entity markers, fused with an image feature, and a
classification head over the relation set.

Representation of a pair = [h_CLS ; h_«head ; h_{tail ; v_image], where v_image is a learned
"no image" vector plus, for posts that have an image, a projection of the frozen image backbone's
pooled feature. The projection starts at zero, so a model trained without images (as here: MNRE's
images are not available) gives the same answer with or without one until it is trained on
images; the image path is then exercised but cannot inject untrained noise.
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch import nn

from mmkg.guide.markers import EncodedBatch, EncodedPair, encode_pairs, pad_encoded
from mmkg.runtime.image_features import FEATURE_DIM, ImageEncoder, open_image
from mmkg.schemas.records import EntityPair


class GuideModel(nn.Module):
    def __init__(self, encoder: nn.Module, hidden: int, num_labels: int, head_hidden: int = 384, dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.image_proj = nn.Linear(FEATURE_DIM, hidden)
        nn.init.zeros_(self.image_proj.weight)
        nn.init.zeros_(self.image_proj.bias)
        self.no_image = nn.Parameter(torch.zeros(hidden))
        self.head = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(4 * hidden, head_hidden),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(head_hidden, num_labels),
        )

    def forward(
        self,
        batch: EncodedBatch,
        image_features: Optional[torch.Tensor] = None,
        has_image: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        return self.head(self.represent(batch, image_features, has_image))

    def features(self, pair_repr: torch.Tensor) -> torch.Tensor:
        """The head's hidden layer (after its activation): the pair embedding a nearest-neighbour
        memory is keyed by. In eval mode, so dropout is the identity."""
        return self.head[:-2](pair_repr)

    def represent(
        self,
        batch: EncodedBatch,
        image_features: Optional[torch.Tensor] = None,
        has_image: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """[h_CLS ; h_head ; h_tail ; v_image] for each pair."""
        out = self.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        h = out.last_hidden_state
        rows = torch.arange(h.shape[0], device=h.device)
        cls, head, tail = h[:, 0], h[rows, batch.head_index], h[rows, batch.tail_index]
        image = self.no_image.to(h.dtype).expand_as(cls)
        if image_features is not None and has_image is not None and bool(has_image.any()):
            delta = self.image_proj(image_features.to(h.dtype)) * has_image[:, None].to(h.dtype)
            image = image + delta
        return torch.cat([cls, head, tail, image], dim=-1)


ImageTransform = Callable[[object], object]


def image_inputs(
    pairs: Sequence[EntityPair],
    image_encoder_factory: Callable[[], ImageEncoder],
    device,
    dtype,
    transform: Optional[ImageTransform] = None,
):
    """(features, has_image) for a batch, or (None, None) when no pair has an image.

    Each distinct image is decoded and encoded once per batch (pairs of one post share it).
    Images that cannot be read count as absent rather than failing the batch.
    """
    if not any(p.image is not None for p in pairs):
        return None, None
    index: Dict[str, int] = {}
    images: List[object] = []
    rows: List[int] = []
    for p in pairs:
        if p.image is None:
            rows.append(-1)
            continue
        key = p.image.image_id if transform is None else f"{p.image.image_id}#{len(images)}"
        if key not in index:
            try:
                im = open_image(p.image)
            except Exception:  # noqa: BLE001 - a broken image means a text-only prediction
                rows.append(-1)
                continue
            index[key] = len(images)
            images.append(transform(im) if transform else im)
        rows.append(index[key])
    if not images:
        return None, None
    encoder = image_encoder_factory()
    feats = encoder.encode(images, device=device, dtype=dtype)
    out = torch.zeros((len(pairs), feats.shape[1]), device=device, dtype=dtype)
    has = torch.tensor([r >= 0 for r in rows], device=device)
    for i, r in enumerate(rows):
        if r >= 0:
            out[i] = feats[r]
    return out, has


def forward_pairs(
    model: GuideModel,
    tokenizer,
    pairs: Sequence[EntityPair],
    max_length: int,
    device,
    image_encoder_factory: Callable[[], ImageEncoder],
    dtype=torch.float32,
    image_transform: Optional[ImageTransform] = None,
    encoded: Optional[Sequence[EncodedPair]] = None,
    with_features: bool = False,
    typed: bool = False,
):
    """Logits for a batch of pairs; ``encoded`` (markers.encode_pair of each pair), when the
    caller has tokenised them already. ``with_features``: (logits, the head's hidden layer).
    ``typed``: typed entity markers (the mentions' types must be set, see guide.ner_types)."""
    batch = (encode_pairs(tokenizer, pairs, max_length, typed) if encoded is None else pad_encoded(tokenizer, encoded)).to(device)
    feats, has = image_inputs(pairs, image_encoder_factory, device, dtype, image_transform)
    if not with_features:
        return model(batch, feats, has)
    hidden = model.features(model.represent(batch, feats, has))
    return model.head[-1](model.head[-2](hidden)), hidden
