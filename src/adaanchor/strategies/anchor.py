"""AdaAnchor (adaptive assignment) and FixAnchor (nearest cells), sharing heads, losses and decoding.

Heads, all dense at the output stride ``s``:
- ``conf  (B, K, h, w)``: one logit per cell and keypoint type (focal loss);
- ``offset (B, 2K, h, w)``: anchor offset ``(dx, dy)`` per type, in cells (L1 at positives);
- ``local (B, 2K, h, w)``: local offset, in cells, supervised at cells near the target (L1).
Channel ``2k`` is x and ``2k + 1`` is y of keypoint type ``k``.

A cell ``A`` with centre ``C_A`` predicts the coarse point ``P = C_A + s * offset_A``; with local
refinement (eq. 12) ``P_r = P + s * local(P)``, ``local(P)`` sampled bilinearly at ``P``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from ..coords import cell_centers, refine_points
from ..ranges import at_least, between, choice, positive
from .base import Decoded, Encoded, Strategy, Target


class AnchorStrategy(Strategy):
    """Anchor formulation with a pluggable assignment: ``"adaptive"`` (AdaAnchor) or ``"fixed"`` (FixAnchor).

    Adaptive scoring (paper eqs. 8-11), on detached outputs, for every cell ``A`` and target ``g``:
    ``c_A = sigmoid(conf_A)``, ``r_A = exp(-||P_r(A) - g||^2 / (2 sigma^2))`` with sigma in input pixels,
    ``s_A = c_A * r_A`` (``mul``) or ``c_A + r_A`` (``add``); the top-k cells are the positives.
    Fixed: the k cells whose centres are nearest ``g`` are the positives.
    """

    DEFAULTS = {
        "topk": 20,  # positives per target (paper eq. 11)
        "sigma": 4.0,  # regression-score sigma, in INPUT PIXELS (paper eq. 8); see docs/method.md
        "fusion": "mul",  # mul: s = c * r (eq. 9) | add: s = c + r
        "refine": True,  # local refinement branch (eq. 12) at inference and in the score
        "refine_in_score": True,  # use the refined point P_r inside the score (paper) or the coarse one
        "local_radius": 2.0,  # local offsets are supervised at cells within this many cells of the target
        "candidate_radius": None,  # null: every cell is a candidate (paper); R: only cells within R cells
        "warmup_steps": 0,  # FixAnchor assignment for the first N training steps
        "lambda_offset": 1.0,  # lambda of eq. 4 for the anchor offset L1
        "lambda_local": 1.0,  # weight of the local-offset L1
        "focal_gamma": 2.0,  # CornerNet/CenterNet focal loss exponent
        "conf_prior": 0.1,  # initial sigmoid confidence (bias init of the confidence head)
        "ignore_unlabelled": True,  # channels of a keypoint type with no labelled target get no loss
    }
    RANGES = {
        "topk": at_least(1),
        "sigma": positive(),
        "fusion": choice(("mul", "add")),
        "local_radius": at_least(0),
        "candidate_radius": positive(),
        "warmup_steps": at_least(0),
        "lambda_offset": at_least(0),
        "lambda_local": at_least(0),
        "focal_gamma": at_least(0),
        "conf_prior": between(0, 1, lo_open=True, hi_open=True),
    }
    #: strategy name -> assignment: the two registered names share this class.
    ASSIGN = {"adaanchor": "adaptive", "fixanchor": "fixed"}

    @classmethod
    def from_config(cls, section: Mapping[str, Any], num_keypoints: int, stride: int,
                    input_size: tuple[int, int]) -> AnchorStrategy:
        """``strategy.name`` picks the assignment (:attr:`ASSIGN`); the other keys are :attr:`DEFAULTS`."""
        assign = cls.ASSIGN[str(section.get("name", "adaanchor"))]
        return cls(num_keypoints, stride, input_size, assign=assign, **cls.options(section))

    def __init__(
        self,
        num_keypoints: int,
        stride: int,
        input_size: tuple[int, int],
        assign: str = "adaptive",
        topk: int = DEFAULTS["topk"],
        sigma: float = DEFAULTS["sigma"],
        fusion: str = DEFAULTS["fusion"],
        refine: bool = DEFAULTS["refine"],
        refine_in_score: bool = DEFAULTS["refine_in_score"],
        local_radius: float = DEFAULTS["local_radius"],
        candidate_radius: float | None = DEFAULTS["candidate_radius"],
        warmup_steps: int = DEFAULTS["warmup_steps"],
        lambda_offset: float = DEFAULTS["lambda_offset"],
        lambda_local: float = DEFAULTS["lambda_local"],
        focal_gamma: float = DEFAULTS["focal_gamma"],
        conf_prior: float = DEFAULTS["conf_prior"],
        ignore_unlabelled: bool = DEFAULTS["ignore_unlabelled"],
    ):
        super().__init__(num_keypoints, stride, input_size)
        if assign not in ("adaptive", "fixed"):
            raise ValueError(f"assign must be adaptive or fixed, got {assign}")
        self.name = "adaanchor" if assign == "adaptive" else "fixanchor"
        self.assign, self.topk, self.sigma, self.fusion = assign, int(topk), float(sigma), fusion
        self.refine, self.refine_in_score = bool(refine), bool(refine_in_score)
        self.local_radius, self.candidate_radius = float(local_radius), candidate_radius
        self.warmup_steps, self.ignore_unlabelled = int(warmup_steps), bool(ignore_unlabelled)
        # Read by the loss and the model's confidence head (``strategy.focal_gamma``, ``strategy.conf_prior``).
        self.focal_gamma, self.conf_prior = float(focal_gamma), float(conf_prior)
        k = num_keypoints
        self.heads = {"conf": k, "offset": 2 * k}
        self.losses = {"conf": ("focal", 1.0), "offset": ("l1", float(lambda_offset))}
        if self.refine:
            self.heads["local"] = 2 * k
            self.losses["local"] = ("l1", float(lambda_local))

    # ---- geometry -------------------------------------------------------------------------------
    def predicted_points(self, outputs: dict[str, Tensor], refine: bool) -> tuple[Tensor, Tensor]:
        """Every cell's prediction for every type.

        Returns:
            ``points (B, K, h*w, 2)`` in input pixels (refined if ``refine``) and ``centres (h*w, 2)``.
        """
        off = outputs["offset"]
        b, _, h, w = off.shape
        k, s = self.num_keypoints, self.stride
        centres = cell_centers(h, w, s, off.device)
        pts = centres + s * off.float().view(b, k, 2, h * w).transpose(2, 3)
        if refine:
            local = outputs["local"].float().reshape(b * k, 2, h, w)
            pts = refine_points(local, pts.reshape(b * k, h * w, 2), s).view(b, k, h * w, 2)
        return pts, centres

    # ---- training ---------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0) -> Encoded:
        conf = outputs["conf"]
        b, k, h, w = conf.shape
        s, hw = self.stride, h * w
        centres = cell_centers(h, w, s, conf.device)  # (hw, 2)
        gt = keypoints.float().permute(0, 2, 1, 3)  # (B, K, N, 2)
        valid = (visibility > 0).permute(0, 2, 1)  # (B, K, N)
        n = gt.shape[2]
        # Distance (in cells) of every cell centre to every target: (B, K, N, hw).
        cell_d = torch.cdist(gt.reshape(b * k, n, 2), centres.expand(b * k, hw, 2)).view(b, k, n, hw) / s

        adaptive = self.assign == "adaptive" and step >= self.warmup_steps
        if adaptive:
            pts, _ = self.predicted_points(outputs, refine=self.refine and self.refine_in_score)
            d2 = ((pts.unsqueeze(2) - gt.unsqueeze(3)) ** 2).sum(-1)  # (B, K, N, hw)
            r = torch.exp(-d2 / (2 * self.sigma**2))
            c = torch.sigmoid(conf.float()).view(b, k, 1, hw)
            score = c * r if self.fusion == "mul" else c + r
            if self.candidate_radius is not None:
                score = score.masked_fill(cell_d > float(self.candidate_radius), float("-inf"))
        else:
            score = -cell_d
        kk = min(self.topk, hw)
        idx = score.topk(kk, dim=-1).indices  # (B, K, N, kk)
        selected = torch.zeros(b, k, n, hw, dtype=torch.bool, device=conf.device)
        selected.scatter_(-1, idx, True)
        selected &= valid.unsqueeze(-1)
        if adaptive and self.candidate_radius is not None:  # topk also returns masked cells when too few remain
            selected &= cell_d <= float(self.candidate_radius)
        # A cell chosen by several instances of one type regresses to the one that scored it highest.
        owner = score.masked_fill(~selected, float("-inf")).argmax(dim=2)  # (B, K, hw)
        positive = selected.any(dim=2)  # (B, K, hw)
        owner_xy = torch.gather(gt, 2, owner.unsqueeze(-1).expand(b, k, hw, 2))  # (B, K, hw, 2)
        offset_t = (owner_xy - centres) / s  # (B, K, hw, 2)

        chan_w = valid.any(dim=2).float() if self.ignore_unlabelled else torch.ones(b, k, device=conf.device)
        conf_t = positive.float().view(b, k, h, w)
        conf_w = chan_w.view(b, k, 1, 1).expand(b, k, h, w).contiguous()
        pos_w = positive.float().unsqueeze(-1).expand(b, k, hw, 2)
        targets = {
            "conf": Target(conf_t, conf_w),
            "offset": Target(self._to_map(offset_t, h, w), self._to_map(pos_w, h, w)),
        }
        if self.refine:
            # Local offsets: at cells within local_radius cells of a target, point to the nearest target.
            d_loc = cell_d.masked_fill(~valid.unsqueeze(-1), float("inf"))
            near_d, near_n = d_loc.min(dim=2)  # (B, K, hw)
            near_xy = torch.gather(gt, 2, near_n.unsqueeze(-1).expand(b, k, hw, 2))
            local_t = (near_xy - centres) / s
            local_w = (near_d <= self.local_radius).float().unsqueeze(-1).expand(b, k, hw, 2)
            targets["local"] = Target(self._to_map(local_t, h, w), self._to_map(local_w, h, w))

        stats = {}
        npos = selected.sum()
        if npos > 0:
            stats["pos_dist_cells"] = float((cell_d * selected).sum() / npos)
        stats["adaptive"] = float(adaptive)
        return Encoded(targets, stats)

    @staticmethod
    def _to_map(x: Tensor, h: int, w: int) -> Tensor:
        """``(B, K, h*w, 2)`` to the head layout ``(B, 2K, h, w)``."""
        b, k = x.shape[:2]
        return x.transpose(2, 3).reshape(b, 2 * k, h, w).contiguous()

    # ---- inference --------------------------------------------------------------------------------
    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor]) -> Decoded:
        """Argmax of confidence per type gives the anchor; keypoint = anchor + offset (+ local, eq. 12)."""
        return decode_anchor(outputs, self.num_keypoints, self.stride, self.refine)


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
