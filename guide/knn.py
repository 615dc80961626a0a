"""A nearest-neighbour vote over the training pairs, mixed with the guide's classifier.

The classifier's last layer has to carry every relation in a few weights; labels with a handful
of training pairs rarely clear the threshold. A memory of the training pairs' embeddings (the
head's hidden layer, L2-normalised) lets a pair borrow the labels of the training pairs it sits
closest to (Khandelwal et al.'s kNN-LM; Wan et al.'s kNN-RE):

    p_knn(r) = sum_{i in top-k, y_i = r} exp(cos(q, k_i) / T)  /  sum_{i in top-k} exp(cos(q, k_i) / T)
    p(r)     = (1 - w) * softmax(z)(r) + w * p_knn(r)

and the guide decides on ``log p`` exactly as on logits (``ftl.decide``: the best relation if
it beats the None/threshold class after the tuned offset). ``w = 0`` is the classifier alone.

The memory lives next to the checkpoint's weights (``knn.safetensors``) with ``k``, ``T`` and
``w`` in ``config.json["knn"]``; ``guide.training.knn_build`` computes it from a training split and picks
the three on the validation split.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Dict, Optional

import torch

MEMORY = "knn.safetensors"


@dataclass(frozen=True)
class KnnSettings:
    k: int = 16
    temperature: float = 0.1
    weight: float = 0.0  # share of the vote in the mixture; 0 = classifier only

    def to_json(self) -> Dict[str, Any]:
        return {"k": self.k, "temperature": self.temperature, "weight": self.weight}

    @classmethod
    def from_json(cls, d: Optional[Dict[str, Any]]) -> Optional["KnnSettings"]:
        if not d:
            return None
        return cls(int(d["k"]), float(d["temperature"]), float(d["weight"]))


class KnnMemory:
    """Normalised keys (N, d) and their label ids (N,)."""

    def __init__(self, keys: torch.Tensor, labels: torch.Tensor, num_labels: int):
        if keys.shape[0] != labels.shape[0] or keys.shape[0] == 0:
            raise ValueError(f"kNN memory needs as many labels as keys (got {keys.shape[0]} keys, {labels.shape[0]} labels)")
        self.keys = torch.nn.functional.normalize(keys.float(), dim=-1)
        self.labels = labels.long()
        self.num_labels = num_labels

    def vote(self, queries: torch.Tensor, k: int, temperature: float, exclude_self: bool = False) -> torch.Tensor:
        """p_knn (B, num_labels) for ``queries`` (B, d). ``exclude_self`` drops each query's best
        match, for scoring the memory's own pairs."""
        q = torch.nn.functional.normalize(queries.float(), dim=-1)
        sims = q @ self.keys.T
        kk = min(k + int(exclude_self), self.keys.shape[0])
        top, idx = sims.topk(kk, dim=-1)
        if exclude_self:
            top, idx = top[:, 1:], idx[:, 1:]
        w = torch.softmax(top / temperature, dim=-1)
        out = torch.zeros(q.shape[0], self.num_labels)
        out.scatter_add_(1, self.labels[idx], w)
        return out

    def save(self, directory: str) -> None:
        from safetensors.torch import save_file

        save_file({"keys": self.keys.to(torch.float16).contiguous(), "labels": self.labels.to(torch.int16).contiguous()},
                  os.path.join(directory, MEMORY))

    @classmethod
    def load(cls, directory: str, num_labels: int) -> "KnnMemory":
        from safetensors.torch import load_file

        t = load_file(os.path.join(directory, MEMORY))
        return cls(t["keys"], t["labels"], num_labels)


def mix(logits: torch.Tensor, knn_probs: torch.Tensor, weight: float) -> torch.Tensor:
    """log((1 - w) softmax(logits) + w p_knn): what the guide decides on and reports as its
    distribution. Floored so that a label neither side supports keeps a finite score."""
    if weight <= 0.0:
        return logits
    p = (1.0 - weight) * torch.softmax(logits.float(), dim=-1) + weight * knn_probs
    return torch.log(p.clamp_min(1e-12))
