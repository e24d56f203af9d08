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

from ..errors import AdaAnchorError
from ..ranges import at_least, between, choice, positive
from .anchor_decode import AnchorInference
from .assign_targets import (
    cell_distances2,
    clamp_to_map,
    labelled_rows,
    predicted_xy,
    take_rows,
    window_fits,
)
from .assigners import (
    ASSIGNER_DEFAULTS,
    ASSIGNER_RANGES,
    PRESETS,
    check_options,
    instance_area,
    kappas_from,
    log_quality,
)
from .base import Encoded, PointTarget, Strategy, Target
from .local_offsets import LOCAL_ABOUT, local_about_for, local_targets
from .positives import assigned, one_instance_topk


class AnchorStrategy(AnchorInference, Strategy):
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
        # ... of the target clamped onto the map, where the decoding reads them (clamped) or of the target (target);
        # auto: clamped for one person, target for the multi-person tasks (local_about_for; docs/method.md)
        "local_about": "auto",
        "candidate_radius": None,  # null: every cell is a candidate (paper); R: only cells within R cells
        "warmup_steps": 0,  # FixAnchor assignment for the first N training steps
        "lambda_offset": 1.0,  # lambda of eq. 4 for the anchor offset L1
        "lambda_local": 1.0,  # weight of the local-offset L1
        "focal_gamma": 2.0,  # CornerNet/CenterNet focal loss exponent
        "conf_prior": 0.1,  # initial sigmoid confidence (bias init of the confidence head)
        "ignore_unlabelled": True,  # channels of a keypoint type with no labelled target get no loss
        **ASSIGNER_DEFAULTS,  # the adaptive assignment's further options: meaning and defaults in assigners.py
    }
    RANGES = {
        "topk": at_least(1),
        "sigma": positive(),
        "fusion": choice(("mul", "add")),
        "local_radius": at_least(0),
        "local_about": choice(LOCAL_ABOUT),
        "candidate_radius": positive(),
        "warmup_steps": at_least(0),
        "lambda_offset": at_least(0),
        "lambda_local": at_least(0),
        "focal_gamma": at_least(0),
        "conf_prior": between(0, 1, lo_open=True, hi_open=True),
    }
    RANGES.update(ASSIGNER_RANGES)
    #: strategy name -> assignment: the registered names that share this class (presets are adaptive).
    ASSIGN = {"adaanchor": "adaptive", "fixanchor": "fixed", **{name: "adaptive" for name in PRESETS}}

    @classmethod
    def from_config(cls, section: Mapping[str, Any], num_keypoints: int, stride: int,
                    input_size: tuple[int, int], sigmas: Any = None) -> AnchorStrategy:
        """``strategy.name`` picks the assignment (:attr:`ASSIGN`); a preset name (``PRESETS``) sets its options
        where ``section`` has no such key (a config built by ``build_config`` has them all, the preset's values
        included); the other keys are :attr:`DEFAULTS`. ``sigmas``: the keypoint spec's OKS sigmas
        (``strategy.quality=oks``)."""
        name = str(section.get("name", "adaanchor"))
        opts = cls.options({**PRESETS.get(name, {}), **section})
        assigner = {key: opts.pop(key) for key in ASSIGNER_DEFAULTS}
        st = cls(num_keypoints, stride, input_size, assign=cls.ASSIGN[name], assigner=assigner, sigmas=sigmas, **opts)
        st.name = name
        return st

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
        local_about: str = DEFAULTS["local_about"],
        candidate_radius: float | None = DEFAULTS["candidate_radius"],
        warmup_steps: int = DEFAULTS["warmup_steps"],
        lambda_offset: float = DEFAULTS["lambda_offset"],
        lambda_local: float = DEFAULTS["lambda_local"],
        focal_gamma: float = DEFAULTS["focal_gamma"],
        conf_prior: float = DEFAULTS["conf_prior"],
        ignore_unlabelled: bool = DEFAULTS["ignore_unlabelled"],
        assigner: Mapping[str, Any] | None = None,
        sigmas: Any = None,
    ):
        super().__init__(num_keypoints, stride, input_size)
        if assign not in ("adaptive", "fixed"):
            raise ValueError(f"assign must be adaptive or fixed, got {assign}")
        self.name = "adaanchor" if assign == "adaptive" else "fixanchor"
        self.assign, self.topk, self.sigma, self.fusion = assign, int(topk), float(sigma), fusion
        self.refine, self.refine_in_score = bool(refine), bool(refine_in_score)
        self.local_radius, self.candidate_radius = float(local_radius), candidate_radius
        self.local_about = local_about_for(str(local_about), multi_person=False)
        self.warmup_steps, self.ignore_unlabelled = int(warmup_steps), bool(ignore_unlabelled)
        # Read by the loss and the model's confidence head (``strategy.focal_gamma``, ``strategy.conf_prior``).
        self.focal_gamma, self.conf_prior = float(focal_gamma), float(conf_prior)
        # Assigner options (strategies/assigners.py); `sigmas`: the keypoint spec's OKS sigmas, for quality=oks.
        self.opts = {**ASSIGNER_DEFAULTS, **{key: v for key, v in (assigner or {}).items() if key in ASSIGNER_DEFAULTS}}
        check_options(self.opts)
        self.kappa = kappas_from(self.opts, sigmas, num_keypoints)
        k = num_keypoints
        self.heads = {"conf": k, "offset": 2 * k}
        conf_loss = "qfocal" if self.opts["soft_targets"] and assign == "adaptive" else "focal"
        self.losses = {"conf": (conf_loss, 1.0), "offset": ("l1", float(lambda_offset))}
        if self.refine:
            self.heads["local"] = 2 * k
            self.losses["local"] = ("l1", float(lambda_local))

    # ---- training ---------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0,
               from_ema: bool = False) -> Encoded:
        """Targets from detached ``outputs``, ``keypoints (B, N, K, 2)``, ``visibility (B, N, K)``.

        Per target ``(B, K, N, hw)`` (see :mod:`adaanchor.strategies.assign_targets` for how it is kept fast).
        ``from_ema``: the outputs are those of the EMA model (required when ``assign_ema_decay > 0``).
        """
        if self.opts["assign_ema_decay"] > 0 and self.assign == "adaptive" and not from_ema:
            raise AdaAnchorError("strategy.assign_ema_decay > 0: the training loop must score the outputs of an "
                                 "AssignEMA copy of the model (strategies/assign_ema.py) and pass from_ema=True")
        conf = outputs["conf"]
        b, k, h, w = conf.shape
        s = self.stride
        gt = self.labelled(keypoints, visibility).permute(0, 2, 1, 3)  # (B, K, N, 2)
        valid = (visibility > 0).permute(0, 2, 1)  # (B, K, N)
        n = gt.shape[2]
        adaptive = self.assign == "adaptive" and step >= self.warmup_steps
        # Every cell's distance to every target: the fixed ranking, the candidate radius (and with local_about=target
        # the local targets of several instances) read it.
        local_d2 = self.refine and self.local_about == "target" and (n > 1 or not window_fits(self.local_radius, h, w))
        soft = adaptive and self.opts["soft_targets"]
        one_topk = n == 1 and not soft and (not adaptive or self.opts["select"] == "topk")
        rows = labelled_rows(valid) if one_topk else None
        needs_d2 = (rows is None and (not adaptive or self.candidate_radius is not None)) or local_d2
        cell_d2 = cell_distances2(gt, h, w, s) if needs_d2 else None  # (B, K, N, hw)
        if rows is not None:  # one instance and top-k selection: only the labelled targets' rows are ranked
            rank, cand = self._rank_rows(outputs, gt, valid, rows, adaptive)
            how = "topk"
        elif adaptive:
            rank, logr, cand, is_log = self._adaptive_rank(outputs, gt, valid, cell_d2)
            how = self.opts["select"]
            values = (rank.exp() if is_log else rank) if (how == "atss" or soft) else None
            r = logr.exp() if (how == "dynamic" or soft) else None
        else:
            rank, how, values, r, cand = -cell_d2, "topk", None, None, None
        chan_w = valid.any(dim=2).float() if self.ignore_unlabelled else torch.ones(b, k, device=conf.device)
        if one_topk:
            conf_t, offset_t = one_instance_topk(rank, cand, gt, valid, h, w, self.topk, self.stride, rows)
        else:
            conf_t, offset_t = assigned(rank, values, r, cand, how, gt, valid, soft, h, w, self.topk,
                                        int(self.opts["dynamic_q"]), self.stride)
        targets: dict[str, Target | PointTarget] = {
            # The channel weight is broadcast over the map (a view; the focal loss reads it per channel).
            "conf": Target(conf_t.view(b, k, h, w), chan_w.view(b, k, 1, 1).expand(b, k, h, w)),
            # Sparse: the offsets at the positives only (their dense form is offsets_to / pair_map of the positives).
            "offset": offset_t,
        }
        if self.refine:
            targets["local"] = local_targets(gt, valid, cell_d2, h, w, self.stride, self.local_radius, self.local_about)

        stats = {}
        # Distance of the positives to the target each regresses to, read off its offset target (cells): a
        # masked read of every cell's distance cost a tenth of the encode.
        pos_off = targets["offset"].values.view(-1, 2)
        if pos_off.numel() > 0:
            stats["pos_dist_cells"] = torch.linalg.vector_norm(pos_off, dim=1).mean()  # read when logged
        stats["adaptive"] = float(adaptive)
        return Encoded(targets, stats)

    def _rank_rows(self, outputs: dict[str, Tensor], gt: Tensor, valid: Tensor,
                   rows: Tensor, adaptive: bool) -> tuple[Tensor, Tensor | None]:
        """The ranking of the targets ``rows`` (:func:`labelled_rows`) only, as one image of ``R`` types:
        ``(1, R, 1, hw)`` and the candidate mask of the same shape (or None). What a row's ranking reads of its
        instance or its type (the instance's area, the OKS kappa) is taken for it from the whole batch."""
        h, w = outputs["conf"].shape[-2:]
        sub_gt = take_rows(gt, rows)
        if not adaptive:
            return -cell_distances2(sub_gt, h, w, self.stride), None
        heads = {"conf": 1, "offset": 2, **({"local": 2} if self.refine and self.refine_in_score else {})}
        sub = {name: take_rows(outputs[name], rows, c) for name, c in heads.items()}
        area = None
        if self.opts["quality"] == "oks" or self.opts["prior"] == "instance":
            area = take_rows(instance_area(gt, valid).expand(*valid.shape), rows)  # (1, R, 1): each row's instance
        kappa = None if self.kappa is None else self.kappa.to(gt.device)[rows.remainder(gt.shape[1])]
        cell_d2 = cell_distances2(sub_gt, h, w, self.stride) if self.candidate_radius is not None else None
        rank, _, cand, _ = self._adaptive_rank(sub, sub_gt, take_rows(valid, rows), cell_d2, area, kappa)
        return rank, cand

    def _adaptive_rank(self, outputs: dict[str, Tensor], gt: Tensor, valid: Tensor, cell_d2: Tensor | None,
                       area: Tensor | None = None, kappa: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None, bool]:
        """Ranking of the cells per target, ``(B, K, N, hw)``, ``-inf`` outside the candidates.

        ``area`` / ``kappa``: the instances' areas and the types' OKS kappas, when the caller has them (a subset
        of the rows, :meth:`_rank_rows`); None: from ``gt`` / ``self.kappa``.
        Returns ``(rank, log r, candidate mask or None, is_log)``: ``rank`` is the log of the metric
        (``mul`` and ``aligned``: the same order as the metric, without exponentials) or the metric itself
        (``add``).
        """
        b, k = gt.shape[:2]
        hw = outputs["conf"].shape[-2] * outputs["conf"].shape[-1]
        local = outputs.get("local") if (self.refine and self.refine_in_score) else None
        px, py = predicted_xy(outputs["offset"], local, k, self.stride)  # (B, K, 1, hw)
        d2 = (px - gt[..., 0:1]).square_().add_((py - gt[..., 1:2]).square_())  # (B, K, N, hw), in place
        if area is None and (self.opts["quality"] == "oks" or self.opts["prior"] == "instance"):
            area = instance_area(gt, valid)  # (B, 1, N)
        logr = log_quality(d2, self.opts["quality"], self.sigma, area, self.kappa if kappa is None else kappa)
        logit = outputs["conf"].float().view(b, k, 1, hw)
        is_log = True
        if self.opts["metric"] == "aligned":
            rank = float(self.opts["align_alpha"]) * torch.sigmoid(logit).log() + float(self.opts["align_beta"]) * logr
        elif self.fusion == "mul":
            # log(sigmoid) rather than logsigmoid: faster, and it keeps the ties of the float product c * r.
            rank = torch.sigmoid(logit).log_() + logr
        else:
            rank, is_log = torch.sigmoid(logit) + logr.exp(), False
        cand = None
        if self.candidate_radius is not None:
            cand = cell_d2 <= (float(self.candidate_radius) * self.stride) ** 2
        if self.opts["prior"] == "instance":
            rad = (float(self.opts["prior_scale"]) * area.sqrt()).clamp(min=float(self.opts["prior_min_cells"]) * self.stride)
            # Measured from the target moved onto the map (the rectangle of the outer cell centres), so that a
            # keypoint far outside the image keeps candidates: the cells at the border nearest to it.
            h, w = outputs["conf"].shape[-2:]
            inst = cell_distances2(clamp_to_map(gt, h, w, self.stride), h, w, self.stride) <= (rad**2).unsqueeze(-1)
            cand = inst if cand is None else cand & inst
        if cand is not None:
            rank = rank.masked_fill(~cand, float("-inf"))
        # A NaN prediction ranks last: top-k ranks NaN highest, and a NaN local offset at an unsupervised cell made
        # the cells reading it the positives while the loss stayed finite (no skipped batch to say so).
        torch.nan_to_num_(rank, nan=float("-inf"), posinf=float("inf"), neginf=float("-inf"))
        return rank, logr, cand, is_log
