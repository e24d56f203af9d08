"""Valid ranges of config options.

Each default table declares the ranges of its options next to its defaults (``RANGES = {"topk": at_least(1)}``);
:func:`adaanchor.config.build_config` applies them all with one checker, so a bad value is refused when the
config is built, with a message that names the key and the valid range, not steps into a training.

A list option's element type is its default's (``eval.pck: [0.05, 0.1]`` holds numbers:
:func:`adaanchor.config_checks.check_types` refuses ``[abc]``, ``[true]`` or ``["0.1"]``); a list whose default
is empty or null declares it here with :func:`each` (``"lr_steps": each(at_least(0, integer=True))``), which
also sets the fewest elements and the order.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .errors import AdaAnchorError, unknown_name_error


@dataclass(frozen=True)
class Range:
    """A closed or open interval of numbers; a list value (a pair whose default gives its element type, such as
    ``data.occlusion.count``) is checked element by element. A list option that needs more (an element type that
    its default cannot give, a length, an order) is declared with :class:`ListOf`.

    Attributes:
        lo, hi: the bounds (None: unbounded on that side).
        lo_open, hi_open: the bound itself is excluded.
        integer: whole numbers only (``1e4`` is one): a count whose default is null has no default type to
            check it against (``train.max_steps=2.5`` trained).
    """

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    integer: bool = False

    def contains(self, v: float) -> bool:
        if not math.isfinite(v):
            return False
        if self.lo is not None and (v < self.lo or (self.lo_open and v == self.lo)):
            return False
        return not (self.hi is not None and (v > self.hi or (self.hi_open and v == self.hi)))

    def describe(self) -> str:
        return ("a whole number " if self.integer else "") + self.interval()

    def interval(self) -> str:
        """The bounds alone (``in (0, 1]``, ``>= 1``), as :meth:`describe` and :class:`ListOf` say them."""
        if self.lo is not None and self.hi is not None:
            return f"in {'(' if self.lo_open else '['}{_num(self.lo)}, {_num(self.hi)}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {_num(self.lo)}"
        if self.hi is not None:
            return f"{'<' if self.hi_open else '<='} {_num(self.hi)}"
        return "a finite number"

    def check(self, key: str, value: Any, nullable: bool = False) -> None:
        """Raise :class:`AdaAnchorError` naming ``key`` and the range when ``value`` (or an element) is outside."""
        items = value if isinstance(value, (list, tuple)) else [value]
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                if nullable:  # no default type to check against: train.time_limit_s=1h or =true ran (true as 1)
                    what = self.describe() if self.integer else f"a number {self.describe()}"
                    raise AdaAnchorError(f"config key '{key}': the value must be {what} (or null), "
                                         f"got {value!r}")
                continue  # the type check reports wrong types
            if not self.contains(float(v)):
                what = "every element of " if isinstance(value, (list, tuple)) else ""
                described = self.describe()
                finite = "a finite number " if not math.isfinite(float(v)) and described != "a finite number" else ""
                null = " (or null)" if nullable else ""
                raise AdaAnchorError(f"config key '{key}': {what}the value must be {finite}{described}{null}, "
                                     f"got {value!r}")
            if self.integer and not float(v).is_integer():
                raise AdaAnchorError(f"config key '{key}': the value must be {self.describe()}, got {value!r}")


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of strings; ``kind`` names it in the error (default: the key)."""

    values: tuple[str, ...]
    kind: str | None = None

    def check(self, key: str, value: Any, nullable: bool = False) -> None:
        if value is None and nullable:
            return
        if value not in self.values:
            raise unknown_name_error(self.kind or key, str(value), self.values)

    def describe(self) -> str:
        return "one of " + ", ".join(self.values)


@dataclass(frozen=True)
class Choices:
    """A list of one or more of a fixed set of strings (``data.occlusion.kinds``): the error names the key, the
    element, its value and the choices. A value not used until the data is built (occluders drawn only when
    ``data.occlusion.train`` or ``val`` is on) is still refused when the config is built."""

    values: tuple[str, ...]

    def check(self, key: str, value: Any, nullable: bool = False) -> None:
        if value is None and nullable:
            return
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise AdaAnchorError(f"config key '{key}': the value must be {self.describe()}, got {value!r}")
        for i, v in enumerate(value):
            if v not in self.values:
                close = difflib.get_close_matches(str(v), self.values, n=1, cutoff=0.6)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise AdaAnchorError(f"config key '{key}': element {i} is {v!r}{hint}, not one of "
                                     f"{', '.join(self.values)}")

    def describe(self) -> str:
        return "a list of one or more of " + ", ".join(self.values)


@dataclass(frozen=True)
class Flag:
    """``true`` or ``false`` (a key whose default is null may also be null: "let the code choose")."""

    def check(self, key: str, value: Any, nullable: bool = False) -> None:
        if (value is None and nullable) or isinstance(value, bool):
            return
        null = " (or null)" if nullable else ""
        raise AdaAnchorError(f"config key '{key}': the value must be true or false{null}, got {value!r}")

    def describe(self) -> str:
        return "true or false"


