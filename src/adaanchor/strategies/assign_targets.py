"""The tensor work of the anchor assignment, written for speed on small maps (the training step's hot path).

Every per-target quantity has the shape ``(B, K, N, hw)``: image, keypoint type, instance, cell (row-major).
What makes it fast, with the same results as a direct implementation (tested against one):
- squared cell-to-target distances come from the separable grid (``(cy - gy)^2 + (cx - gx)^2``), not ``cdist``;
- the paper's ranking ``c * r`` is taken in the log domain, ``log c - d^2 / (2 sigma^2)``: the same order, and
  no ``exp`` of large negative numbers (denormals are slow on CPUs); values are exponentiated only where an
  option needs them;
- coarse and refined points are computed in cell coordinates and sampled with one ``grid_sample`` call;
- targets are written straight in the head layout ``(B, 2K, h, w)`` (x of type k at channel 2k, y at 2k + 1);
  the offset targets only at their cells (:func:`point_offsets`), so that the L1 losses touch those alone;
- with one instance and top-k selection, only the labelled targets' rows are ranked (:func:`labelled_rows`,
  :func:`take_rows`): an unlabelled target has no positives, and the ranking of its row, top-k included, was a
  fifth of the encode on ``benchmarks/speed.py``'s batch, where a third of the targets are unlabelled (real data
  leaves some unlabelled; the demo's synthetic figures label every keypoint, and gain nothing from it).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..coords import input_to_cell
from ..tensor_cache import constant_cache
from .base import PointTarget


def axis_centres(n: int, stride: int, device: torch.device) -> Tensor:
    """Centres of ``n`` cells along one axis in input pixels, ``(n,)`` (the values of ``coords.cell_centers``)."""
    return torch.arange(n, device=device, dtype=torch.float32) * stride + (stride - 1) / 2.0


def cell_distances2(gt: Tensor, h: int, w: int, stride: int) -> Tensor:
    """Squared distance of every cell centre to every target, ``(B, K, N, hw)`` in square input pixels.

    Args:
        gt: ``(B, K, N, 2)`` targets in input pixels.
    """
    b, k, n, _ = gt.shape
    cx, cy = axis_centres(w, stride, gt.device), axis_centres(h, stride, gt.device)
    dy2 = (cy - gt[..., 1:2]) ** 2  # (B, K, N, h)
    dx2 = (cx - gt[..., 0:1]) ** 2  # (B, K, N, w)
    return dy2.unsqueeze(-1).add(dx2.unsqueeze(-2)).view(b, k, n, h * w)


def clamp_to_map(xy: Tensor, h: int, w: int, stride: int) -> Tensor:
    """Points ``(..., 2)`` clamped to the rectangle of the outermost cell centres of an ``h x w`` map."""
    half = (stride - 1) / 2.0
    lo = torch.tensor([half, half], device=xy.device, dtype=xy.dtype)
    hi = torch.tensor([stride * (w - 1) + half, stride * (h - 1) + half], device=xy.device, dtype=xy.dtype)
    return torch.maximum(torch.minimum(xy, hi), lo)


def predicted_xy(offset: Tensor, local: Tensor | None, k: int, stride: int) -> tuple[Tensor, Tensor]:
    """Every cell's predicted point per type: coarse ``C + s * offset`` or, with ``local``, refined (eq. 12).

    The refinement is :func:`adaanchor.coords.refine_points`: the coarse point is clamped to the rectangle of
    the outer cell centres, the local map is read there bilinearly, and the local offset is added to it.

    Args:
        offset, local: ``(B, 2K, h, w)`` in cells.
    Returns:
        ``x, y``, each ``(B, K, 1, hw)`` in input pixels.
    """
    b, _, h, w = offset.shape
    hw = h * w
    dev = offset.device
    uv = offset.float().view(b, k, 2, hw) + _cell_index_grid(h, w, dev)  # cell coordinates, (B, K, 2, hw)
    if local is not None:
        # x and y are clamped, scaled to grid_sample's [-1, 1] and refined together (rows 0 and 1 of dim 2).
        # Scalar clamps per row: a clamp to a bounds tensor broadcasts, at 4x the time.
        uv[:, :, 0].clamp_(0.0, w - 1.0)
        uv[:, :, 1].clamp_(0.0, h - 1.0)
        grid = uv * grid_scale(h, w, dev).view(2, 1)
        grid = grid.sub_(1.0).transpose(2, 3).reshape(b * k, hw, 1, 2)  # the (x, y) pairs grid_sample reads
        loc = F.grid_sample(local.float().reshape(b * k, 2, h, w), grid, mode="bilinear", padding_mode="border",
                            align_corners=True)
        uv += loc.view(b, k, 2, hw)
    xy = uv.mul_(stride).add_((stride - 1) / 2.0)
    return xy[:, :, 0].unsqueeze(2), xy[:, :, 1].unsqueeze(2)


def labelled_rows(valid: Tensor) -> Tensor | None:
    """The flat rows ``b * K + k`` of the labelled targets of ``valid (B, K, 1)`` (one instance), ``(R,)``; None when
    every target is labelled, or on a GPU (finding them reads a count back from the device, and there the ranking
    of an unlabelled row costs next to nothing)."""
    if valid.device.type != "cpu":
        return None
    rows = valid.reshape(-1).nonzero().squeeze(1)
    return None if rows.numel() == valid.numel() else rows


def take_rows(x: Tensor, rows: Tensor, per_row: int = 1) -> Tensor:
    """The rows ``rows`` of ``x (B, per_row * K, ...)`` (row ``b * K + k`` = channels ``per_row * k ...`` of
    image ``b``) as one image of ``R`` types, ``(1, per_row * R, ...)``: a per-target computation then runs on
    the labelled targets only."""
    b, kc, *rest = x.shape
    k = kc // per_row
    # Indexed by (image, type) pairs: the heads' outputs are channel slices of one tensor, so merging B and K into
    # one dimension for an index_select would copy the whole map first.
    picked = x.view(b, k, per_row, *rest)[rows.div(k, rounding_mode="floor"), rows.remainder(k)]
    return picked.reshape(1, -1, *rest)  # a view of a contiguous pick; a copy of a channels-last one


def owner_index(rank: Tensor, selected: Tensor) -> Tensor | None:
    """Instance each cell regresses to: the one that ranked it highest among those that selected it.

    Returns ``(B, K, 1, hw)`` indices, or None for one instance (index 0 everywhere).
    """
    if rank.shape[2] == 1:
        return None
    # max(...).indices, not argmax: the same first maximal index (documented for both, tested), but argmax along a
    # dimension that is not the last took 10x the time on the CPU (16 against 1.7 ms at B=16, K=17, N=4, hw=768).
    return rank.masked_fill(~selected, float("-inf")).max(dim=2, keepdim=True).indices


def take_instance(x: Tensor, idx: Tensor | None) -> Tensor:
    """``x (B, K, N, hw)`` at instance ``idx (B, K, 1, hw)`` (None: instance 0), ``(B, K, hw)``."""
    if idx is None:
        return x[:, :, 0]
    return torch.gather(x, 2, idx)[:, :, 0]


def offsets_to(gt: Tensor, idx: Tensor | None, h: int, w: int, stride: int) -> Tensor:
    """Offsets in cells from every cell centre to target ``idx`` of its type, in the head layout ``(B, 2K, h, w)``.

    Args:
        gt: ``(B, K, N, 2)``; idx: ``(B, K, 1, hw)`` instance per cell, or None for instance 0.
    """
    b, k, n, _ = gt.shape
    grid = _centre_grid(h, w, stride, gt.device)  # (2, hw)
    if idx is None:
        own = gt[:, :, 0].unsqueeze(-1)  # (B, K, 2, 1)
    else:
        own = torch.gather(gt.transpose(2, 3), 3, idx.expand(b, k, 2, h * w))  # (B, K, 2, hw)
    return own.sub(grid).mul_(1.0 / stride).view(b, 2 * k, h, w)


def point_offsets(gt: Tensor, mask: Tensor | None, idx: Tensor | None, h: int, w: int, stride: int,
                  cells: Tensor | None = None, cells_ok: Tensor | None = None) -> PointTarget:
    """:func:`offsets_to` at the cells of ``mask`` only, weight 1 there: the sparse form of
    ``Target(offsets_to(gt, idx, ...), pair_map(mask, ...))`` with the same values (the same operations).

    Args:
        gt: ``(B, K, N, 2)``; mask: ``(B, K, hw)`` bool; idx: ``(B, K, 1, hw)`` instance per cell, or None for 0.
        cells: optional ``(B, K, M)`` cells per row that include every cell of ``mask``, each at most once (the
            top-k's picks): the mask is then searched at those cells only, as finding the non-zero elements
            of the whole mask costs more than the rest of this function.
        cells_ok: optional ``(B, K, M)`` bool: only these of ``cells`` count (:func:`window_cells` lists cells
            outside the map as cell 0, not ok). With ``cells``, ``mask`` may be None: ``cells_ok`` then says
            which of them are in the mask.
    """
    b, k, n, _ = gt.shape
    hw = h * w
    # Flat indices into the row-major tensors and one ``index_select`` each: indexing with two or three index
    # tensors (``gt[bi, ki, inst]``) costs 2-3x as much on a CPU. ``row`` is the (image, type) pair ``b * K + k``.
    if cells is None:
        at = mask.reshape(-1).nonzero().squeeze(1)  # (P,) flat (b, k, cell), row-major as nonzero() lists them
        row, ci = at.div(hw, rounding_mode="floor"), at.remainder(hw)
    else:
        if mask is None:
            assert cells_ok is not None, "point_offsets: cells without a mask need cells_ok"
            hit = cells_ok
        else:
            hit = mask.gather(-1, cells) if cells_ok is None else mask.gather(-1, cells) & cells_ok
        picks = hit.reshape(-1).nonzero().squeeze(1)  # (P,) flat (b, k, pick)
        ci = cells.reshape(-1).index_select(0, picks)
        row = picks.div(cells.shape[-1], rounding_mode="floor")
        at = row * hw + ci
    pair = row * n  # the (b, k, instance) row of gt, instance 0 ...
    if idx is not None:
        pair = pair + idx.reshape(-1).index_select(0, at)  # ... or the cell's own
    own = gt.reshape(-1, 2).index_select(0, pair)  # (P, 2)
    values = own.sub(_centre_grid(h, w, stride, gt.device).index_select(1, ci).t()).mul_(1.0 / stride)  # x, y
    x_at = row * (2 * hw) + ci  # channel 2k holds x, 2k + 1 holds y: b * 2K * hw + 2k * hw + cell
    index = torch.stack([x_at, x_at + hw], dim=1).view(-1)
    values = values.reshape(-1)
    return PointTarget((b, 2 * k, h, w), index, values, torch.ones_like(values))


def window_cells(gt: Tensor, radius: float, h: int, w: int, stride: int) -> tuple[Tensor, Tensor] | None:
    """The cells of a square window around each target that holds every cell centre within ``radius`` cells of it:
    ``(cells (B, K, M), ok (B, K, M))`` for :func:`point_offsets`, cells outside the map listed as cell 0 and not
    ok; None when the window would not be smaller than half the map (search the whole mask then).

    A cell within ``radius`` of the target is at most ``radius`` columns from its cell coordinate ``u``, so at most
    ``radius + 1/2`` from ``round(u)``: the window spans ``floor(radius + 1/2) + 1`` cells each side of it.

    Args:
        gt: ``(B, K, 1, 2)`` targets in input pixels (one instance; NaN or infinite ones give no ok cells).
    """
    win = _window(gt, radius, h, w, stride)
    return None if win is None else win[:2]


def window_close(gt: Tensor, valid: Tensor, radius: float, h: int, w: int, stride: int) -> tuple[Tensor, Tensor] | None:
    """:func:`window_cells` with the mask of the cells whose centre is within ``radius`` cells of a labelled target:
    ``(cells (B, K, M), close (B, K, M))``, ``close`` being ``cell_distances2 <= (radius * stride)^2`` read at the
    cells (the same values, computed at the window's cells only); None where :func:`window_cells` is.

    Args:
        gt: ``(B, K, 1, 2)`` targets in input pixels; valid: ``(B, K, 1)`` labelled.
    """
    win = _window(gt, radius, h, w, stride)
    if win is None:
        return None
    cells, ok, row, col = win
    b, k = gt.shape[:2]
    half_px = (stride - 1) / 2.0
    # The operations of cell_distances2 on the cell centres axis_centres gives (row * stride + half, exact).
    dy2 = (row.float() * stride + half_px - gt[:, :, 0, 1].view(b, k, 1, 1)) ** 2  # (B, K, side, 1)
    dx2 = (col.float() * stride + half_px - gt[:, :, 0, 0].view(b, k, 1, 1)) ** 2  # (B, K, 1, side)
    near = (dy2 + dx2).view(b, k, -1) <= (radius * stride) ** 2
    return cells, near.logical_and_(ok).logical_and_(valid)


def _window(gt: Tensor, radius: float, h: int, w: int, stride: int) -> tuple[Tensor, Tensor, Tensor, Tensor] | None:
    """:func:`window_cells` and the window's rows ``(B, K, side, 1)`` and columns ``(B, K, 1, side)``."""
    if not window_fits(radius, h, w):
        return None
    half = int(math.floor(radius + 0.5)) + 1
    side = 2 * half + 1
    b, k = gt.shape[:2]
    uv = torch.nan_to_num(input_to_cell(gt[:, :, 0], stride), nan=-2.0 * side, posinf=2.0 * side + h + w,
                          neginf=-2.0 * side)
    lo = torch.tensor([-side - 1.0, -side - 1.0], device=gt.device)
    hi = torch.tensor([w + side + 1.0, h + side + 1.0], device=gt.device)
    centre = torch.round(torch.minimum(torch.maximum(uv, lo), hi)).long()  # (B, K, 2), far targets kept far
    steps = torch.arange(-half, half + 1, device=gt.device)
    col = (centre[..., 0:1] + steps).unsqueeze(-2)  # (B, K, 1, side)
    row = (centre[..., 1:2] + steps).unsqueeze(-1)  # (B, K, side, 1)
    ok = ((col >= 0) & (col < w) & (row >= 0) & (row < h)).reshape(b, k, side * side)
    cells = (row * w + col).reshape(b, k, side * side)
    return cells.masked_fill(~ok, 0), ok, row, col


def window_fits(radius: float, h: int, w: int) -> bool:
    """Whether :func:`window_cells` lists a window for this radius and map (else it returns None): the window is
    smaller than half the map."""
    side = 2 * (int(math.floor(radius + 0.5)) + 1) + 1
    return side * side * 2 < h * w


@constant_cache(maxsize=16)
def _centre_grid(h: int, w: int, stride: int, device: torch.device) -> Tensor:
    """``(2, hw)``: x and y of every cell centre, row-major (cached: one per map size)."""
    return torch.stack([axis_centres(w, stride, device).repeat(h), axis_centres(h, stride, device).repeat_interleave(w)])


@constant_cache(maxsize=16)
def grid_scale(h: int, w: int, device: torch.device) -> Tensor:
    """``(2,)``: the scale from cell coordinates (x, y) of an ``h x w`` map to ``grid_sample``'s ``[-1, 1]`` with
    ``align_corners=True``, before subtracting 1 (cached; training's scoring and inference's decoding use it)."""
    return torch.tensor([2.0 / max(w - 1, 1), 2.0 / max(h - 1, 1)], device=device)


@constant_cache(maxsize=16)
def _cell_index_grid(h: int, w: int, device: torch.device) -> Tensor:
    """``(2, hw)``: column and row index of every cell, row-major (cached)."""
    return torch.stack([torch.arange(w, device=device, dtype=torch.float32).repeat(h),
                        torch.arange(h, device=device, dtype=torch.float32).repeat_interleave(w)])


def pair_map(mask: Tensor, h: int, w: int) -> Tensor:
    """A per-cell weight ``(B, K, hw)`` repeated for x and y, in the head layout ``(B, 2K, h, w)``."""
    b, k, hw = mask.shape
    return mask.unsqueeze(2).expand(b, k, 2, hw).reshape(b, 2 * k, h, w)
