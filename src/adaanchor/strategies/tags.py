"""Bottom-up pose with associative embedding on any dense strategy (heatmap, FixAnchor, AdaAnchor).

:class:`BottomUpStrategy` wraps a dense strategy and adds one head, ``tags (B, K, h, w)``: a scalar tag per
keypoint type and cell, trained jointly with the anchors by the ``ae`` loss kind (pull/push,
:mod:`adaanchor.strategies.ae_loss`). There is no pretrained AE model here (the paper tags its keypoints
with one), so the tags are learned from scratch together with the keypoints.

Where the tag is supervised and read is where the keypoint is decoded from, so heatmap and AdaAnchor differ
only in the anchor:

- anchor strategies: at the anchor cells, i.e. the positives of the wrapped strategy's assignment; a positive
  belongs to the instance its offset target points at (the overlapping-targets rule of the assignment);
- heatmap: at the cells within one cell (3x3) of each keypoint's rounded cell, the peak that
  :func:`~adaanchor.strategies.multi.decode_multi` reads; a cell near several keypoints goes to the nearest.

Decoding: :func:`~adaanchor.strategies.multi.decode_multi` at threshold ``gamma``, each keypoint's tag read at
its cell, then :func:`~adaanchor.strategies.grouping.group_poses`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..coords import cell_centers, input_to_cell
from ..errors import AdaAnchorError
from ..ranges import PROB, Checker, at_least, choice, each, positive
from .ae_loss import PUSH_KINDS, loss_kind
from .base import Decoded, Encoded, Strategy, Target
from .flip_test import concat_tags
from .grouping import Poses, group_poses
from .multi import MultiDecoded, decode_multi

#: Defaults of the ``bottomup`` config block (see :func:`build_bottomup`).
BOTTOMUP_DEFAULTS: dict[str, Any] = {
    "lambda_tag": None,  # weight of the ae loss; None: 1e-3 with the heatmap (HigherHRNet), 0.1 with anchors
    "push": "exp",  # the ae loss's push term: "exp" (the paper's eq. 3) or "hinge" (CornerNet's; see ae_loss)
    "gamma": 0.1,  # confidence threshold of multi-instance decoding (the paper's gamma)
    "max_candidates": 30,  # keypoints kept per type and image before grouping
    "merge_radius": None,  # input pixels; None: one cell
    "tag_threshold": 1.0,  # largest tag distance of a match (AE's default)
    "conf_weight": 0.01,  # weight of (1 - score) in the matching cost
    "refine": False,  # AE's refinement that fills missing keypoints; off, as in the paper
    "order": None,  # joint order of the grouping; None: the spec's order
}
#: Valid ranges of the ``bottomup`` config block (``order``: every element a keypoint index).
BOTTOMUP_RANGES: dict[str, Checker] = {
    "lambda_tag": at_least(0),
    "push": choice(PUSH_KINDS, "push kind"),
    "gamma": PROB,
    "max_candidates": at_least(1),
    "merge_radius": at_least(0),
    "tag_threshold": positive(),
    "conf_weight": at_least(0),
    "order": each(at_least(0, integer=True), min_len=1),  # every index once: check_order, with the spec's count
}


class BottomUpStrategy(Strategy):
    """A dense strategy plus an associative-embedding tag head.

    Args:
        inner: the wrapped dense strategy (its heads, losses, assignment and decoding are kept as they are).
        lambda_tag: weight of the ``ae`` loss of the ``tags`` head.
        push: its push term, one of :data:`~adaanchor.strategies.ae_loss.PUSH_KINDS`.
        options: the other :data:`BOTTOMUP_DEFAULTS` keys (decoding and grouping).
    """

    def __init__(self, inner: Strategy, lambda_tag: float | None = None, push: str = "exp", **options: Any):
        super().__init__(inner.num_keypoints, inner.stride, inner.input_size)
        if "conf" not in inner.heads and "heatmap" not in inner.heads:
            raise ValueError(f"strategy '{inner.name}' has no dense confidence head; bottom-up needs one")
        unknown = set(options) - set(BOTTOMUP_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown bottom-up option(s) {sorted(unknown)}")
        self.inner = inner
        self.name = f"{inner.name}_ae"
        self.options = {**BOTTOMUP_DEFAULTS, **options}
        check_order(self.options["order"], inner.num_keypoints)
        if lambda_tag is None:
            lambda_tag = 1e-3 if "heatmap" in inner.heads else 0.1
        self.heads = {**inner.heads, "tags": inner.num_keypoints}
        self.losses = {**inner.losses, "tags": (loss_kind(push), float(lambda_tag))}
        self.refine = bool(getattr(inner, "refine", False))  # read by decode_multi (local offsets)

    @property
    def has_confidence(self) -> bool:
        return True

    # ---- training ---------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0,
               from_ema: bool = False) -> Encoded:
        """The wrapped strategy's targets plus ``tags``: instance id + 1 per cell and type, weight 1 there.
        ``from_ema``: the outputs are an EMA model's (passed on to an anchor strategy, ``strategy.assign_ema_decay``)."""
        keypoints = self.labelled(keypoints, visibility)
        inner_out = {k: v for k, v in outputs.items() if k != "tags"}
        enc = self.inner.encode(inner_out, keypoints, visibility, step, **({"from_ema": True} if from_ema else {}))
        tags = outputs["tags"]
        if "conf" in enc.targets:
            ids = self._anchor_ids(enc, keypoints, visibility, tags.shape[-2:])
        else:
            ids = self._heatmap_ids(keypoints, visibility, tags.shape[-2:])
        targets = dict(enc.targets)
        targets["tags"] = Target(ids.float().view_as(tags), (ids > 0).float().view_as(tags))
        return Encoded(targets, {**enc.stats, "tag_cells": (ids > 0).sum() / max(1, tags.shape[0])})

    def _anchor_ids(self, enc: Encoded, keypoints: Tensor, visibility: Tensor, hw: tuple[int, int]) -> Tensor:
        """``(B, K, h*w)`` owner id + 1 of every positive anchor cell (0 elsewhere)."""
        h, w = hw
        b, n, k, _ = keypoints.shape
        s = self.stride
        # Every positive: soft confidence targets (strategy.soft_targets, the alignanchor preset) are often <= 0.5 at a
        # positive, and "> 0.5" left most of them without a tag target (99 of 130); hard targets are 0 or 1.
        pos = enc.targets["conf"].value.reshape(b, k, h * w) > 0
        off = enc.targets["offset"].value.reshape(b, k, 2, h * w).transpose(2, 3)  # (B, K, hw, 2) in cells
        owner_xy = cell_centers(h, w, s, off.device) + s * off
        gt = keypoints.float().permute(0, 2, 1, 3)  # (B, K, N, 2)
        d = torch.cdist(owner_xy.reshape(b * k, h * w, 2), gt.reshape(b * k, n, 2)).view(b, k, h * w, n)
        d = d.masked_fill(~(visibility > 0).permute(0, 2, 1).unsqueeze(2), float("inf"))
        owner = d.argmin(dim=-1)
        return torch.where(pos, owner + 1, torch.zeros_like(owner))

    def _heatmap_ids(self, keypoints: Tensor, visibility: Tensor, hw: tuple[int, int]) -> Tensor:
        """``(B, K, h*w)`` id + 1 of the nearest keypoint whose rounded cell is within one cell (Chebyshev)."""
        h, w = hw
        b, n, k, _ = keypoints.shape
        uv = input_to_cell(keypoints.float(), self.stride).permute(0, 2, 1, 3)  # (B, K, N, 2)
        cells = input_to_cell(cell_centers(h, w, self.stride, uv.device), self.stride)  # (hw, 2)
        cheb = (cells.view(1, 1, 1, h * w, 2) - torch.round(uv).unsqueeze(3)).abs().amax(-1)  # (B, K, N, hw)
        dist = ((cells.view(1, 1, 1, h * w, 2) - uv.unsqueeze(3)) ** 2).sum(-1)
        ok = (cheb <= 1) & (visibility > 0).permute(0, 2, 1).unsqueeze(-1)
        dist = dist.masked_fill(~ok, float("inf"))
        best, owner = dist.min(dim=2)  # (B, K, hw)
        return torch.where(torch.isfinite(best), owner + 1, torch.zeros_like(owner))

    # ---- inference --------------------------------------------------------------------------------
    def flip_merge(self, plain: Mapping[str, Tensor], mirrored: Mapping[str, Tensor], flip_index: Any) -> dict[str, Tensor]:
        """The wrapped strategy's merged maps, and the two passes' tags concatenated into ``tags (B, K, 2, h, w)``
        (HigherHRNet's 2-D tags; the grouping compares tag vectors, :mod:`.flip_test`)."""
        inner = [{k: v for k, v in d.items() if k != "tags"} for d in (plain, mirrored)]
        return {**self.inner.flip_merge(inner[0], inner[1], flip_index),
                "tags": concat_tags(plain["tags"], mirrored["tags"], flip_index)}

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor]) -> Decoded:
        """Single-instance decoding of the wrapped strategy (the tags are not needed for it)."""
        return self.inner.decode({k: v for k, v in outputs.items() if k != "tags"})

    @torch.no_grad()
    def decode_multi(self, outputs: dict[str, Tensor], gamma: float | None = None) -> tuple[MultiDecoded, Tensor]:
        """Keypoints of every type at threshold ``gamma`` (default the option) and their tags ``(B, K, M)``; tag
        vectors ``(B, K, M, D)`` where the tags are ``(B, K, D, h, w)`` (the flip test's, ``D = 2``)."""
        o = self.options
        dec = decode_multi(self, outputs, o["gamma"] if gamma is None else float(gamma), o["max_candidates"],
                           o["merge_radius"])
        tags = outputs["tags"].float()
        if tags.dim() == 5:
            b, k, d, h, w = tags.shape
            idx = dec.cell.unsqueeze(2).expand(b, k, d, dec.cell.shape[-1])
            return dec, torch.gather(tags.reshape(b, k, d, h * w), 3, idx).transpose(2, 3)
        b, k, h, w = tags.shape
        tag = torch.gather(tags.reshape(b, k, h * w), 2, dec.cell)
        return dec, tag

    @torch.no_grad()
    def decode_poses(self, outputs: dict[str, Tensor], gamma: float | None = None) -> list[Poses]:
        """Grouped poses of every image of the batch, in input pixels."""
        o = self.options
        gamma = o["gamma"] if gamma is None else float(gamma)
        # With refinement, every peak is a candidate for filling, so decode without the threshold.
        dec, tag = self.decode_multi(outputs, 0.0 if o["refine"] else gamma)
        return self.group_decoded(dec, tag, gamma)

    def group_decoded(self, dec: MultiDecoded, tag: Tensor, gamma: float) -> list[Poses]:
        """Group the keypoints of :meth:`decode_multi` (``tag (B, K, M)`` or ``(B, K, M, D)``) whose score is >= ``gamma`` into poses per
        image, in input pixels. With ``refine``, the other decoded keypoints are the candidates that fill gaps."""
        o = self.options
        valid = dec.valid & (dec.score >= gamma)
        arrays = [t.cpu().numpy() for t in (dec.xy, dec.score, valid, tag)]
        return [group_poses(arrays[0][i], arrays[1][i], arrays[2][i], arrays[3][i], order=o["order"],
                            tag_threshold=o["tag_threshold"], conf_weight=o["conf_weight"], refine=o["refine"])
                for i in range(arrays[0].shape[0])]


