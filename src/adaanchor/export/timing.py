"""Latency measurement: interleaved runs, median wall time."""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any


def median_ms(fns: Sequence[Any], runs: int, warmup: int = 3) -> list[float]:
    """Median wall time (ms) of each of ``fns``, run interleaved so that load from other processes hits all alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, t in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            t.append((time.perf_counter() - t0) * 1000.0)
    return [float(statistics.median(t)) for t in times]


__all__ = ["median_ms"]
