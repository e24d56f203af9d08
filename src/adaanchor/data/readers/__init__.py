"""Readers of annotation formats. Each returns a :class:`ReadResult`: the valid instances plus every record
that was skipped (only with ``skip_invalid=True``) and why. Nothing is dropped silently: without
``skip_invalid`` the first bad record raises :class:`~adaanchor.errors.DataError` naming file, record, field.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import DataError
from ..records import Instance
from ..spec import KeypointSpec, load_spec


def spec_by_name(reader: Callable[..., ReadResult]) -> Callable[..., ReadResult]:
    """A reader that takes its ``spec`` as :func:`adaanchor.data.spec.load_spec` reads it (a built-in name, a YAML
    path, a mapping) besides a :class:`KeypointSpec`: ``FORMATS["coco"](path, "coco")`` raised ``AttributeError:
    'str' object has no attribute 'keypoints'`` from inside the reader."""

    @functools.wraps(reader)
    def read(path: Any, spec: Any, *args: Any, **kwargs: Any) -> ReadResult:
        return reader(path, spec if isinstance(spec, KeypointSpec) else load_spec(spec), *args, **kwargs)

    return read


@dataclass
class ReadResult:
    """Instances read from one annotation file, and the records skipped (``DataError`` each)."""

    instances: list[Instance]
    skipped: list[DataError] = field(default_factory=list)
    source: str = ""
    #: The image headers the reader read (:class:`~.image_header.ImageHeaders`, COCO formats), which ``data stats``
    #: reuses instead of opening every file again; None when it read none.
    headers: Any = field(default=None, compare=False, repr=False)

    def summary(self) -> str:
        """One line per skip reason, with counts (empty string when nothing was skipped)."""
        if not self.skipped:
            return ""
        counts = Counter(e.reason for e in self.skipped)
        lines = [f"{self.source}: skipped {len(self.skipped)} record(s):"]  # not all invalid: crowds, unlabelled people
        lines += [f"  {n} x {reason}" for reason, n in counts.most_common()]
        return "\n".join(lines)


class Collector:
    """Raise or collect :class:`DataError` for one file, depending on ``skip_invalid``."""

    def __init__(self, source: str, skip_invalid: bool):
        self.source, self.skip_invalid = source, skip_invalid
        self.skipped: list[DataError] = []

    def fail(self, message: str, record: object = None, field: str | None = None) -> None:
        err = DataError(self.source, printable(message), record=None if record is None else printable(record),
                        field=None if field is None else printable(field))
        if not self.skip_invalid:
            raise err
        self.skipped.append(err)

    def result(self, instances: list[Instance]) -> ReadResult:
        return ReadResult(instances, self.skipped, self.source)


def printable(text: object) -> str:
    """``str(text)`` with line breaks and other control characters escaped: names taken from a file (an
    image name, an id) go into one-line messages."""
    s = str(text)
    return s if s.isprintable() else "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                                             for c in s)


def float_array(value: Any, shape: tuple[int, ...]) -> np.ndarray | None:
    """``value`` as a float64 array of ``shape``; None when it is not numbers of that shape (including
    integers too large for a float, which numpy reports as ``OverflowError``)."""
    try:
        return np.asarray(value, dtype=np.float64).reshape(shape)
    except (TypeError, ValueError, OverflowError):
        return None


def box_ok(box: np.ndarray) -> bool:
    """``[x, y, w, h]`` is finite, with positive width and height and a finite area."""
    return bool(np.all(np.isfinite(box)) and box[2] > 0 and box[3] > 0
                and math.isfinite(float(box[2]) * float(box[3])))


def finite_number(value: Any) -> float | None:
    """``value`` as a float when it is a finite JSON number (not a bool, not a huge int); else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        f = float(value)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def is_int_id(value: Any) -> bool:
    """An integer id (``image_id``, ``id``): a Python or numpy int, not a bool."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


__all__ = ["ReadResult", "Collector", "Instance", "box_ok", "float_array", "finite_number", "is_int_id", "printable",
           "spec_by_name"]
