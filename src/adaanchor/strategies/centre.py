"""Single-stage (DEKR-style) multi-person pose: person centres located by any dense strategy, poses regressed
densely from the centre.

:class:`CentreStrategy` wraps a dense strategy built for ONE keypoint type, the person centre (the heatmap,
FixAnchor or AdaAnchor: the only thing that differs between the methods), and adds one head:

- ``poseoff (B, 2K, h, w)``: at every cell, the offset from the cell centre to each of the ``K`` keypoints of
  the person it belongs to, **in cells** (``(keypoint - cell centre) / stride``; channel ``2k`` is x, ``2k + 1``
  is y). The model builds it as ``K`` separate small conv branches (``branches``, DEKR's per-keypoint
  regression; :class:`adaanchor.models.net.GroupedBranches`).

Centre of an instance = the mean of its labelled keypoints (``v > 0``); an instance with none has no centre.
The centre targets are the wrapped strategy's own, for ``(B, N, 1, 2)`` centres.

Pose targets are supervised at the cells within ``pose_radius`` cells (Euclidean, cell centre to person
centre) of some centre, a cell near several centres going to the nearest; with ``read_at="cell"`` and an
anchor centre, also at the centre head's positive cells, owned by the person their centre offset target
points at. The loss is ``l1_scaled``: L1 in cells times ``stride / sqrt(area)`` (``area``: the box of the
person's labelled keypoints, input pixels), i.e. the pixel error over the person's scale, averaged over the
supervised keypoints (DEKR's ``1 / sqrt(area)`` weighting).

Decoding: centres by :func:`~adaanchor.strategies.multi.decode_multi` at ``gamma``; each centre's pose is read
from ``poseoff`` either bilinearly at the located centre point (``read_at="centre"``, default:
``keypoint = p + stride * poseoff(p)``) or at the cell the centre came from (``read_at="cell"``: the anchor
cell, the heatmap's peak cell: ``keypoint = cell centre + stride * poseoff[cell]``); then pose NMS
(:func:`pose_nms`). Pose score = the centre confidence, given to every keypoint of the pose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..coords import cell_centers, refine_points
from ..errors import AdaAnchorError
from ..ranges import PROB, Checker, at_least, between, choice, positive
from .assign_targets import cell_distances2, offsets_to, pair_map
from .assigners import instance_area
from .base import Decoded, Encoded, Strategy, Target
from .flip_test import mean_offsets
from .grouping import Poses
from .multi import MultiDecoded, decode_multi

#: Defaults of the ``centre`` block (see :func:`build_centre`).
CENTRE_DEFAULTS: dict[str, Any] = {
    "lambda_pose": None,  # weight of the poseoff loss; None: 0.03 with the heatmap (DEKR), 3.0 with anchors
    "gamma": 0.1,  # centre confidence threshold (the paper's gamma)
    "max_candidates": 30,  # centres kept per image before pose NMS
    "merge_radius": None,  # input pixels; None: one cell
    "pose_radius": 2.0,  # poseoff is supervised at cells within this many cells of a centre
    "read_at": "centre",  # centre: bilinearly at the located centre | cell: at the anchor (peak) cell
    "branch_width": 8,  # channels of each per-keypoint branch
    "nms_threshold": 0.1,  # a joint is "close" within this fraction of the kept pose's scale (nms_scale)
    "nms_joints": 0.5,  # a pose is a duplicate when at least this fraction of its joints is close
    "nms_scale": "box",  # box: sqrt(w * h) of the kept pose's keypoint box | diagonal: sqrt(w^2 + h^2) (DEKR's)
}

#: Valid ranges of the ``centre`` config section (``task: centre``).
CENTRE_RANGES: dict[str, Checker] = {
    "lambda_pose": at_least(0),
    "gamma": PROB,
    "max_candidates": at_least(1),
    "merge_radius": at_least(0),
    "pose_radius": positive(),
    "read_at": choice(("centre", "cell")),
    "branch_width": at_least(1),
    "nms_threshold": at_least(0),
    "nms_joints": between(0, 1, lo_open=True),
    "nms_scale": choice(("box", "diagonal")),
}


def instance_centres(keypoints: Tensor, visibility: Tensor) -> tuple[Tensor, Tensor]:
    """Mean of the labelled keypoints of every instance.

    Args:
        keypoints: ``(B, N, K, 2)`` input pixels; visibility: ``(B, N, K)``.
    Returns:
        ``(B, N, 1, 2)`` centres and ``(B, N, 1)`` their visibility (2 where the instance has a labelled
        keypoint, else 0; such a centre is (0, 0)).
    """
    lab = (visibility > 0).float().unsqueeze(-1)
    n = lab.sum(dim=2)  # (B, N, 1)
    centre = (keypoints.float() * lab).sum(dim=2) / n.clamp(min=1.0)
    return centre.unsqueeze(2), 2.0 * (n > 0).float()


def pose_nms(keypoints: np.ndarray, valid: np.ndarray, threshold: float, joints: float,
             scale: str = "box") -> np.ndarray:
    """Greedy pose NMS on poses in descending score order.

    A pose is dropped when at least ``joints`` (a fraction) of its keypoints lie within ``threshold * S``
    pixels of the same keypoints of a kept, higher-scored pose, ``S`` the scale of that pose's keypoint box
    ``w x h``: ``scale="box"``, ``sqrt(w * h)`` (at least 1); ``"diagonal"``, ``sqrt(w^2 + h^2)``, DEKR's
    (about 1.7x the box scale of an upright person, and not near 0 for a pose whose keypoints lie on a line,
    where the box scale shrinks the threshold to a fraction of a pixel).

    Args:
        keypoints: ``(M, K, 2)``; valid: ``(M,)`` bool (the candidates).
    Returns:
        ``(M,)`` bool, the kept poses (a subset of ``valid``).
    """
    keep = np.zeros(len(valid), bool)
    for i in np.flatnonzero(valid):
        kept = keypoints[keep]  # (P, K, 2)
        if len(kept):
            wh = kept.max(axis=1) - kept.min(axis=1)
            size2 = wh[:, 0] ** 2 + wh[:, 1] ** 2 if scale == "diagonal" else wh[:, 0] * wh[:, 1]
            s = np.sqrt(np.maximum(size2, 1.0))  # (P,)
            close = np.linalg.norm(kept - keypoints[i][None], axis=-1) <= threshold * s[:, None]
            if (close.mean(axis=1) >= joints).any():
                continue
        keep[i] = True
    return keep


class CentreStrategy(Strategy):
    """A one-type dense strategy locating person centres plus DEKR's dense per-keypoint pose regression.

    Args:
        centre: the wrapped strategy, built with ``num_keypoints=1`` (its heads, losses, assignment and
            decoding are kept as they are).
        num_keypoints: ``K``, keypoint types of a pose.
        lambda_pose: weight of the ``poseoff`` loss.
        options: the other :data:`CENTRE_DEFAULTS` keys.
    """

    def __init__(self, centre: Strategy, num_keypoints: int, lambda_pose: float | None = None, **options: Any):
        super().__init__(num_keypoints, centre.stride, centre.input_size)
        if centre.num_keypoints != 1 or ("conf" not in centre.heads and "heatmap" not in centre.heads):
            raise ValueError(f"the centre strategy '{centre.name}' must be a dense one with num_keypoints=1")
        unknown = set(options) - set(CENTRE_DEFAULTS)
        if unknown:
            raise ValueError(f"unknown centre option(s) {sorted(unknown)}")
        self.options = {**CENTRE_DEFAULTS, **options}
        if self.options["read_at"] not in ("centre", "cell"):
            raise ValueError(f"read_at must be centre or cell, got {self.options['read_at']}")
        self.centre = centre
        self.name = f"{centre.name}_centre"
        if lambda_pose is None:
            lambda_pose = 0.03 if "heatmap" in centre.heads else 3.0
        k = num_keypoints
        self.heads = {**centre.heads, "poseoff": 2 * k}
        self.losses = {**centre.losses, "poseoff": ("l1_scaled", float(lambda_pose))}
        #: head -> (groups, width): built as per-keypoint branches by KeypointNet(..., branches=...).
        self.branches = {"poseoff": (k, int(self.options["branch_width"]))}

    def _centre_outputs(self, outputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        return {name: outputs[name] for name in self.centre.heads}

    # ---- training ---------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0,
               from_ema: bool = False) -> Encoded:
        """The centre strategy's targets for the instance centres plus ``poseoff`` (value and weight
        ``(B, 2K, h, w)``, value in cells, weight ``stride / sqrt(area)`` at the supervised cells)."""
        keypoints = self.labelled(keypoints, visibility)
        ctr, cvis = instance_centres(keypoints, visibility)
        enc = self.centre.encode(self._centre_outputs(outputs), ctr, cvis, step, **({"from_ema": True} if from_ema else {}))
        b, _, h, w = outputs["poseoff"].shape
        owner, cells = self._pose_cells(enc, ctr, cvis, h, w)
        k, s = self.num_keypoints, self.stride
        kp = keypoints.float().permute(0, 2, 1, 3)  # (B, K, N, 2)
        lab = (visibility > 0).permute(0, 2, 1)  # (B, K, N)
        idx = owner.view(b, 1, 1, h * w).expand(b, k, 1, h * w)
        value = offsets_to(kp, idx, h, w, s)
        per_inst = lab.float() * (s / instance_area(kp, lab).sqrt())  # (B, K, N)
        wk = torch.gather(per_inst, 2, idx[:, :, 0]) * cells.unsqueeze(1).float()  # (B, K, hw)
        targets = {**enc.targets, "poseoff": Target(value, pair_map(wk, h, w))}
        return Encoded(targets, {**enc.stats, "pose_cells": cells.sum() / max(1, b)})

    def _pose_cells(self, enc: Encoded, ctr: Tensor, cvis: Tensor, h: int, w: int) -> tuple[Tensor, Tensor]:
        """Owner instance ``(B, hw)`` and supervised mask ``(B, hw)`` of the pose offsets.

        ``ctr (B, N, 1, 2)``, ``cvis (B, N, 1)``: cells within ``pose_radius`` of a centre go to the nearest one;
        with ``read_at="cell"`` and anchors, the centre positives go to the centre their offset target names.
        """
        s = self.stride
        has = (cvis[..., 0] > 0).unsqueeze(1)  # (B, 1, N)
        d2 = cell_distances2(ctr.permute(0, 2, 1, 3), h, w, s)  # (B, 1, N, hw)
        d2 = d2.masked_fill(~has.unsqueeze(-1), float("inf"))
        best, owner = d2.min(dim=2)  # (B, 1, hw)
        cells = best[:, 0] <= (float(self.options["pose_radius"]) * s) ** 2
        owner = owner[:, 0]
        if self.options["read_at"] == "cell" and "conf" in enc.targets:
            pos = enc.targets["conf"].value.flatten(1) > 0  # (B, hw)
            aim = enc.targets["offset"].value.flatten(2).transpose(1, 2)  # (B, hw, 2) cells
            grid = cell_centers(h, w, s, ctr.device)  # (hw, 2)
            to_each = (ctr[:, None, :, 0] - grid[None, :, None]) / s  # (B, hw, N, 2)
            miss = (to_each - aim.unsqueeze(2)).abs().sum(-1).masked_fill(~has, float("inf"))
            owner = torch.where(pos, miss.argmin(dim=-1), owner)
            cells = cells | pos
        return owner, cells

    # ---- inference --------------------------------------------------------------------------------
    def flip_merge(self, plain: Mapping[str, Tensor], mirrored: Mapping[str, Tensor], flip_index: Any) -> dict[str, Tensor]:
        """The centre strategy's merged maps (one type, the centre, its own mirror) and the pose offsets averaged with
        the mirrored pass's types permuted and x components negated (:mod:`.flip_test`)."""
        centre = self.centre.flip_merge(self._centre_outputs(plain), self._centre_outputs(mirrored), np.zeros(1, np.int64))
        return {**centre, "poseoff": mean_offsets(plain["poseoff"], mirrored["poseoff"], flip_index)}

    @torch.no_grad()
    def decode_centres(self, outputs: dict[str, Tensor], gamma: float | None = None) -> MultiDecoded:
        """Centres at threshold ``gamma`` (default the option): :class:`MultiDecoded` with ``K = 1``."""
        o = self.options
        g = o["gamma"] if gamma is None else float(gamma)
        return decode_multi(self.centre, self._centre_outputs(outputs), g, o["max_candidates"], o["merge_radius"])

    @torch.no_grad()
    def read_poses(self, outputs: dict[str, Tensor], dec: MultiDecoded) -> Tensor:
        """The pose of every centre slot, ``(B, M, K, 2)`` input pixels, read where ``read_at`` says."""
        off = outputs["poseoff"].float()
        b, _, h, w = off.shape
        k, s = self.num_keypoints, self.stride
        m = dec.xy.shape[2]
        if self.options["read_at"] == "centre":
            pts = dec.xy[:, 0].unsqueeze(1).expand(b, k, m, 2).reshape(b * k, m, 2)
            xy = refine_points(off.reshape(b * k, 2, h, w), pts, s).view(b, k, m, 2)
            return xy.permute(0, 2, 1, 3)
        idx = dec.cell[:, 0].unsqueeze(1).expand(b, 2 * k, m)
        sel = torch.gather(off.reshape(b, 2 * k, h * w), 2, idx).view(b, k, 2, m).permute(0, 3, 1, 2)
        return dec.anchor[:, 0].unsqueeze(2) + s * sel

    @torch.no_grad()
    def decode_poses(self, outputs: dict[str, Tensor], gamma: float | None = None) -> list[Poses]:
        """Poses of every image of the batch, in input pixels, after pose NMS; keypoint score = pose score =
        centre confidence. ``Poses.tag`` holds the centre's slot index (there are no tags)."""
        dec = self.decode_centres(outputs, gamma)
        xy = self.read_poses(outputs, dec).cpu().numpy()
        score, valid = dec.score[:, 0].cpu().numpy(), dec.valid[:, 0].cpu().numpy()
        out: list[Poses] = []
        for i in range(xy.shape[0]):
            keep = np.flatnonzero(pose_nms(xy[i], valid[i], self.options["nms_threshold"], self.options["nms_joints"],
                                           self.options["nms_scale"]))
            sc = score[i, keep].astype(np.float64)
            kps = np.concatenate([xy[i, keep], np.broadcast_to(sc[:, None, None], (len(keep), self.num_keypoints, 1))],
                                 axis=-1)
            out.append(Poses(kps, sc, keep.astype(np.float64)))
        return out

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor]) -> Decoded:
        """Single-instance decoding: the pose of the most confident centre; every keypoint gets its score."""
        dec = self.decode_centres(outputs, 0.0)
        xy = self.read_poses(outputs, dec)[:, 0]  # (B, K, 2)
        k = self.num_keypoints
        return Decoded(xy=xy, score=dec.score[:, 0, :1].expand(-1, k),
                       anchor=dec.anchor[:, 0, :1].expand(-1, k, 2))


