"""Options of the adaptive assignment beyond the paper, from the label-assignment work in detection.

All of them act inside :meth:`AnchorStrategy.encode`, on detached outputs, per target ``g`` (one labelled
keypoint of one instance) over the cells ``A`` of the map:

- **Candidate prior** (``prior``): which cells may become positives. ``none`` is the paper (every cell);
  ``instance`` keeps the cells within ``prior_scale * sqrt(area)`` of the target (at least
  ``prior_min_cells`` cells), ``area`` being the box of the instance's labelled keypoints: a prior that
  scales with the instance, as the detection assigners keep candidates inside or near the object's box.
  A target outside the map is first moved onto it (clamped to the outer cell centres), so it keeps the
  border cells nearest to it as candidates.
- **Quality** (``quality``): the regression score ``r``. ``gaussian`` is eq. 8 with ``strategy.sigma`` in
  input pixels; ``oks`` is the COCO keypoint similarity ``exp(-d^2 / (2 area kappa_k^2))`` with
  ``kappa_k = 2 sigma_k`` (the spec's OKS sigmas) and the same instance area, so a distance is judged
  relative to the instance and the keypoint type, as the evaluation judges it.
- **Metric** (``metric``): what ranks the candidates. ``paper`` is eq. 9 (``c * r`` or ``c + r``);
  ``aligned`` is the task-aligned metric ``t = c^alpha * r^beta`` of TOOD (alpha 1, beta 6).
- **Selection** (``select``): ``topk`` is eq. 11; ``atss`` keeps the candidates whose metric is at least the
  mean plus the standard deviation of the metric over the target's candidates (ATSS's adaptive threshold);
  ``dynamic`` keeps the best ``k = max(1, floor(sum of the dynamic_q best qualities))`` candidates
  (SimOTA's dynamic k). The best candidate is always kept.
- **Soft targets** (``soft_targets``): positives are taught the normalised alignment
  ``y = min(r_A, r_max * t_A / t_max)`` (max over the target's positives; TOOD's normalisation, capped at the
  cell's own quality so that no cell is taught more confidence than its own prediction earns), with the
  quality focal loss (``qfocal``) instead of the hard 0/1 focal loss.
- **EMA assignment** (``assign_ema_decay``): the outputs that are scored come from an exponential moving
  average of the model (:mod:`adaanchor.strategies.assign_ema`), which the training loop keeps.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..errors import AdaAnchorError
from ..ranges import at_least, between, choice, each, positive

ASSIGNER_DEFAULTS: dict[str, Any] = {
    # Candidate prior: none = every cell (paper) | instance = cells within prior_scale * sqrt(instance area).
    "prior": "none",
    # Radius of the instance prior as a fraction of sqrt(area of the instance's labelled-keypoint box).
    "prior_scale": 0.25,
    # Smallest radius of the instance prior, in cells (instances with one labelled keypoint, tiny instances).
    "prior_min_cells": 1.5,
    # Selection: topk (paper eq. 11) | atss (metric >= mean + std over candidates) | dynamic (SimOTA k).
    "select": "topk",
    # dynamic: k = max(1, floor(sum of the dynamic_q highest qualities r among the candidates)).
    "dynamic_q": 10,
    # Ranking metric: paper (eq. 9, strategy.fusion) | aligned (t = c^align_alpha * r^align_beta, TOOD).
    "metric": "paper",
    # Exponent of the confidence in the aligned metric (TOOD: 1).
    "align_alpha": 1.0,
    # Exponent of the quality in the aligned metric (TOOD: 6).
    "align_beta": 6.0,
    # Positives' confidence target = normalised alignment in [0, 1], trained with the quality focal loss.
    "soft_targets": False,
    # Regression score r: gaussian (eq. 8, strategy.sigma px) | oks (per-type kappa, instance area).
    "quality": "gaussian",
    # OKS sigmas per keypoint type for quality=oks; null = the keypoint spec's.
    "oks_sigmas": None,
    # Assignment from an EMA of the model's weights with this decay (0 = off; needs the training loop).
    "assign_ema_decay": 0.0,
}

#: Named assigners: a strategy name and the options it sets (on top of the anchor-strategy defaults).
PRESETS: dict[str, dict[str, Any]] = {
    "alignanchor": {"prior": "instance", "metric": "aligned", "soft_targets": True,
                    "refine_in_score": False},
    # The paper's scoring and top-k among the cells within 3 cells of the target moved onto the map (the
    # instance prior without instance scaling): the best adaptive assigner on the dev split (docs/results.md).
    "localanchor": {"prior": "instance", "prior_scale": 0.0, "prior_min_cells": 3.0},
}

_CHOICES = {"prior": ("none", "instance"), "select": ("topk", "atss", "dynamic"),
            "metric": ("paper", "aligned"), "quality": ("gaussian", "oks")}

# Instance areas below this many square input pixels are taken as this (one labelled keypoint has area 0).
MIN_AREA = 16.0


#: Valid values of every option (applied at config time with the other strategy ranges, and by check_options).
ASSIGNER_RANGES: dict[str, Any] = {
    **{key: choice(values) for key, values in _CHOICES.items()},
    "prior_scale": at_least(0),
    "prior_min_cells": at_least(0),
    "align_alpha": at_least(0),
    "align_beta": at_least(0),
    "dynamic_q": at_least(1),
    "assign_ema_decay": between(0, 1, hi_open=True),
    # Its default, null, gives no element type: ["0.05"] or [abc] was a traceback at the first assignment. One per
    # keypoint type, checked when the strategy is built (kappas_from: the spec gives the count).
    "oks_sigmas": each(positive(), min_len=1),
}


def check_options(opts: dict[str, Any]) -> None:
    """Raise a clear error for an unknown choice or an out-of-range number (for strategies built in Python,
    without a config)."""
    for key, rng in ASSIGNER_RANGES.items():
        rng.check(f"strategy.{key}", opts[key], nullable=ASSIGNER_DEFAULTS[key] is None)


def instance_area(gt: Tensor, valid: Tensor) -> Tensor:
    """Area of the box of each instance's labelled keypoints, at least :data:`MIN_AREA`.

    Args:
        gt: ``(B, K, N, 2)`` targets; valid: ``(B, K, N)`` labelled.
    Returns:
        ``(B, 1, N)`` areas in square input pixels.
    """
    big = torch.finfo(gt.dtype).max
    v = valid.unsqueeze(-1)
    lo = gt.masked_fill(~v, big).amin(dim=1)  # (B, N, 2)
    hi = gt.masked_fill(~v, -big).amax(dim=1)
    wh = (hi - lo).clamp(min=0.0)
    wh = torch.where(valid.any(dim=1).unsqueeze(-1), wh, torch.zeros_like(wh))
    return (wh[..., 0] * wh[..., 1]).clamp(min=MIN_AREA).unsqueeze(1)


def log_quality(d2: Tensor, kind: str, sigma: float, area: Tensor | None, kappa: Tensor | None) -> Tensor:
    """Log of the regression score ``r`` from squared distances ``d2 (B, K, N, hw)`` in square input pixels.

    ``gaussian`` (eq. 8): ``log r = -d2 / (2 sigma^2)``; ``oks``: ``-d2 / (2 area kappa_k^2)`` with
    ``area (B, 1, N)`` and ``kappa (K,)``.
    """
    if kind == "gaussian":
        return d2 * (-1.0 / (2 * sigma**2))
    assert area is not None and kappa is not None
    scale = 2 * area.unsqueeze(-1) * (kappa**2).view(1, -1, 1, 1)  # (B, K, N, 1)
    return -d2 / scale


def select(rank: Tensor, values: Tensor | None, r: Tensor | None, cand: Tensor | None, how: str, topk: int,
           q: int) -> Tensor:
    """Positives per target: a bool mask ``(B, K, N, hw)`` (:func:`select_cells` without the cells)."""
    return select_cells(rank, values, r, cand, how, topk, q)[0]


def select_cells(rank: Tensor, values: Tensor | None, r: Tensor | None, cand: Tensor | None, how: str, topk: int,
                 q: int) -> tuple[Tensor, Tensor | None]:
    """Positives per target: a bool mask ``(B, K, N, hw)``, and for ``topk`` the cells it picked ``(B, K, N, k)``
    (distinct per target; every positive is among them), else None.

    Args:
        rank: ``(B, K, N, hw)``, in the order of the metric, ``-inf`` outside the candidates.
        values: the metric itself (``atss``); r: the qualities in [0, 1] (``dynamic``).
        cand: the candidate mask, or None (every cell).
    """
    hw = rank.shape[-1]
    selected = torch.zeros(rank.shape, dtype=torch.bool, device=rank.device)
    cells = None
    if how == "topk":
        # Unsorted: the same set (ties included; tested), about 3x faster on a CPU than sorting it too.
        cells = rank.topk(min(topk, hw), dim=-1, sorted=False).indices
        selected.scatter_(-1, cells, True)
    elif how == "atss":
        assert values is not None
        cmask = torch.ones_like(selected) if cand is None else cand
        zero = torch.zeros_like(values)
        n = cmask.sum(-1, keepdim=True).clamp(min=1)
        mean = torch.where(cmask, values, zero).sum(-1, keepdim=True) / n
        var = (torch.where(cmask, values - mean, zero) ** 2).sum(-1, keepdim=True) / (n - 1).clamp(min=1)
        selected = cmask & (values >= mean + var.sqrt())
        selected.scatter_(-1, rank.argmax(-1, keepdim=True), True)
    else:  # dynamic
        assert r is not None
        qq = min(q, hw)
        rq = r if cand is None else r.masked_fill(~cand, 0.0)
        k_dyn = rq.topk(qq, dim=-1, sorted=False).values.sum(-1, keepdim=True).floor().clamp(min=1)  # (B, K, N, 1)
        rank_pos = torch.arange(qq, device=rank.device).view(1, 1, 1, qq)
        selected.scatter_(-1, rank.topk(qq, dim=-1).indices, (rank_pos < k_dyn).expand(*rank.shape[:-1], qq))
    if cand is not None:  # topk and the best-candidate rule can return masked cells when few candidates exist
        selected &= cand
    return selected, cells


def soft_target(score: Tensor, r: Tensor, selected: Tensor) -> Tensor:
    """Normalised alignment ``y = min(r_A, r_max * t_A / t_max)`` at the positives, 0 elsewhere.

    Maxima are over each target's positives. All ``(B, K, N, hw)``; ``score`` must be >= 0 at positives.
    """
    t = torch.where(selected, score, torch.zeros_like(score))
    rs = torch.where(selected, r, torch.zeros_like(r))
    t_max = t.amax(-1, keepdim=True)
    r_max = rs.amax(-1, keepdim=True)
    y = torch.where(t_max > 0, r_max * t / t_max.clamp(min=torch.finfo(t.dtype).tiny), torch.zeros_like(t))
    return torch.minimum(y, rs).clamp(0.0, 1.0)


def kappas_from(opts: dict[str, Any], sigmas: Any, num_keypoints: int) -> Tensor | None:
    """Per-type OKS kappa ``2 sigma_k`` for ``quality=oks`` (``strategy.oks_sigmas``, else the spec's sigmas)."""
    if opts["quality"] != "oks":
        return None
    src = opts["oks_sigmas"] if opts["oks_sigmas"] is not None else sigmas
    if src is None:
        raise AdaAnchorError("strategy.quality=oks needs OKS sigmas: the keypoint spec has none; set strategy.oks_sigmas")
    sig = torch.as_tensor(list(src), dtype=torch.float32).reshape(-1)
    if sig.numel() != num_keypoints or not bool((sig > 0).all()):
        raise AdaAnchorError(f"strategy.oks_sigmas: need {num_keypoints} positive values, got {list(src)}")
    return 2.0 * sig
