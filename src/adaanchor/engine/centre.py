"""Single-stage (DEKR-style) pose from person centres: the model.

Everything but the model is :mod:`adaanchor.engine.bottomup`'s: its training step is the generic one (the
strategy encodes targets from detached outputs, one generic loss), and its evaluation only needs
``strategy.decode_poses(outputs, gamma)`` and ``strategy.options["gamma"]``, which
:class:`~adaanchor.strategies.centre.CentreStrategy` provides. What differs is the model (the ``poseoff`` head is
a set of per-keypoint branches, :func:`build_centre_model`) and that there are no tags to replace by oracle
ones: train with :func:`adaanchor.engine.bottomup.train_steps`, evaluate with
:func:`adaanchor.engine.bottomup.evaluate_bottomup` (``oracle_tags`` off).
"""

from __future__ import annotations

from torch import nn

from ..models.net import KeypointNet
from ..strategies.centre import CentreStrategy


def build_centre_model(backbone: nn.Module, strategy: CentreStrategy) -> KeypointNet:
    """``KeypointNet`` with the centre strategy's heads, ``poseoff`` built as its per-keypoint branches."""
    return KeypointNet(backbone, strategy.heads, conf_prior=float(getattr(strategy.centre, "conf_prior", 0.1)),
                       branches=strategy.branches)


__all__ = ["build_centre_model"]
