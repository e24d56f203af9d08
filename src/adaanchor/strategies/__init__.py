"""Anchor strategies behind one interface, chosen by ``strategy.name``.

:data:`STRATEGIES` is the registry: name -> class. A new strategy is one module with a :class:`Strategy`
subclass (its ``DEFAULTS``, ``RANGES`` and, where its options need more than keyword arguments,
``from_config``) plus one entry here; the config's ``strategy`` keys, the contract, round-trip and export
tests pick it up from the registry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

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


def build_strategy(cfg: Mapping[str, Any] | str, num_keypoints: int, stride: int, input_size: tuple[int, int],
                   sigmas: Any = None) -> Strategy:
    """Build the strategy named ``cfg["name"]`` from the ``strategy`` config section, or from a strategy's name
    alone (its defaults); ``sigmas``: the keypoint spec's OKS sigmas, read by anchor strategies with
    ``strategy.quality=oks``. ``num_keypoints`` and ``stride`` are integers >= 1, ``input_size`` ``(W, H)`` pixels.

    Raises:
        AdaAnchorError: an unknown strategy, an unknown key (``topkk=5`` was ignored: the run used topk 20) or a
            value out of its range; TypeError / ValueError: a section that is no mapping, impossible geometry (a
            stride of 0 decoded every keypoint at ``(-0.5, -0.5)``).
    """
    cfg = {"name": cfg} if isinstance(cfg, str) else cfg
    if not isinstance(cfg, Mapping):
        raise TypeError(f"cfg: expected the strategy config section (a mapping) or a strategy name, got "
                        f"{type(cfg).__name__}")
    _check_geometry(num_keypoints, stride, input_size)
    name = str(cfg.get("name", DEFAULT_STRATEGY))
    if name not in STRATEGIES:
        raise unknown_name_error("strategy", name, STRATEGIES)
    known = strategy_defaults()
    for key in cfg:  # a key of no strategy's table (the section is flat: another strategy's key passes)
        if key not in known:
            raise unknown_name_error("config key", f"strategy.{key}", [f"strategy.{k}" for k in known])
    cls = STRATEGIES[name]
    # A config from build_config is checked already; a section written in Python was not (topk=0, refine="false").
    check_options("strategy", cfg, getattr(cls, "DEFAULTS", {}), getattr(cls, "RANGES", {}))
    if cls is AnchorStrategy:
        return cls.from_config(cfg, num_keypoints, stride, input_size, sigmas=sigmas)
    return cls.from_config(cfg, num_keypoints, stride, input_size)


def _check_geometry(num_keypoints: Any, stride: Any, input_size: Any) -> None:
    """``num_keypoints`` and ``stride`` integers >= 1, ``input_size`` two integers >= 1 (``(W, H)``)."""
    def whole(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1

    for label, value in (("num_keypoints", num_keypoints), ("stride", stride)):
        if not whole(value):
            raise ValueError(f"{label}: expected an integer >= 1, got {value!r}")
    if isinstance(input_size, (str, bytes)) or not isinstance(input_size, Sequence) or len(input_size) != 2 or \
            not all(whole(v) for v in input_size):
        raise ValueError(f"input_size: expected (W, H), two integers >= 1, got {input_size!r}")


__all__ = ["Strategy", "Decoded", "Encoded", "Target", "build_strategy", "compute_loss", "STRATEGY_NAMES",
           "ANCHOR_STRATEGY_NAMES",
           "STRATEGIES", "DEFAULT_STRATEGY", "strategy_defaults", "strategy_ranges"]
