"""The checks of a config's layers against the defaults: unknown keys (with the closest match), a value (or null)
for a section, YAML's boolean words for a string option, and each value's type against its default's (a list's
elements against its default's elements)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import AdaAnchorError, unknown_name_error
from .option_tables import TYPE_TESTS
from .ranges import element_error

#: What to write instead of null for the sections a user may set to null to mean "off" (null read as the defaults:
#: ``aug: null`` trained with flips): (what it turns off, the section that does it); each builds (tests).
SECTION_OFF: dict[str, tuple[str, str]] = {
    "data.aug": ("no augmentation", "{flip: 0, rotation: 0, scale: 0, half_body: 0}"),
    "data.multi_aug": ("no augmentation", "{rotation: 0, scale: [1, 1], translation: 0, flip: 0}"),
    "data.occlusion": ("no occluders", "{train: false, val: false}"),
    "data.truncation": ("no truncation", "{train: 0, val: 0}"),
    "data.split": ("no split", "{by: null}"),
}


def section_error(name: str, value: Any) -> AdaAnchorError:
    """The error for a value given to a section (a key whose default is a mapping). Null is refused too: null is
    allowed exactly where the default is null, and a null section read as its defaults (``data.aug: null``, meant
    as "no augmentation", flipped and rotated) or failed later (``strategy: null`` was an AttributeError)."""
    if value is not None:
        return AdaAnchorError(f"config key '{name}' is a section: it must be a mapping, got {value!r}")
    off = SECTION_OFF.get(name)
    instead = f"; for {off[0]}, write {off[1]}" if off else f", or set the keys you mean ({name}.KEY=VALUE)"
    return AdaAnchorError(f"config key '{name}' is a section and cannot be null: leave it out or write {{}} for its "
                          f"defaults{instead}")


def check_keys(given: Mapping, valid: Mapping, prefix: str = "") -> None:
    for key, value in given.items():
        name = f"{prefix}{key}"
        if key not in valid:
            # A key of a section given without it (max_steps=20 for train.max_steps=20): the list of the level's
            # keys had no hint for it.
            nested = [f"{prefix}{sec}.{key}" for sec, sub in valid.items() if isinstance(sub, dict) and key in sub]
            if nested:
                also = f" (or {', '.join(nested[1:])})" if len(nested) > 1 else ""
                raise AdaAnchorError(f"unknown config key '{name}'. Did you mean '{nested[0]}'{also}? A key is "
                                     "written with its section")
            raise unknown_name_error("config key", name, [f"{prefix}{k}" for k in valid])
        if isinstance(valid[key], dict) and not isinstance(value, Mapping):
            raise section_error(name, value)
        if isinstance(valid[key], dict) and valid[key] and isinstance(value, Mapping):
            check_keys(value, valid[key], prefix=name + ".")
        if isinstance(valid[key], (list, tuple)) and value is not None and not isinstance(value, (list, tuple)):
            # Checked before the merge: OmegaConf refuses it there with a traceback, not a message.
            raise AdaAnchorError(f"config key '{name}' must be list, got {value!r} ({type(value).__name__})")


def bool_words(layer: dict[str, Any], ref: Mapping, words: Mapping[str, str] | None = None, prefix: str = "") -> None:
    """A bool given for a key whose default is a string, back to the word: YAML 1.1 reads ``off``/``no`` as False
    and ``on``/``yes`` as True, so ``train.amp=off`` (a documented value) was "must be str, got False". The
    option's own choices then decide (``off`` is one of ``train.amp``'s). ``words``: the text typed for a dotted
    key (an override's: ``out_dir=yes`` is the folder ``yes``); without it, ``on`` / ``off``."""
    for key, value in layer.items():
        default = ref.get(key) if isinstance(ref, Mapping) else None
        if isinstance(default, dict) and isinstance(value, dict):
            bool_words(value, default, words, f"{prefix}{key}.")
        elif isinstance(default, str) and isinstance(value, bool):
            layer[key] = (words or {}).get(f"{prefix}{key}") or ("on" if value else "off")

#: What a value of each default's type may be (an int where the default is a float: ``train.lr=1``), and the
#: words for it in an element's error.
_IS = TYPE_TESTS  # one table: the config's checks and build_strategy's (option_tables.check_options)


def check_types(cfg: Mapping, ref: Mapping, prefix: str = "") -> None:
    for key, default in ref.items():
        value = cfg.get(key)
        name = f"{prefix}{key}"
        if isinstance(default, dict):
            if not isinstance(value, Mapping):
                raise section_error(name, value)
            if default:
                check_types(value, default, name + ".")
            continue
        if default is None:
            continue
        if value is None:  # only keys whose default is null may be null
            raise AdaAnchorError(f"config key '{name}' must be {type(default).__name__}, got null")
        ok = _IS.get(type(default), (lambda v: True, ""))[0]
        if not ok(value):
            raise AdaAnchorError(
                f"config key '{name}' must be {type(default).__name__}, got {value!r} ({type(value).__name__})"
            )
        if isinstance(default, (list, tuple)):
            check_elements(name, value, default)


def check_elements(name: str, value: Any, default: list | tuple) -> None:
    """Each element of the list ``value`` against the type of ``default``'s elements (integers; numbers, not a bool
    or a string such as ``"0.1"``, where one is a float; strings). Without it ``eval.pck=[abc]`` trained to the end
    before the evaluation refused it, and ``data.multi_aug.scale=[x,1]`` was a TypeError. An empty or null default
    gives no type: such a list declares it with its range (:func:`adaanchor.ranges.each`)."""
    kinds = {type(v) for v in default}
    kind = float if kinds in ({float}, {int, float}) else next(iter(kinds)) if len(kinds) == 1 else None
    if kind not in (int, float, str):
        return
    ok, what = _IS[kind]
    for i, v in enumerate(value):
        if not ok(v):
            raise element_error(name, i, what, v)


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


#: The tasks whose evaluation and prediction have a flip test (``eval.flip_test``): top-down averages the decoded
#: points, the multi-person tasks the head maps before decoding (:mod:`adaanchor.strategies.flip_test`).
FLIP_TEST_TASKS = ("topdown", "bottomup", "centre")


def check_task_options(plain: Mapping[str, Any]) -> None:
    """Options that only some tasks read, refused for another rather than ignored: ``eval.flip_test`` for a task
    without a flip test (every registered task has one, :data:`FLIP_TEST_TASKS`; a task added to the registry has
    none until its strategy merges its maps)."""
    task = plain.get("task")
    if (plain.get("eval") or {}).get("flip_test") and task not in FLIP_TEST_TASKS:
        raise AdaAnchorError(f"eval.flip_test=true: task={task} has no flip test (its strategy does not merge a "
                             f"mirrored pass; tasks with one: {', '.join(FLIP_TEST_TASKS)}): set eval.flip_test=false")


__all__ = ["FLIP_TEST_TASKS", "SECTION_OFF", "bool_words", "check_base", "check_config", "check_elements", "check_keys", "check_task_options",
           "check_types", "section_error", "select"]


@contextlib.contextmanager
def naming_file(base: Any, layer: Mapping[str, Any], ov: Mapping[str, Any]) -> Iterator[None]:
    """A type or range error of a key that the config file ``base`` (read as ``layer``) set, and no override ``ov``
    did, names the file, as an unknown key's does (``config key 'data.aug.flip': ... got 2`` left the user to find
    the file)."""
    try:
        yield
    except AdaAnchorError as e:
        m = re.match(r"config key '([^']+)'", str(e))
        if m and isinstance(base, (str, Path)) and not _is_set(ov, m.group(1)) and _is_set(layer, m.group(1)):
            from .configs import config_file

            raise AdaAnchorError(f"{config_file(base)}: {e}") from None
        raise


def _is_set(layer: Any, dotted: str) -> bool:
    """Whether the nested mapping ``layer`` sets the dotted key."""
    for part in dotted.split("."):
        if not isinstance(layer, Mapping) or part not in layer:
            return False
        layer = layer[part]
    return True
