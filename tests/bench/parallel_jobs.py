"""A call for benchmarks/parallel.py's tests, importable by its spawned workers: it stops at a SIGTERM, as a
training does (TermSignal), and logs its start."""

from __future__ import annotations

import signal
import time


def trainlike(seconds: float, log: str) -> None:
    stop: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(log, "a") as f:
        f.write("start\n")
    t0 = time.time()
    while time.time() - t0 < seconds and not stop:
        time.sleep(0.05)