def build_centre(strategy_cfg: Mapping[str, Any], centre_cfg: Mapping[str, Any] | None, num_keypoints: int,
                 stride: int, input_size: tuple[int, int], sigmas: Any = None) -> CentreStrategy:
    """The ``strategy`` section's dense strategy, for one type (the centre), with the ``centre`` section's options.
    ``sigmas`` (the keypoint spec's) are not the centre's: ``strategy.quality=oks`` needs ``strategy.oks_sigmas``
    with one value here."""
    from . import build_strategy
    from .local_offsets import multi_person_section
    from .tags import check_dense

    if strategy_cfg.get("quality") == "oks" and strategy_cfg.get("oks_sigmas") is None:
        # The kappas_from message ("the keypoint spec has none") misled: the spec has sigmas, of other points.
        raise AdaAnchorError("task=centre with strategy.quality=oks: the located point is the person centre, which "
                             "the keypoint spec's OKS sigmas do not describe: set strategy.oks_sigmas=[S] (one value)")
    centre = build_strategy(multi_person_section(strategy_cfg), 1, stride, input_size)
    check_dense(centre, "task=centre locates the person centres on a dense confidence map")
    opts = {**CENTRE_DEFAULTS, **dict(centre_cfg or {})}
    lam = opts.pop("lambda_pose")
    return CentreStrategy(centre, num_keypoints, lam, **opts)


__all__ = ["CENTRE_DEFAULTS", "CENTRE_RANGES", "CentreStrategy", "build_centre", "instance_centres", "pose_nms"]
