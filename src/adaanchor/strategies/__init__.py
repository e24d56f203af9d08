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
from ..ranges import Checker
from .anchor import AnchorStrategy
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
}
STRATEGY_NAMES = tuple(STRATEGIES)
DEFAULT_STRATEGY = "adaanchor"


def _classes() -> list[type[Strategy]]:
    return list(dict.fromkeys(STRATEGIES.values()))


def strategy_defaults() -> dict[str, Any]:
    """The ``strategy`` config section: ``name`` and every registered class's ``DEFAULTS``.

    The section is flat (one key space for all strategies), so two classes may share a key only with the
    same default."""
    out: dict[str, Any] = {"name": DEFAULT_STRATEGY}
    for cls in _classes():
        for key, value in cls.DEFAULTS.items():
            if key in out and out[key] != value:
                raise RuntimeError(f"strategy option '{key}' has two defaults: {out[key]!r} and {value!r}")
            out[key] = value
    return out


def strategy_ranges() -> dict[str, Checker]:
    """``strategy.<key>`` -> range or choice, over every registered class (``name`` included)."""
    from ..ranges import choice

    out: dict[str, Checker] = {"name": choice(tuple(STRATEGIES), kind="strategy")}
    for cls in _classes():
        out.update(cls.RANGES)
    return out


def build_strategy(cfg: Mapping[str, Any], num_keypoints: int, stride: int, input_size: tuple[int, int]) -> Strategy:
    """Build the strategy named ``cfg["name"]`` from the ``strategy`` config section."""
    name = str(cfg.get("name", DEFAULT_STRATEGY))
    if name not in STRATEGIES:
        raise unknown_name_error("strategy", name, STRATEGIES)
    return STRATEGIES[name].from_config(cfg, num_keypoints, stride, input_size)


__all__ = ["Strategy", "Decoded", "Encoded", "Target", "build_strategy", "compute_loss", "STRATEGY_NAMES",
           "STRATEGIES", "DEFAULT_STRATEGY", "strategy_defaults", "strategy_ranges"]
