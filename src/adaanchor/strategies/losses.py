"""One generic loss for every strategy: targets have the outputs' shapes, so losses are elementwise.

Normalisation choices (documented in docs/method.md):
- ``focal``: CornerNet/CenterNet form with binary targets, ``-(1-p)^g log p`` at positives and
  ``-p^g log(1-p)`` at negatives, summed and divided by the number of positives (at least 1).
- ``l1``: summed absolute error divided by the number of weighted *points* (weight sum / 2, x and y).
- ``mse``: SimpleBaseline's ``0.5 * mean((out - target)^2 * weight)``.
- ``ae``: associative-embedding pull + push, target = per-cell instance ids (:mod:`.ae_loss`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .ae_loss import ae_loss
from .base import Target


def focal_loss(logits: Tensor, target: Tensor, weight: Tensor, gamma: float = 2.0) -> Tensor:
    """Binary focal loss on logits; ``target`` in {0, 1}, ``weight`` 0 masks elements. All same shape."""
    logits = logits.float()
    p = torch.sigmoid(logits)
    # log-sigmoid forms are stable for large |logits|.
    pos = -((1 - p) ** gamma) * F.logsigmoid(logits)
    neg = -(p**gamma) * F.logsigmoid(-logits)
    loss = torch.where(target > 0.5, pos, neg) * weight
    num_pos = ((target > 0.5).float() * weight).sum().clamp(min=1.0)
    return loss.sum() / num_pos


def l1_loss(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Weighted L1 per point: ``sum(|pred - target| * w) / max(1, sum(w) / 2)``."""
    num = (weight.sum() / 2).clamp(min=1.0)
    return ((pred.float() - target).abs() * weight).sum() / num


def mse_loss(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """SimpleBaseline's joints MSE: ``0.5 * mean((pred - target)^2 * weight)``."""
    return 0.5 * (((pred.float() - target) ** 2) * weight).mean()


def compute_loss(
    outputs: dict[str, Tensor],
    targets: dict[str, Target],
    losses: dict[str, tuple[str, float]],
    focal_gamma: float = 2.0,
) -> dict[str, Tensor]:
    """Per-head weighted losses and their sum under ``"loss"``.

    Args:
        outputs: head -> tensor; targets: head -> :class:`Target` of the same shape.
        losses: head -> (kind, weight) with kind in {"focal", "l1", "mse", "ae"}.
    """
    out: dict[str, Tensor] = {}
    total = None
    for head, (kind, w) in losses.items():
        t = targets[head]
        o = outputs[head]
        if o.shape != t.value.shape or o.shape != t.weight.shape:
            raise ValueError(f"head '{head}': output {tuple(o.shape)} vs target {tuple(t.value.shape)}")
        if kind == "focal":
            v = focal_loss(o, t.value, t.weight, focal_gamma)
        elif kind == "l1":
            v = l1_loss(o, t.value, t.weight)
        elif kind == "mse":
            v = mse_loss(o, t.value, t.weight)
        elif kind == "ae":
            v = ae_loss(o, t.value, t.weight)
        else:
            raise ValueError(f"unknown loss kind {kind}")
        out[f"loss_{head}"] = v
        total = w * v if total is None else total + w * v
    out["loss"] = total if total is not None else torch.zeros(())
    return out
