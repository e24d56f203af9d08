"""The checks of a config's layers against the defaults: unknown keys (with the closest match), a value for a
section, YAML's boolean words for a string option, and each value's type against its default's."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import AdaAnchorError, unknown_name_error


def check_keys(given: Mapping, valid: Mapping, prefix: str = "") -> None:
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in valid:
            raise unknown_name_error("config key", name, [f"{prefix}{k}" for k in valid])
        if isinstance(valid[key], dict) and value is not None and not isinstance(value, Mapping):
            raise AdaAnchorError(f"config key '{name}' is a section: it must be a mapping, got {value!r}")
        if isinstance(valid[key], dict) and valid[key] and isinstance(value, Mapping):
            check_keys(value, valid[key], prefix=name + ".")
        if isinstance(valid[key], (list, tuple)) and value is not None and not isinstance(value, (list, tuple)):
            # Checked before the merge: OmegaConf refuses it there with a traceback, not a message.
            raise AdaAnchorError(f"config key '{name}' must be list, got {value!r} ({type(value).__name__})")

def bool_words(layer: dict[str, Any], ref: Mapping) -> None:
    """A bool given for a key whose default is a string, back to the word: YAML 1.1 reads ``off``/``no`` as False
    and ``on``/``yes`` as True, so ``train.amp=off`` (a documented value) was "must be str, got False". The
    option's own choices then decide (``off`` is one of ``train.amp``'s)."""
    for key, value in layer.items():
        default = ref.get(key) if isinstance(ref, Mapping) else None
        if isinstance(default, dict) and isinstance(value, dict):
            bool_words(value, default)
        elif isinstance(default, str) and isinstance(value, bool):
            layer[key] = "on" if value else "off"

def check_types(cfg: Mapping, ref: Mapping, prefix: str = "") -> None:
    for key, default in ref.items():
        value = cfg.get(key)
        name = f"{prefix}{key}"
        if isinstance(default, dict):
            if value is not None and not isinstance(value, Mapping):
                raise AdaAnchorError(f"config key '{name}' is a section: it must be a mapping, got {value!r}")
            if default and isinstance(value, Mapping):
                check_types(value, default, name + ".")
            continue
        if default is None:
            continue
        if value is None:  # only keys whose default is null may be null
            raise AdaAnchorError(f"config key '{name}' must be {type(default).__name__}, got null")
        ok = {
            bool: lambda v: isinstance(v, bool),
            int: lambda v: isinstance(v, int) and not isinstance(v, bool),
            float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            str: lambda v: isinstance(v, str),
            list: lambda v: isinstance(v, (list, tuple)),
            tuple: lambda v: isinstance(v, (list, tuple)),
        }.get(type(default), lambda v: True)(value)
        if not ok:
            raise AdaAnchorError(
                f"config key '{name}' must be {type(default).__name__}, got {value!r} ({type(value).__name__})"
            )

def select(tree: Mapping[str, Any], key: str) -> Any:
    node: Any = tree
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def check_base(base: Any) -> None:
    """Refuse a ``build_config`` base that is no config file, packaged config's name or mapping (a list of overrides
    given first, a number): an ``AttributeError`` from inside the override parser was the message."""
    if base is not None and not isinstance(base, (str, Path, Mapping)):
        hint = ": overrides go second, build_config(None, [...]) or build_config('demo', [...])" \
            if isinstance(base, (list, tuple)) else ""
        raise TypeError(f"build_config: base must be a config file, a packaged config's name or a mapping, got "
                        f"{type(base).__name__}{hint}")


def check_config(cfg: Any, what: str) -> None:
    """Refuse what is not a whole config of :func:`build_config` (a name, a dict, its ``data`` section) before
    ``what`` reads it: OmegaConf's ``ValueError`` or an ``AttributeError`` from inside was the message."""
    from omegaconf import DictConfig

    sections = ("task", "strategy", "model", "train", "eval", "data")
    if not isinstance(cfg, DictConfig) or not all(k in cfg for k in sections):
        got = "a config section (DictConfig without " + ", ".join(k for k in sections if k not in cfg) + ")" \
            if isinstance(cfg, DictConfig) else type(cfg).__name__
        raise TypeError(f"{what}: expected the config of build_config(CONFIG, overrides), got {got}: "
                        f"{what}(build_config('demo', ['train.max_steps=100']))")


def check_task_options(plain: Mapping[str, Any]) -> None:
    """Options that only one task reads, refused for another rather than ignored: ``eval.flip_test`` is the
    top-down flip test (the multi-person tasks test without a flip; HigherHRNet's averages the maps, not built)."""
    task = plain.get("task")
    if (plain.get("eval") or {}).get("flip_test") and task != "topdown":
        raise AdaAnchorError(f"eval.flip_test=true is the top-down flip test (task=topdown); task={task} tests without "
                             "a flip: set eval.flip_test=false")


__all__ = ["bool_words", "check_base", "check_config", "check_keys", "check_task_options", "check_types", "select"]
