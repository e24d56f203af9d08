"""Anchor strategies behind one interface, chosen by ``strategy.name``.

:data:`STRATEGIES` is the registry: name -> class. A new strategy is one module with a :class:`Strategy`
subclass (its ``DEFAULTS``, ``RANGES`` and, where its options need more than keyword arguments,
``from_config``) plus one entry here; the config's ``strategy`` keys, the contract, round-trip and export
tests pick it up from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import unknown_name_error
from ..option_tables import check_options, merge_tables
from ..ranges import Checker, choice
from .anchor import AnchorStrategy
from .assigners import PRESETS
from .base import Decoded, Encoded, Strategy, Target
from .heatmap import HeatmapStrategy
from .losses import compute_loss
from .regression import RegressionStrategy

#: strategy name -> class (``strategy.name`` in a config). fixanchor and adaanchor share one class.
STRATEGIES: dict[str, type[Strategy]] = {
    "heatmap": HeatmapStrategy,
    "regression": RegressionStrategy,
    "fixanchor": AnchorStrategy,
    "adaanchor": AnchorStrategy,
    **{name: AnchorStrategy for name in PRESETS},  # named assigners: AdaAnchor with a preset of options
}
STRATEGY_NAMES = tuple(STRATEGIES)
#: The strategies that decode each keypoint from an anchor cell (drawn as Fig. 4's anchor squares).
ANCHOR_STRATEGY_NAMES = tuple(name for name, cls in STRATEGIES.items() if cls is AnchorStrategy)
DEFAULT_STRATEGY = "adaanchor"


def strategy_defaults() -> dict[str, Any]:
    """The ``strategy`` config section: ``name`` and every registered class's ``DEFAULTS`` (the section is flat:
    two classes may share a key only with the same default)."""
    return merge_tables(STRATEGIES, "DEFAULTS", {"name": DEFAULT_STRATEGY}, "strategy")


def strategy_ranges() -> dict[str, Checker]:
    """``strategy.<key>`` -> range or choice, over every registered class (``name`` included)."""
    return merge_tables(STRATEGIES, "RANGES", {"name": choice(tuple(STRATEGIES), kind="strategy")}, "strategy")


def build_strategy(cfg: Mapping[str, Any], num_keypoints: int, stride: int, input_size: tuple[int, int],
                   sigmas: Any = None) -> Strategy:
    """Build the strategy named ``cfg["name"]`` from the ``strategy`` config section (``sigmas``: the keypoint
    spec's OKS sigmas, read by anchor strategies with ``strategy.quality=oks``)."""
    name = str(cfg.get("name", DEFAULT_STRATEGY))
    if name not in STRATEGIES:
        raise unknown_name_error("strategy", name, STRATEGIES)
    cls = STRATEGIES[name]
    # A config from build_config is checked already; a section written in Python was not (topk=0, refine="false").
    check_options("strategy", cfg, getattr(cls, "DEFAULTS", {}), getattr(cls, "RANGES", {}))
    if cls is AnchorStrategy:
        return cls.from_config(cfg, num_keypoints, stride, input_size, sigmas=sigmas)
    return cls.from_config(cfg, num_keypoints, stride, input_size)


__all__ = ["Strategy", "Decoded", "Encoded", "Target", "build_strategy", "compute_loss", "STRATEGY_NAMES",
           "ANCHOR_STRATEGY_NAMES",
           "STRATEGIES", "DEFAULT_STRATEGY", "strategy_defaults", "strategy_ranges"]
