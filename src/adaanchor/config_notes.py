"""Notes on a config as it is built (:func:`adaanchor.config.build_config`): said on stderr, once under torchrun."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig


def say_once(line: str) -> None:
    """Print a note on the config to stderr, once under torchrun: every rank builds the same config, rank 0 says it."""
    if os.environ.get("RANK", "0") in ("", "0"):
        print(line, file=sys.stderr)


def note_preset_overrides(name: str, preset: Mapping[str, Any], user_layers: list[dict[str, Any]]) -> None:
    """Say which preset options the file or the overrides replace: a resolved config given as the base sets
    every key, and would otherwise turn a named assigner into the plain one without a word."""
    section: dict[str, Any] = {}
    for layer in user_layers:  # later layers win, as in the merge
        section.update(layer.get("strategy") or {})
    changed = [f"strategy.{k}={section[k]!r} (preset: {v!r})" for k, v in preset.items() if k in section and section[k] != v]
    if changed:
        say_once(f"note: the config replaces options of the {name} preset: {', '.join(changed)}")


def note_ignored_epochs(overrides: Mapping[str, Any], cfg: DictConfig) -> None:
    """Say so when an override sets ``train.epochs`` while ``train.max_steps`` (of a config such as ``custom``)
    sets the length of the run: the epochs would be ignored without a word."""
    if "epochs" in (overrides.get("train") or {}) and cfg.train.max_steps:
        say_once(f"note: train.epochs={cfg.train.epochs} has no effect while train.max_steps={cfg.train.max_steps} is "
                 "set (it counts the run in steps; train.max_steps=null counts epochs)")



def note_unused_flip_rules(rules: Mapping[str, str], flip_test: bool) -> None:
    """Say so when ``eval.flip_offsets`` / ``eval.flip_conf`` (``rules``) are set other than ``mean`` without the flip
    test, which alone reads them (accepted: a run's config may keep them for evaluations with the flip test)."""
    changed = [f"eval.{k}={v}" for k, v in rules.items() if v != "mean"]
    if changed and not flip_test:
        say_once(f"note: {', '.join(changed)} has no effect without the flip test (eval.flip_test=true)")


__all__ = ["note_ignored_epochs", "note_preset_overrides", "note_unused_flip_rules", "say_once"]
