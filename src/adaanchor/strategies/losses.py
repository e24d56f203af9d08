"""One generic loss for every strategy: targets have the outputs' shapes, so losses are elementwise.

Normalisation choices (documented in docs/method.md):
- ``focal``: CornerNet/CenterNet form with binary targets, ``-(1-p)^g log p`` at positives and
  ``-p^g log(1-p)`` at negatives, summed and divided by the number of positives (at least 1).
- ``qfocal``: quality focal loss for soft confidence targets (strategies/assigners.py), divided by the
  summed targets.
- ``l1``: summed absolute error divided by the number of weighted *points* (weight sum / 2, x and y).
- ``mse``: SimpleBaseline's ``0.5 * mean((out - target)^2 * weight)``.
- ``ae``: associative-embedding pull + push, target = per-cell instance ids (:mod:`.ae_loss`); ``ae_hinge``: the
  same with CornerNet's hinge push (``bottomup.push=hinge``).
- ``l1_scaled``: ``sum(|out - target| * weight)`` divided by the number of *points* with a non-zero weight
  (count / 2, x and y): the weight carries a per-element scale (DEKR's ``1 / sqrt(area)`` of the pose offsets,
  :mod:`.centre`) that, unlike ``l1``, the normaliser does not cancel.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .ae_loss import PUSH_OF_KIND, ae_loss
from .base import PointTarget, Target


def focal_loss(logits: Tensor, target: Tensor, weight: Tensor, gamma: float = 2.0) -> Tensor:
    """Binary focal loss on logits; ``target`` exactly 0 or 1 (soft targets: :func:`quality_focal_loss`),
    ``weight`` 0 masks elements. All same shape (``weight`` may be a broadcast view of one value per map)."""
    return _BinaryFocal.apply(logits.float(), target, weight, float(gamma))


#: Smallest normal float32: sigmoid values below it are taken as it before the log (see _BinaryFocal).
_TINY = torch.finfo(torch.float32).tiny


class _BinaryFocal(torch.autograd.Function):
    """The focal loss with its gradient written out, in few passes over the map (the hot path of every anchor
    training step: a dense confidence map, memory-bound on a CPU).

    With ``z = x`` at positives and ``-x`` at negatives and ``q = sigmoid(z)``, both branches are
    ``-(1 - q)^g log q`` (at a negative, ``p = 1 - q``), and ``d/dz = (1 - q)^g (g q log q - (1 - q))``.

    ``log q`` is ``min(log(max(q, tiny)), z)``: ``log(sigmoid(z))`` is accurate wherever ``q`` is a normal
    float (``z > -87``), and below that ``log q = z`` to float precision, so it equals ``logsigmoid(z)`` up to
    rounding for every ``z`` and costs a third of it (``logsigmoid`` is one of the slowest element-wise ops on a
    CPU). The sign comes from the target as ``2 t - 1`` (``where`` with scalars is as slow), so the target must be
    exactly 0 or 1, which the anchor strategies' targets are; the weighted sums
    are dot products (per-map sums, then a dot product with the maps' weights, when the weight is a broadcast
    channel weight: the anchors' targets do not write it out), and the division by the number of positives is
    folded into the backward's scalar.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, target: Tensor, weight: Tensor, gamma: float) -> Tensor:
        rows = _row_weight(weight)  # (R,) when the weight is one value per map (a broadcast channel weight)
        w = rows.to(logits.dtype) if rows is not None else weight.reshape(-1).to(logits.dtype)
        t = target.to(logits.dtype)
        num_pos = _weighted_sum(t, w).clamp(min=1.0)
        sign = t.mul(2.0).sub_(1.0)  # 1 at positives, -1 at negatives (a comparison to bool is 5x the time)
        z = logits * sign
        q = torch.sigmoid(z)
        log_q = q.clamp_min(_TINY).log_()
        torch.minimum(log_q, z, out=log_q)
        q_minus = q - 1.0  # -(1 - q), exactly
        mod = q_minus * q_minus if gamma == 2.0 else q_minus.neg().pow_(gamma)
        loss = -_weighted_sum(mod * log_q, w) / num_pos
        if ctx.needs_input_grad[0]:
            grad = q_minus.addcmul_(q, log_q, value=gamma).mul_(mod).mul_(sign)  # one pass for g q log q - (1 - q)
            grad.mul_(w.view(*weight.shape[:-2], 1, 1) if rows is not None else weight)
            ctx.save_for_backward(grad, num_pos)
        return loss

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        grad, num_pos = ctx.saved_tensors
        return grad * (grad_out / num_pos), None, None, None


def _row_weight(weight: Tensor) -> Tensor | None:
    """``weight (..., h, w)`` as one value per map, ``(prod(...),)``, when it is a broadcast view of such values
    (strides 0 over the map); else None."""
    if weight.dim() < 3 or weight.stride(-1) != 0 or weight.stride(-2) != 0:
        return None
    return weight[..., 0, 0].reshape(-1)


def _weighted_sum(x: Tensor, w: Tensor) -> Tensor:
    """``sum(x * weight)`` with ``w`` the weight flattened, or one weight per map (then ``x``'s maps are summed
    first)."""
    if w.numel() == x.numel():
        return torch.dot(x.reshape(-1), w)
    return torch.dot(x.reshape(w.numel(), -1).sum(1), w)


def quality_focal_loss(logits: Tensor, target: Tensor, weight: Tensor, gamma: float = 2.0) -> Tensor:
    """Quality focal loss (GFL) on logits with soft targets ``y`` in [0, 1]: ``BCE(p, y) * |y - p|^gamma``,
    summed and divided by the summed weighted targets (at least 1), as TOOD and YOLOv8 normalise.

    With binary targets it is :func:`focal_loss` exactly (then the target sum is the number of positives).
    """
    logits = logits.float()
    p = torch.sigmoid(logits)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    d = (target - p).abs()
    if 0 < gamma < 1:
        # d^gamma has an infinite derivative at d = 0 (a saturated logit whose sigmoid is its target exactly), and
        # inf * 0 is NaN: the batch was skipped. There the factor and its gradient are 0 (the limit).
        hit = d > 0
        mod = torch.where(hit, torch.where(hit, d, 1.0).pow(gamma), 0.0)
    else:
        mod = d.pow(gamma)
    loss = bce * mod * weight
    return loss.sum() / (target * weight).sum().clamp(min=1.0)


def l1_loss(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Weighted L1 per point: ``sum(|pred - target| * w) / max(1, sum(w) / 2)``."""
    num = (weight.sum() / 2).clamp(min=1.0)
    return _WeightedL1.apply(pred.float(), target, weight, num)


class _WeightedL1(torch.autograd.Function):
    """Weighted L1 with its gradient ``sign(pred - target) * w / num`` written out (dense targets' L1).

    Five passes over the maps forward and one backward: the division by ``num`` is folded into the scalar the
    backward multiplies by, and weighting and summing are one dot product."""

    @staticmethod
    def forward(ctx, pred: Tensor, target: Tensor, weight: Tensor, num: Tensor) -> Tensor:
        diff = pred - target
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(torch.sign(diff).mul_(weight), num)
        w = weight if weight.is_contiguous() else weight.contiguous()
        return torch.dot(diff.abs_().reshape(-1), w.view(-1)) / num

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        grad, num = ctx.saved_tensors
        return grad * (grad_out / num), None, None, None


def point_l1_loss(pred: Tensor, target: PointTarget) -> Tensor:
    """:func:`l1_loss` of a :class:`PointTarget`: the same value (up to float rounding), reading ``pred`` at the
    target's elements only; the gradient is written there, zero elsewhere."""
    num = (target.weights.sum() / 2).clamp(min=1.0)
    return _PointL1.apply(pred, target.index, target.values, target.weights, num)


class _PointL1(torch.autograd.Function):
    """Weighted L1 at listed elements of ``pred`` with its gradient written out: a point target lists each element
    at most once, so the backward writes the gradient without accumulating (``index_copy_``), at about a third of the
    cost of the accumulating write that ``take``'s own backward does, and without an autograd node per op."""

    @staticmethod
    def forward(ctx, pred: Tensor, index: Tensor, values: Tensor, weights: Tensor, num: Tensor) -> Tensor:
        diff = torch.take(pred, index).float() - values
        if ctx.needs_input_grad[0]:
            ctx.save_for_backward(index, torch.sign(diff).mul_(weights), num)
            ctx.pred_meta = (pred.shape, pred.dtype)
        return torch.dot(diff.abs_(), weights) / num

    @staticmethod
    def backward(ctx, grad_out: Tensor):  # type: ignore[override]
        index, grad, num = ctx.saved_tensors
        shape, dtype = ctx.pred_meta
        out = torch.zeros(shape, dtype=dtype, device=grad.device)
        # index_copy_ rather than put_: the same write (each element listed once), and torch's deterministic mode
        # (train.deterministic) knows it as deterministic where put_ gave a warning at every run.
        out.view(-1).index_copy_(0, index, (grad * (grad_out / num)).to(dtype))
        return out, None, None, None, None


def scaled_l1_loss(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """Scale-weighted L1 per point: ``sum(|pred - target| * w) / max(1, count(w > 0) / 2)``. All same shape."""
    num = ((weight > 0).sum() / 2).clamp(min=1.0)
    return _WeightedL1.apply(pred.float(), target, weight, num)


def mse_loss(pred: Tensor, target: Tensor, weight: Tensor) -> Tensor:
    """SimpleBaseline's joints MSE: ``0.5 * mean((pred - target)^2 * weight)``."""
    return 0.5 * (((pred.float() - target) ** 2) * weight).mean()


def compute_loss(
    outputs: dict[str, Tensor],
    targets: dict[str, Target | PointTarget],
    losses: dict[str, tuple[str, float]],
    focal_gamma: float = 2.0,
) -> dict[str, Tensor]:
    """Per-head weighted losses and their sum under ``"loss"``.

    Args:
        outputs: head -> tensor; targets: head -> :class:`Target` of the same shape.
        losses: head -> (kind, weight) with kind in {"focal", "qfocal", "l1", "mse", "ae", "ae_hinge",
            "l1_scaled"}.
    """
    out: dict[str, Tensor] = {}
    total = None
    for head, (kind, w) in losses.items():
        t = targets[head]
        o = outputs[head]
        if isinstance(t, PointTarget):
            if tuple(o.shape) != t.shape or kind != "l1":
                raise ValueError(f"head '{head}': output {tuple(o.shape)} vs point target {t.shape} ({kind} loss)")
            v = point_l1_loss(o, t)
            out[f"loss_{head}"] = v
            total = w * v if total is None else total + w * v
            continue
        if o.shape != t.value.shape or o.shape != t.weight.shape:
            raise ValueError(f"head '{head}': output {tuple(o.shape)} vs target {tuple(t.value.shape)}")
        if kind == "focal":
            v = focal_loss(o, t.value, t.weight, focal_gamma)
        elif kind == "qfocal":
            v = quality_focal_loss(o, t.value, t.weight, focal_gamma)
        elif kind == "l1":
            v = l1_loss(o, t.value, t.weight)
        elif kind == "mse":
            v = mse_loss(o, t.value, t.weight)
        elif kind in PUSH_OF_KIND:
            v = ae_loss(o, t.value, t.weight, push=PUSH_OF_KIND[kind])
        elif kind == "l1_scaled":
            v = scaled_l1_loss(o, t.value, t.weight)
        else:
            raise ValueError(f"unknown loss kind {kind}")
        out[f"loss_{head}"] = v
        total = w * v if total is None else total + w * v
    out["loss"] = total if total is not None else torch.zeros(())
    return out
