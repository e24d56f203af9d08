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

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..coords import cell_centers, input_to_cell, refine_points
from ..tensor_cache import constant_cache
from .assign_targets import grid_scale
from .base import Decoded
from .flip_test import mean_confidence_logits, mean_offsets, weighted_offsets


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

    Written in few, export-friendly ops (matmul, max, gather, clamp, grid_sample): at small sizes the cost of this
    path is the number of operations, not their arithmetic.
    """
    b, c, h, w = dense.shape
    feats = dense.reshape(b, c, h * w)
    wc, bc = mats["conf"]
    # One batched product with the bias fused (as KeypointNet.dense_heads): a broadcast matmul transposes twice.
    conf = torch.baddbmm(bc.view(1, -1, 1), wc.expand(b, -1, -1), feats)  # (B, K, hw)
    best, idx = conf.max(dim=-1)  # (B, K)
    grid = _grids(h, w, stride, dense.device)
    anchor = grid["centres"][idx]  # (B, K, 2) input pixels
    uv = grid["cells"][idx] + _per_type(_gather(feats, idx), *mats["offset"], k).float()  # coarse point, cells
    if refine:
        # refine_points: the point clamped to the outer cell centres, the local map read bilinearly there. The
        # features are read there instead (the head is linear, the bilinear weights sum to 1), by one grid_sample:
        # a hand-written gather of the four corners took about 25 small ops, twice the time at batch 8. A NaN
        # point stays NaN through the clamp, and an infinite one is clamped, as in the full decoding.
        uv = torch.clamp(uv, min=grid["first"], max=grid["last"])
        unit = (uv * grid_scale(h, w, dense.device) - 1.0).unsqueeze(1).to(dense.dtype)  # (B, 1, K, 2)
        at = F.grid_sample(dense, unit, mode="bilinear", padding_mode="border", align_corners=True)  # (B, C, 1, K)
        uv = uv + _per_type(at.squeeze(2).transpose(1, 2), *mats["local"], k).float()
    return Decoded(xy=uv * stride + (stride - 1) / 2.0, score=torch.sigmoid(best.float()), anchor=anchor)


@constant_cache(maxsize=16)
def _grids(h: int, w: int, stride: int, device: torch.device) -> dict[str, Tensor]:
    """Per map size: cell centres ``(hw, 2)`` in input pixels, cell indices ``(hw, 2)`` as (column, row), and the
    first and last column and row ``(2,)`` (cached)."""
    centres = cell_centers(h, w, stride, device)
    return {"centres": centres, "cells": input_to_cell(centres, stride),
            "first": torch.zeros(2, device=device), "last": torch.tensor([w - 1.0, h - 1.0], device=device)}


def _gather(feats: Tensor, idx: Tensor) -> Tensor:
    """``feats (B, C, hw)`` at cells ``idx (B, P)``: ``(B, P, C)``."""
    return torch.gather(feats, 2, idx.unsqueeze(1).expand(-1, feats.shape[1], -1)).transpose(1, 2)


def _per_type(f: Tensor, weight: Tensor, bias: Tensor, k: int) -> Tensor:
    """Type ``k``'s two output channels (``2k``, ``2k + 1``) applied to its own features ``f (B, K, C)``:
    ``(B, K, 2)``."""
    return torch.matmul(weight.view(k, 2, -1), f.unsqueeze(-1)).squeeze(-1) + bias.view(k, 2)


class AnchorInference:
    """The inference half of :class:`~adaanchor.strategies.anchor.AnchorStrategy` (decoding, the flip test's merge,
    the feature-level prediction); reads ``num_keypoints``, ``stride``, ``refine`` and ``heads``."""

    num_keypoints: int
    stride: int
    refine: bool
    heads: dict[str, int]
    #: the flip test's rules (``eval.flip_offsets``, ``eval.flip_conf``): for the anchor offsets
    #: (:func:`.flip_test.weighted_offsets`; local offsets: the mean) and the confidences (``plain``: the plain pass's)
    flip_offsets: str = "mean"
    flip_conf: str = "mean"

    def export_needs(self) -> tuple[int, str] | None:
        """The refinement reads the local-offset map (or the features) at the coarse point with ``grid_sample``,
        ONNX's ``GridSample`` from opset 16."""
        return (16, "its local refinement (strategy.refine) reads its map with GridSample, in ONNX from opset 16") \
            if self.refine else None

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor]) -> Decoded:
        """Argmax of confidence per type gives the anchor; keypoint = anchor + offset (+ local, eq. 12)."""
        return decode_anchor(outputs, self.num_keypoints, self.stride, self.refine)

    def flip_merge(self, plain: Mapping[str, Tensor], mirrored: Mapping[str, Tensor], flip_index: Any) -> dict[str, Tensor]:
        """The two passes' confidences averaged (as the logit of the mean ``sigmoid``; the plain pass's with
        ``flip_conf="plain"``), their anchor and local offsets averaged with the mirrored pass's x components negated
        (the anchor offsets by the rule ``flip_offsets``; :mod:`.flip_test`)."""
        keep = self.flip_conf == "plain"  # the plain pass's anchor cells, their offsets still merged
        out = {"conf": plain["conf"] if keep else mean_confidence_logits(plain["conf"], mirrored["conf"], flip_index)}
        if self.flip_offsets == "mean":
            out["offset"] = mean_offsets(plain["offset"], mirrored["offset"], flip_index)
        else:
            out["offset"] = weighted_offsets(plain["offset"], mirrored["offset"], plain["conf"], mirrored["conf"],
                                             flip_index, self.flip_offsets)
        if "local" in self.heads:
            out["local"] = mean_offsets(plain["local"], mirrored["local"], flip_index)
        return out

    @torch.no_grad()
    def predict(self, model: Any, images: Tensor) -> Decoded:
        """Inference reading the offset and local heads only where the decoding reads them
        (:func:`decode_anchor_features`): the confidence map, then per keypoint the anchor cell's
        offset and the local offset at the coarse point. The result is :meth:`decode` of the full outputs up
        to float rounding; a model without that interface (no ``features`` / ``head_matrix``) runs in full."""
        names = ("conf", "offset", "local") if self.refine else ("conf", "offset")
        mats = head_matrices(model, names)
        if mats is None:
            return self.decode(model(images))
        return decode_anchor_features(model.features(images), mats, self.num_keypoints, self.stride, self.refine)


__all__ = ["AnchorInference", "decode_anchor", "decode_anchor_features", "head_matrices"]