def check_order(order: Any, num_keypoints: int) -> None:
    """``bottomup.order`` is null or every keypoint index ``0..K-1`` once: the grouping visits the types in that
    order, so a type left out was never grouped (its detections dropped from every pose), a type given twice
    made a second pose of each of its detections, and an index >= K or a bare number was a traceback."""
    if order is None:
        return
    items = list(order) if isinstance(order, (list, tuple)) else None
    ints = items is not None and all(isinstance(v, int) and not isinstance(v, bool) for v in items)
    if not ints or sorted(items) != list(range(num_keypoints)):
        raise AdaAnchorError(f"config key 'bottomup.order': the value must list every keypoint index 0..{num_keypoints - 1}"
                             f" once (the joint order of the grouping), or be null (the spec's order); got {order!r}")


def check_dense(st: Strategy, why: str) -> None:
    """Refuse a strategy without a dense confidence map (regression) for a multi-person task, by its config key
    (it was a ValueError traceback from the strategy's constructor)."""
    if "conf" not in st.heads and "heatmap" not in st.heads:
        raise AdaAnchorError(f"config key 'strategy.name': {st.name} regresses coordinates and has no dense confidence "
                             f"map; {why}: use heatmap, fixanchor or an adaptive assigner")


def build_bottomup(strategy_cfg: Mapping[str, Any], bottomup_cfg: Mapping[str, Any] | None, num_keypoints: int,
                   stride: int, input_size: tuple[int, int], sigmas: Any = None) -> BottomUpStrategy:
    """The ``strategy`` section's dense strategy wrapped with the ``bottomup`` section's options (``sigmas``: the
    keypoint spec's OKS sigmas, for ``strategy.quality=oks``)."""
    from . import build_strategy
    from .local_offsets import multi_person_section

    inner = build_strategy(multi_person_section(strategy_cfg), num_keypoints, stride, input_size, sigmas=sigmas)
    check_dense(inner, "task=bottomup finds every person's keypoints on dense confidence maps")
    opts = {**BOTTOMUP_DEFAULTS, **dict(bottomup_cfg or {})}
    lam = opts.pop("lambda_tag")
    return BottomUpStrategy(inner, lam, **opts)


def poses_to_arrays(poses: Poses) -> tuple[np.ndarray, np.ndarray]:
    """``(P, K, 2)`` keypoints and ``(P, K)`` scores of :class:`Poses`."""
    return poses.keypoints[..., :2], poses.keypoints[..., 2]


__all__ = ["BOTTOMUP_DEFAULTS", "BOTTOMUP_RANGES", "BottomUpStrategy", "build_bottomup", "poses_to_arrays"]
