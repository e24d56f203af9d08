"""Decoding of the anchor strategies: from the output maps, and from the features at inference.

:func:`decode_anchor` reads the full output maps (``conf``, ``offset``, ``local``). At inference only the
confidence map is needed everywhere: the offset is read at one cell per keypoint (its anchor) and the local
offset at one point (the coarse point, bilinearly). The heads are 1x1 convolutions, linear in the features, so
:func:`decode_anchor_features` applies the offset and local weights to the features gathered (and bilinearly
interpolated, whose weights sum to 1) at those places instead of computing ``4K`` output channels over the
whole map: the same numbers up to float rounding, and the inference cost of a ``K``-channel head, as the
paper's "no extra test-time cost" asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor

from ..coords import cell_centers, input_to_cell, refine_points
from .assign_targets import clamp_to_map
from .base import Decoded


def decode_anchor(outputs: dict[str, Tensor], k: int, stride: int, refine: bool) -> Decoded:
    """Single-instance anchor decoding, written with export-friendly ops (gather, grid_sample)."""
    conf, off = outputs["conf"], outputs["offset"]
    b, _, h, w = conf.shape
    flat = conf.reshape(b, k, h * w)
    best, idx = flat.max(dim=-1)  # (B, K)
    centres = cell_centers(h, w, stride, conf.device)
    anchor = centres[idx]  # (B, K, 2)
    off_sel = torch.gather(off.reshape(b, k, 2, h * w), 3, idx.view(b, k, 1, 1).expand(b, k, 2, 1))[..., 0]
    xy = anchor + stride * off_sel.float()
    if refine and "local" in outputs:
        local = outputs["local"].float().reshape(b * k, 2, h, w)
        xy = refine_points(local, xy.reshape(b * k, 1, 2), stride).view(b, k, 2)
    return Decoded(xy=xy, score=torch.sigmoid(best.float()), anchor=anchor)


def head_matrices(model: Any, names: Sequence[str]) -> dict[str, tuple[Tensor, Tensor]] | None:
    """``name -> (weight (C_out, C), bias (C_out,))`` of the model's 1x1 conv heads, or None when the model
    does not expose them (``head_matrix``) or one of them is not a 1x1 convolution."""
    getter = getattr(model, "head_matrix", None)
    if getter is None or not hasattr(model, "features"):
        return None
    mats = {n: getter(n) for n in names}
    return None if any(m is None for m in mats.values()) else mats  # type: ignore[return-value]


def decode_anchor_features(dense: Tensor, mats: dict[str, tuple[Tensor, Tensor]], k: int, stride: int,
                           refine: bool) -> Decoded:
    """:func:`decode_anchor` from the features ``dense (B, C, h, w)`` and the head matrices (:func:`head_matrices`).

    Export-friendly ops only (matmul, max, gather, floor, clamp).
    """
    b, c, h, w = dense.shape
    feats = dense.reshape(b, c, h * w)
    wc, bc = mats["conf"]
    conf = torch.matmul(wc, feats) + bc.view(-1, 1)  # (B, K, hw)
    best, idx = conf.max(dim=-1)  # (B, K)
    anchor = cell_centers(h, w, stride, dense.device)[idx]  # (B, K, 2)
    at_anchor = torch.gather(feats, 2, idx.unsqueeze(1).expand(b, c, k)).transpose(1, 2)  # (B, K, C)
    xy = anchor + stride * _per_type(at_anchor, *mats["offset"], k).float()
    if refine:
        # refine_points: the coarse point clamped to the outer cell centres, the local map read bilinearly there.
        q = clamp_to_map(xy, h, w, stride)
        xy = q + stride * _per_type(_bilinear_features(feats, input_to_cell(q, stride), h, w), *mats["local"], k).float()
    return Decoded(xy=xy, score=torch.sigmoid(best.float()), anchor=anchor)


def _per_type(f: Tensor, weight: Tensor, bias: Tensor, k: int) -> Tensor:
    """Type ``k``'s two output channels (``2k``, ``2k + 1``) applied to its own features ``f (B, K, C)``:
    ``(B, K, 2)``."""
    wk = weight.view(k, 2, -1)  # (K, 2, C)
    return torch.matmul(wk, f.unsqueeze(-1)).squeeze(-1) + bias.view(k, 2)


def _bilinear_features(feats: Tensor, uv: Tensor, h: int, w: int) -> Tensor:
    """Features ``feats (B, C, hw)`` interpolated bilinearly at cell coordinates ``uv (B, K, 2)`` inside the map
    (as ``grid_sample`` with ``align_corners=True``): ``(B, K, C)``."""
    b, c, _ = feats.shape
    # A non-finite point (NaN weights) reads cell 0 and stays NaN through `poison`, as grid_sample would give.
    poison = (uv[..., 0] + uv[..., 1]).unsqueeze(-1) * 0
    u = torch.nan_to_num(uv[..., 0], nan=0.0).clamp(0, w - 1)
    v = torch.nan_to_num(uv[..., 1], nan=0.0).clamp(0, h - 1)
    u0, v0 = u.floor().clamp(max=max(w - 2, 0)), v.floor().clamp(max=max(h - 2, 0))
    fu, fv = (u - u0).unsqueeze(-1), (v - v0).unsqueeze(-1)
    u0, v0 = u0.long(), v0.long()
    u1, v1 = (u0 + 1).clamp(max=w - 1), (v0 + 1).clamp(max=h - 1)

    def at(vv: Tensor, uu: Tensor) -> Tensor:
        i = (vv * w + uu).unsqueeze(1).expand(b, c, -1)  # (B, C, K)
        return torch.gather(feats, 2, i).transpose(1, 2)  # (B, K, C)

    top = at(v0, u0) * (1 - fu) + at(v0, u1) * fu
    bottom = at(v1, u0) * (1 - fu) + at(v1, u1) * fu
    return top * (1 - fv) + bottom * fv + poison


__all__ = ["decode_anchor", "decode_anchor_features", "head_matrices"]
