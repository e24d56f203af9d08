"""Readers of annotation formats. Each returns a :class:`ReadResult`: the valid instances plus every record
that was skipped (only with ``skip_invalid=True``) and why. Nothing is dropped silently: without
``skip_invalid`` the first bad record raises :class:`~adaanchor.errors.DataError` naming file, record, field.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ...errors import DataError
from ..records import Instance


@dataclass
class ReadResult:
    """Instances read from one annotation file, and the records skipped (``DataError`` each)."""

    instances: list[Instance]
    skipped: list[DataError] = field(default_factory=list)
    source: str = ""

    def summary(self) -> str:
        """One line per skip reason, with counts (empty string when nothing was skipped)."""
        if not self.skipped:
            return ""
        counts = Counter(e.reason for e in self.skipped)
        lines = [f"{self.source}: skipped {len(self.skipped)} invalid record(s):"]
        lines += [f"  {n} x {reason}" for reason, n in counts.most_common()]
        return "\n".join(lines)


class Collector:
    """Raise or collect :class:`DataError` for one file, depending on ``skip_invalid``."""

    def __init__(self, source: str, skip_invalid: bool):
        self.source, self.skip_invalid = source, skip_invalid
        self.skipped: list[DataError] = []

    def fail(self, message: str, record: object = None, field: str | None = None) -> None:
        err = DataError(self.source, message, record=record, field=field)
        if not self.skip_invalid:
            raise err
        self.skipped.append(err)

    def result(self, instances: list[Instance]) -> ReadResult:
        return ReadResult(instances, self.skipped, self.source)


__all__ = ["ReadResult", "Collector", "Instance"]
