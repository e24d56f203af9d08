"""Option tables checked as a whole: a registry's config section merged from its classes' tables, and options
given in Python (not through a config) checked against their defaults' types and their ranges
(:mod:`adaanchor.ranges` holds the ranges themselves)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .errors import AdaAnchorError
from .ranges import Checker


def merge_tables(registry: Mapping[str, Any], table: str, base: Mapping[str, Any], section: str) -> dict[str, Any]:
    """``base`` plus the ``table`` (``"DEFAULTS"`` or ``"RANGES"``) of every distinct class in ``registry``: the
    config section of a registry. The section is one key space, so two classes may share a key only with
    equal entries."""
    out = dict(base)
    for cls in dict.fromkeys(registry.values()):
        for key, value in getattr(cls, table).items():
            if key in out and out[key] != value:
                raise RuntimeError(f"{section}.{key} has two {table.lower()}: {out[key]!r} and {value!r}")
            out[key] = value
    return out


#: A default's type -> (the test a value of that option must pass, what it must be): ``config_checks`` checks a
#: config's values with it, :func:`check_options` the options a strategy is given in Python.
TYPE_TESTS: dict[type, tuple[Callable[[Any], bool], str]] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
    list: (lambda v: isinstance(v, (list, tuple)), "a list"),
    tuple: (lambda v: isinstance(v, (list, tuple)), "a list"),
}


def check_options(section: str, given: Mapping[str, Any], defaults: Mapping[str, Any],
                  ranges: Mapping[str, Checker]) -> None:
    """Options given in Python (a strategy built with ``build_strategy``, not through ``build_config``): each key
    of ``defaults`` that ``given`` sets must pass its default's :data:`TYPE_TESTS` (``refine="false"`` was True) and
    lie in its range (``topk=0`` trained no positive, ``fusion="MUL"`` scored as ``add``), refused as ``config key
    'SECTION.KEY'``. Keys of other tables pass; lists are left to their ranges (a config's own list type differs)."""
    for key, default in defaults.items():
        if key not in given or (given[key] is None and default is None):
            continue
        value, name = given[key], f"{section}.{key}"
        test = TYPE_TESTS.get(type(default)) if not isinstance(default, (list, tuple)) else None
        if test is not None and not test[0](value):
            raise AdaAnchorError(f"config key '{name}' must be {test[1]}, got {value!r}")
        if key in ranges:
            ranges[key].check(name, value, nullable=default is None)


__all__ = ["merge_tables", "check_options", "TYPE_TESTS"]
