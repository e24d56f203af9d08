"""Anchor strategies behind one interface, chosen by ``strategy.name``."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from ..errors import unknown_name_error
from .anchor import AnchorStrategy
from .assigners import ASSIGNER_DEFAULTS, PRESETS
from .base import Decoded, Encoded, Strategy, Target
from .heatmap import HeatmapStrategy
from .losses import compute_loss
from .regression import RegressionStrategy

__all__ = ["Strategy", "Decoded", "Encoded", "Target", "build_strategy", "compute_loss", "STRATEGY_NAMES"]

STRATEGY_NAMES = ("heatmap", "regression", "fixanchor", "adaanchor", *PRESETS)


def build_strategy(cfg: Mapping[str, Any], num_keypoints: int, stride: int, input_size: tuple[int, int],
                   sigmas: Any = None) -> Strategy:
    """Build the strategy named ``cfg["name"]`` from the ``strategy`` config section (``sigmas``: the keypoint
    spec's OKS sigmas, used by ``strategy.quality=oks``). A preset name (``PRESETS``) is AdaAnchor with its
    options set; keys given in ``cfg`` that differ from the defaults still override them."""
    name = cfg["name"]
    preset = PRESETS.get(name)
    if preset is not None:
        cfg = {**cfg, **{key: v for key, v in preset.items() if cfg.get(key, _default(key)) == _default(key)}}
    if name == "heatmap":
        return HeatmapStrategy(num_keypoints, stride, input_size, sigma=cfg.get("heatmap_sigma", 2.0))
    if name == "regression":
        return RegressionStrategy(num_keypoints, stride, input_size)
    if name in ("adaanchor", "fixanchor") or preset is not None:
        st = AnchorStrategy(
            num_keypoints,
            stride,
            input_size,
            assign="fixed" if name == "fixanchor" else "adaptive",
            topk=cfg.get("topk", 20),
            sigma=cfg.get("sigma", 4.0),
            fusion=cfg.get("fusion", "mul"),
            refine=cfg.get("refine", True),
            refine_in_score=cfg.get("refine_in_score", True),
            local_radius=cfg.get("local_radius", 2.0),
            candidate_radius=cfg.get("candidate_radius"),
            warmup_steps=cfg.get("warmup_steps", 0),
            lambda_offset=cfg.get("lambda_offset", 1.0),
            lambda_local=cfg.get("lambda_local", 1.0),
            ignore_unlabelled=cfg.get("ignore_unlabelled", True),
            assigner={key: cfg[key] for key in ASSIGNER_DEFAULTS if key in cfg},
            sigmas=sigmas,
        )
        if preset is not None:
            st.name = name
        return st
    raise unknown_name_error("strategy", str(name), STRATEGY_NAMES)


def _default(key: str) -> Any:
    """The default of an anchor-strategy or assigner key (a preset overrides only keys left at it)."""
    if key in ASSIGNER_DEFAULTS:
        return ASSIGNER_DEFAULTS[key]
    return inspect.signature(AnchorStrategy.__init__).parameters[key].default
