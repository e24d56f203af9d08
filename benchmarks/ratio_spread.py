"""The spread of a measure's paired ratios: a median read from pairs that disagree widely is not a measurement.

Under load (other processes on the cores) and with few repetitions, the paired ratios of one row can differ by
more than the effect the row measures (its targets are 2-10% from 1): :func:`spread_note` says so, on the
terminal and beside the ratio in the table, instead of a bare median.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: (max - min) / median of the paired ratios above which the median is flagged.
SPREAD_WARN = 0.10


def relative_spread(q: Mapping[str, Any]) -> float:
    """``(max - min) / median`` of a ratio's summary (``{"median", "min", "max"}``)."""
    return (float(q["max"]) - float(q["min"])) / float(q["median"]) if q["median"] else float("inf")


def spread_note(label: str, q: Mapping[str, Any], reps: int) -> str | None:
    """A warning for ratio ``label`` when its paired ratios spread over more than :data:`SPREAD_WARN` of the median;
    None otherwise."""
    spread = relative_spread(q)
    if spread <= SPREAD_WARN:
        return None
    return (f"{label}: the {reps} paired ratios range {q['min']:.2f}-{q['max']:.2f} ({100 * spread:.0f}% of the "
            f"median {q['median']:.3f}, more than {100 * SPREAD_WARN:.0f}%): the machine's load changed during the "
            "row; run it again on an idle machine or with more --reps")


if __name__ == "__main__":
    import sys

    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "speed.py"))
