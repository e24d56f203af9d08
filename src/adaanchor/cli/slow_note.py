"""A line for work that runs long without a word of its own: printed only when it is still running after a few
seconds, so that quick runs stay quiet and a long one is not taken for a hang (``adaanchor data stats`` read 50,000
COCO images for 18-64 s, and a 20,000-row DeepLabCut table for 38 s, without printing anything)."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator

#: Seconds of silence before the line is printed.
AFTER_S = 5.0


@contextlib.contextmanager
def said_when_slow(message: str, after_s: float | None = None) -> Iterator[None]:
    """Print ``note: MESSAGE`` on standard error if the block is still running after ``after_s`` seconds (default
    :data:`AFTER_S`); nothing otherwise. The line comes from a timer thread, which the block's end cancels."""
    timer = threading.Timer(AFTER_S if after_s is None else after_s,
                            lambda: print(f"note: {message}", file=sys.stderr, flush=True))
    timer.daemon = True  # never keeps the process alive
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


__all__ = ["AFTER_S", "said_when_slow"]
