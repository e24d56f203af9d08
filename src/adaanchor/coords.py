"""The one coordinate convention of the project (see docs/conventions.md).

Pixel centres are at integer coordinates. A feature cell (i, j) of stride ``s`` has its centre at
``x = s*j + (s-1)/2``, ``y = s*i + (s-1)/2`` in input pixels.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

#: How far past the frame's edge, in its pixels, a point still counts as on the edge (inside): float round-off of
#: a crop's affine put points labelled exactly on an image's edge (x = -0.5 or W - 0.5) just past the input's edge,
#: and their crops made them invisible (13 of 20 image and input sizes tried).
EDGE_TOL = 1e-6


def outside_frame(x: Any, y: Any, w: float, h: float, margin: float = 0.0) -> Any:
    """True where the point ``(x, y)`` lies outside a ``w x h`` image (or input) by the pixel-centre convention:
    beyond ``[-0.5, w - 0.5] x [-0.5, h - 0.5]``, widened on each side by ``margin`` times that side's length and
    by :data:`EDGE_TOL` pixels. ``x``, ``y``: arrays or tensors of one shape; returns a bool array or tensor of that
    shape."""
    mx, my = margin * w + EDGE_TOL, margin * h + EDGE_TOL
    return (x < -0.5 - mx) | (x > w - 0.5 + mx) | (y < -0.5 - my) | (y > h - 0.5 + my)


def cell_centers(h: int, w: int, stride: int, device: torch.device | None = None) -> Tensor:
    """Centres of all cells of an ``h x w`` map in input pixels, shape ``(h*w, 2)`` as (x, y), row-major."""
    ys, xs = torch.meshgrid(
        torch.arange(h, device=device, dtype=torch.float32),
        torch.arange(w, device=device, dtype=torch.float32),
        indexing="ij",
    )
    half = (stride - 1) / 2.0
    return torch.stack([xs.reshape(-1) * stride + half, ys.reshape(-1) * stride + half], dim=-1)


def input_to_cell(xy: Tensor, stride: int) -> Tensor:
    """Input-pixel coordinates to continuous cell coordinates (cell centres at integers). Any shape ``(..., 2)``."""
    return (xy - (stride - 1) / 2.0) / stride


def cell_to_input(uv: Tensor, stride: int) -> Tensor:
    """Inverse of :func:`input_to_cell`."""
    return uv * stride + (stride - 1) / 2.0


def bilinear_sample(fmap: Tensor, xy: Tensor, stride: int) -> Tensor:
    """Sample ``fmap`` bilinearly at input-pixel points.

    Args:
        fmap: ``(B, C, h, w)`` feature map of the given stride.
        xy: ``(B, P, 2)`` points in input pixels.
    Returns:
        ``(B, P, C)`` values; points outside the map take the value of the nearest border cell.
    """
    b, c, h, w = fmap.shape
    uv = input_to_cell(xy, stride)
    # grid_sample with align_corners=True maps -1 / +1 to the centres of the first / last cells.
    gx = uv[..., 0] / max(w - 1, 1) * 2 - 1
    gy = uv[..., 1] / max(h - 1, 1) * 2 - 1
    grid = torch.stack([gx, gy], dim=-1).unsqueeze(2)  # (B, P, 1, 2)
    out = torch.nn.functional.grid_sample(
        fmap, grid.to(fmap.dtype), mode="bilinear", padding_mode="border", align_corners=True
    )
    return out.squeeze(-1).transpose(1, 2)


def refine_points(local: Tensor, xy: Tensor, stride: int) -> Tensor:
    """Local refinement (paper eq. 12): ``P_r = q + stride * local(q)``, ``q`` = ``xy`` clamped to the
    rectangle of the outermost cell centres, ``local(q)`` sampled bilinearly.

    Inside that rectangle ``q = xy`` and this is eq. 12 exactly. Outside it, the local map (supervised as
    ``(target - cell centre) / stride``, i.e. relative to where it is read) is read at the border, and the
    offset is added to the point where it was read; adding it to ``xy`` would double the overshoot.

    Args:
        local: ``(B, 2, h, w)`` local offsets in cells.
        xy: ``(B, P, 2)`` points in input pixels.
    Returns:
        ``(B, P, 2)`` refined points in input pixels.
    """
    h, w = local.shape[-2:]
    half = (stride - 1) / 2.0
    lo = torch.tensor([half, half], device=xy.device, dtype=xy.dtype)
    hi = torch.tensor([stride * (w - 1) + half, stride * (h - 1) + half], device=xy.device, dtype=xy.dtype)
    q = torch.maximum(torch.minimum(xy, hi), lo)
    return q + stride * bilinear_sample(local, q, stride)
