"""Single-stage (DEKR-style) pose from person centres: model, training steps and evaluation.

Everything but the model is :mod:`adaanchor.engine.bottomup`'s: its training step is the generic one (the
strategy encodes targets from detached outputs, one generic loss), and its evaluation only needs
``strategy.decode_poses(outputs, gamma)`` and ``strategy.options["gamma"]``, which
:class:`~adaanchor.strategies.centre.CentreStrategy` provides. What differs is the model (the ``poseoff`` head is
a set of per-keypoint branches, :func:`build_centre_model`) and that there are no tags to replace by oracle
ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from ..data.bottomup import BottomUpDataset
from ..metrics.sweep import GAMMAS
from ..models.net import KeypointNet
from ..strategies.centre import CentreStrategy
from .bottomup import evaluate_bottomup, predict_outputs, results_at, train_steps


def build_centre_model(backbone: nn.Module, strategy: CentreStrategy) -> KeypointNet:
    """``KeypointNet`` with the centre strategy's heads, ``poseoff`` built as its per-keypoint branches."""
    return KeypointNet(backbone, strategy.heads, conf_prior=float(getattr(strategy.centre, "conf_prior", 0.1)),
                       branches=strategy.branches)


def evaluate_centre(model: KeypointNet, strategy: CentreStrategy, dataset: BottomUpDataset, gt: Any,
                    sigmas: Any | None = None, gamma: float | None = None,
                    gammas: Sequence[float] = GAMMAS) -> dict[str, Any]:
    """AP family and recall at ``gamma`` (default the strategy's) and the sweep over ``gammas``.

    Returns ``ap, ap50, ap75, apm, apl, ar, recall, ap_by_gamma, recall_by_gamma, gamma, eval_s``, as
    :func:`~adaanchor.engine.bottomup.evaluate_bottomup` does (which computes them: one forward pass per image,
    then decoding at every gamma).
    """
    return evaluate_bottomup(model, strategy, dataset, gt, sigmas, gamma, gammas)  # type: ignore[arg-type]


__all__ = ["build_centre_model", "evaluate_centre", "predict_outputs", "results_at", "train_steps"]