@dataclass(frozen=True)
class ListOf:
    """A list of numbers, each in ``item``'s range: the declaration of a list option's element type, which the type
    check takes from a default's elements and so cannot have where the default is empty (``train.lr_steps: []``)
    or null (``strategy.oks_sigmas``): ``train.lr_steps=["1","2"]`` was accepted as strings and ``[abc]`` was a
    traceback at the first step.

    Attributes:
        item: the range of each element (``integer``: whole numbers, ``1e4`` is one).
        min_len: the fewest elements (``eval.pck=[]`` scored nothing: no best checkpoint was kept).
        increasing: strictly increasing (milestones: ``train.lr_steps=[5, 5]`` multiplied the learning rate by
            ``lr_factor`` twice at step 5, and ``[5, 1]`` read as ``[1, 5]``).
    """

    item: Range
    min_len: int = 0
    increasing: bool = False

    def check(self, key: str, value: Any, nullable: bool = False) -> None:
        """Raise :class:`AdaAnchorError` naming ``key`` for a value that is no such list (null only if ``nullable``)."""
        if value is None and nullable:
            return
        null = " (or null)" if nullable else ""
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise AdaAnchorError(f"config key '{key}': the value must be {self.describe()}{null}, got {value!r}")
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise element_error(key, i, "a whole number" if self.item.integer else "a number", v)
        if len(value) < self.min_len:
            raise AdaAnchorError(f"config key '{key}': the value must be {self.describe()}{null}, got {value!r}")
        if not all(self.item.contains(float(v)) for v in value):
            raise AdaAnchorError(f"config key '{key}': every element of the value must be {self._each()}, "
                                 f"got {value!r}")
        whole = not self.item.integer or all(float(v).is_integer() for v in value)
        ordered = not self.increasing or all(b > a for a, b in zip(value, value[1:]))
        if not (whole and ordered):
            once = "" if ordered else " (each once)"
            raise AdaAnchorError(f"config key '{key}': the value must be {self._each()}{once}, got {value!r}")

    def describe(self) -> str:
        """``a list of one or more numbers, each in (0, 1]``: the docs' "Valid ranges" table says the same."""
        count = {0: "", 1: "one or more "}.get(self.min_len, f"{self.min_len} or more ")
        noun = "whole numbers" if self.item.integer else "numbers"
        order = ", in increasing order" if self.increasing else ""
        return f"a list of {count}{noun}, each {self.item.interval()}{order}"

    def _each(self) -> str:
        # What every element must be, as the range errors of list values have always said it.
        order = ", in increasing order" if self.increasing else ""
        return f"{'whole numbers ' if self.item.integer else ''}{self.item.interval()}{order}"


@dataclass(frozen=True)
class Text:
    """A non-empty string (a file path, ``auto``, ``timm:NAME``): the declaration of a key whose default is null,
    which therefore has no type to check against. ``resume=true`` was a ``TypeError`` traceback inside the
    checkpoint search, ``data.detections=[a]`` looked for a file named ``['a']``, ``data.csv=true`` for ``True``."""

    what: str = "a file path"

    def check(self, key: str, value: Any, nullable: bool = False) -> None:
        if (value is None and nullable) or (isinstance(value, (str, os.PathLike)) and str(value).strip()):
            return
        null = " (or null)" if nullable else ""
        # A file named 123 or 2024 reads as a number: quoted, it is the name.
        quote = f"; a path that reads as a number needs quotes: {key}='{value}'" \
            if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        raise AdaAnchorError(f"config key '{key}': the value must be {self.describe()}{null}, got {value!r}"
                             f" ({type(value).__name__}){quote}")

    def describe(self) -> str:
        return self.what


def element_error(key: str, index: int, what: str, value: Any) -> AdaAnchorError:
    """The error for an element of a list option that is not of the list's element type (``what``: ``a number``)."""
    return AdaAnchorError(f"config key '{key}': element {index} must be {what}, got {value!r}")


def each(item: Range, min_len: int = 0, increasing: bool = False) -> ListOf:
    """A list of numbers each in ``item`` (see :class:`ListOf`)."""
    return ListOf(item, min_len, increasing)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else f"{x:g}"


def positive() -> Range:
    """``> 0``."""
    return Range(0, None, lo_open=True)


def at_least(lo: float, integer: bool = False) -> Range:
    """``>= lo`` (``integer``: a whole number)."""
    return Range(lo, integer=integer)


def between(lo: float, hi: float, lo_open: bool = False, hi_open: bool = False) -> Range:
    """``lo <= v <= hi`` (with ``*_open``: strict)."""
    return Range(lo, hi, lo_open, hi_open)


def choice(values: Sequence[str], kind: str | None = None) -> Choice:
    """One of ``values``; the error says ``unknown KIND 'x'`` (``kind`` defaults to the config key)."""
    return Choice(tuple(values), kind)


def choices(values: Sequence[str]) -> Choices:
    """A list of one or more of ``values``."""
    return Choices(tuple(values))


def flag() -> Flag:
    """``true`` or ``false``."""
    return Flag()


#: ``0 .. 2**32 - 1``: what numpy's legacy seeding and most samplers accept.
SEED = between(0, 2**32 - 1)
#: probabilities.
PROB = between(0, 1)

Checker = Range | Choice | Choices | Flag | ListOf | Text


__all__ = ["Range", "Choice", "Choices", "Flag", "ListOf", "Text", "Checker", "positive", "at_least", "between", "choice",
           "choices", "flag", "each", "element_error", "SEED", "PROB"]
