"""The positives of the anchor strategies' targets (:meth:`adaanchor.strategies.anchor.AnchorStrategy.encode`): the
cells each labelled target selects from its ranking, the confidence target written at them and the offsets read
there."""

from __future__ import annotations

import torch
from torch import Tensor

from .assign_targets import owner_index, point_offsets, take_instance
from .assigners import select_cells as assign_select
from .assigners import soft_target
from .base import PointTarget


def one_instance_topk(rank: Tensor, cand: Tensor | None, gt: Tensor, valid: Tensor, h: int, w: int, topk: int,
                      stride: int, rows: Tensor | None = None) -> tuple[Tensor, PointTarget]:
    """:func:`assigned` for one instance and top-k selection, without a dense mask: the ``topk`` cells of a
    labelled target that are among its candidates (``cand``, None: every cell) are its positives, so the
    confidence target is written at them and the offsets are read there. ``rank``: ``(B, K, 1, hw)``, or
    with ``rows`` the ranks of those rows only (``AnchorStrategy._rank_rows``; an unranked row picks cell 0, not a
    positive). Returns ``conf_t (B, K, hw)`` and the offset target."""
    b, k = valid.shape[:2]
    m = min(topk, h * w)
    picked = rank.reshape(-1, h * w).topk(m, dim=-1, sorted=False).indices  # (rows, k), distinct
    # top-k returns cells outside the candidates (rank -inf) where fewer than k are candidates: not positives
    ok = None if cand is None else cand.reshape(-1, h * w).gather(1, picked)
    if rows is not None:
        picked = picked.new_zeros(b * k, m).index_copy_(0, rows, picked)
        ok = None if ok is None else ok.new_zeros(b * k, m).index_copy_(0, rows, ok)
    cells = picked.view(b, k, m)
    hit = valid.expand(b, k, m) if ok is None else valid & ok.view(b, k, m)  # every pick of a labelled target
    conf_t = torch.zeros(b, k, h * w, device=rank.device).scatter_(-1, cells, hit.float())
    return conf_t, point_offsets(gt, None, None, h, w, stride, cells=cells, cells_ok=hit)


def assigned(rank: Tensor, values: Tensor | None, r: Tensor | None, cand: Tensor | None, how: str, gt: Tensor,
             valid: Tensor, soft: bool, h: int, w: int, topk: int, dynamic_q: int,
             stride: int) -> tuple[Tensor, PointTarget]:
    """The positives of ``rank (B, K, N, hw)`` (any selection ``how``, any number of instances): the confidence
    target ``(B, K, hw)`` and the offset target, each positive regressing to the instance that ranked it
    highest among those that selected it."""
    selected, cells = assign_select(rank, values, r, cand, how, topk, dynamic_q)
    selected &= valid.unsqueeze(-1)
    owner = owner_index(rank, selected)
    positive = selected.any(dim=2) if owner is not None else selected[:, :, 0]  # (B, K, hw)
    pos_f = positive.float()
    conf_t = take_instance(soft_target(values, r, selected), owner) * pos_f if soft else pos_f
    offset_t = point_offsets(gt, positive, owner, h, w, stride,
                             cells=cells[:, :, 0] if cells is not None and owner is None else None)
    return conf_t, offset_t


__all__ = ["assigned", "one_instance_topk"]
