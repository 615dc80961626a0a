r"""FTL, the flexible threshold loss, and the thresholded decision it implies.

Class 0 (MNRE's ``None``) is not a relation but a learned threshold class TH, as in the adaptive
threshold loss of ATLOP (Zhou et al. 2021). A pair has a relation r when its logit beats the
threshold's: z_r > z_TH. The threshold is made *flexible per class* by frequency-aware margins
(logit adjustment, Menon et al. 2021) that are added during training only.

With logits z in R^C (C = 23, index 0 = TH), gold label y, relation priors pi_r (frequency of r
among the positive training pairs, add-one smoothed) and temperature tau >= 0:

    m_0 = 0,      m_r = tau * (log pi_r - mean_{r' > 0} log pi_{r'})        for r > 0
    zhat = z + m                                                            (training only)

    if y != 0:   L = -log( e^{zhat_y} / (e^{zhat_y} + e^{zhat_0}) )             (positive above TH)
                     -log( e^{zhat_0} / sum_{r != y} e^{zhat_r} )               (TH above negatives)
    if y == 0:   L = -log( e^{zhat_0} / sum_{r} e^{zhat_r} )                    (TH above all)

    loss = mean over the batch.

A frequent relation gets a positive margin in training, so the model learns a lower raw logit for
it; a rare one a negative margin, so it must clear the threshold by more. At inference the raw
logits are used, which shifts decisions towards the long tail. tau = 0 is exactly ATLOP's loss.

Decision (``decide``): r* = argmax_{r > 0} (z_r - o_r); the label is r* if z_{r*} - o_{r*} > z_0,
else None. o_r are per-class offsets (a global offset plus optional per-class ones) stored as the
checkpoint's thresholds; with o = 0 and plain cross-entropy training this is the ordinary argmax.
"""
from __future__ import annotations

import math
from typing import Dict, Optional, Sequence

import torch
import torch.nn.functional as F

TH = 0


def class_priors(label_ids: Sequence[int], num_classes: int) -> torch.Tensor:
    """Add-one smoothed frequency of each relation among positive examples (index 0 unused: 1)."""
    counts = torch.ones(num_classes)
    for y in label_ids:
        if y != TH:
            counts[y] += 1
    priors = counts / counts[1:].sum()
    priors[TH] = 1.0
    return priors


def flexible_margins(priors: torch.Tensor, tau: float) -> torch.Tensor:
    log_p = torch.log(priors)
    m = tau * (log_p - log_p[1:].mean())
    m[TH] = 0.0
    return m


class FlexibleThresholdLoss(torch.nn.Module):
    def __init__(self, priors: Optional[torch.Tensor] = None, tau: float = 1.0, num_classes: int = 23):
        super().__init__()
        if priors is None:
            priors = torch.ones(num_classes)
        self.register_buffer("margins", flexible_margins(priors.float(), tau))

    def forward(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        z = logits.float() + self.margins
        c = z.shape[1]
        onehot = F.one_hot(labels, c).bool()
        positive = labels != TH
        neg_inf = -1e30  # finite, so that masked entries times 0 stay 0
        # Positive class vs TH only (for y == 0 only TH is left and the term is 0).
        keep1 = onehot.clone()
        keep1[:, TH] = True
        z1 = z.masked_fill(~keep1, neg_inf)
        loss1 = -(F.log_softmax(z1, dim=-1) * onehot).sum(-1) * positive.float()
        # TH vs every non-gold class (for y == 0 that is all classes).
        keep2 = ~onehot
        keep2[:, TH] = True
        z2 = z.masked_fill(~keep2, neg_inf)
        loss2 = -F.log_softmax(z2, dim=-1)[:, TH]
        return (loss1 + loss2).mean()


def offsets_vector(thresholds: Optional[Dict], num_classes: int) -> torch.Tensor:
    """Per-class decision offsets from a checkpoint's ``thresholds`` dict."""
    o = torch.zeros(num_classes)
    if not thresholds:
        return o
    o[1:] += float(thresholds.get("global_offset", 0.0))
    for i, v in (thresholds.get("per_class") or {}).items():
        o[int(i)] += float(v)
    o[TH] = 0.0
    return o


def decide(logits: torch.Tensor, offsets: Optional[torch.Tensor] = None,
           allowed: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Label ids after the threshold: best relation if it clears TH (minus its offset), else 0.
    ``allowed`` (N, C booleans): the relations each pair may take; the best is sought among them."""
    z = logits.float()
    if offsets is not None:
        z = z - offsets.to(z.device)
    if allowed is not None:  # TH is always allowed: "no relation" fits any pair
        z = z.masked_fill(~allowed.to(z.device), float("-inf"))
    best = z[:, 1:].argmax(dim=-1) + 1
    best_score = z.gather(1, best[:, None])[:, 0]
    return torch.where(best_score > z[:, TH], best, torch.zeros_like(best))


def log_prior_gap(priors: torch.Tensor) -> float:
    """Spread of the log priors (for logs: how strong the margins are)."""
    lp = torch.log(priors[1:])
    return float(lp.max() - lp.min()) if len(lp) else math.nan
