"""The targets of one training step, from the live model's outputs or from those of an EMA copy.

``strategy.assign_ema_decay > 0`` (docs/method.md, "Assigners") scores the outputs of an exponential moving
average of the model (:class:`adaanchor.strategies.assign_ema.AssignEMA`) instead of the live model's. The
training loop keeps that copy (:func:`make_assign_ema`), updates it after every optimizer step and saves it in
its checkpoints, so that a resumed run assigns as the uninterrupted one would.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ..strategies.assign_ema import AssignEMA
from ..strategies.base import Encoded
from .dist import DistInfo, broadcast_tensors


def anchor_strategy(strategy: Any) -> Any:
    """The dense strategy that assigns the targets: ``strategy`` itself, or the one a multi-person strategy wraps
    (bottom-up: ``inner``; centre: ``centre``)."""
    for name in ("inner", "centre"):
        inner = getattr(strategy, name, None)
        if inner is not None and hasattr(inner, "encode"):
            return inner
    return strategy


def make_assign_ema(strategy: Any, model: nn.Module) -> AssignEMA | None:
    """The EMA copy of ``model`` the assignment scores, or None when ``strategy.assign_ema_decay`` is 0 or the
    assignment is not adaptive (FixAnchor, heatmap: nothing is scored)."""
    inner = anchor_strategy(strategy)
    decay = float(getattr(inner, "opts", {}).get("assign_ema_decay", 0.0) or 0.0)
    if decay <= 0.0 or getattr(inner, "assign", None) != "adaptive":
        return None
    return AssignEMA(model, decay)


def update_ema(ema: AssignEMA, model: nn.Module, info: DistInfo) -> None:
    """One EMA update after an optimizer step, the same on every rank. The parameters are the same on all ranks
    (DDP), but without ``train.sync_bn`` each rank's BatchNorm running statistics come from its own share of the
    batch: each rank's copy then averaged other statistics, scored with them, and a resumed run (rank 0's copy on
    every rank) assigned otherwise than the uninterrupted one. Rank 0's averaged buffers go to every rank, as DDP
    sends rank 0's buffers to the live model at every forward."""
    ema.update(model)
    buffers = [b for b in ema.module.buffers() if b.dtype.is_floating_point]
    for dtype in dict.fromkeys(b.dtype for b in buffers):
        broadcast_tensors([b for b in buffers if b.dtype == dtype], info)


def encode_step(strategy: Any, ema: AssignEMA | None, images: Tensor, outputs: dict[str, Tensor],
                keypoints: Tensor, visibility: Tensor, step: int, autocast: Any) -> Encoded:
    """``strategy.encode`` of the detached ``outputs``, or, with ``ema``, of the EMA model's outputs on ``images``
    (computed under ``autocast``, a context manager factory, as the live model's are)."""
    if ema is None:
        return strategy.encode({k: v.detach() for k, v in outputs.items()}, keypoints, visibility, step=step)
    with torch.no_grad(), autocast():
        scored = ema.outputs(images)
    return strategy.encode(scored, keypoints, visibility, step=step, from_ema=True)


__all__ = ["anchor_strategy", "encode_step", "make_assign_ema", "update_ema"]
