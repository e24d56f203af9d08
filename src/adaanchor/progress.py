"""How the progress bars of passes that end inside a command (an evaluation, a threshold sweep) finish."""

from __future__ import annotations

import sys


def leave_bar() -> bool:
    """tqdm's ``leave`` for such a bar: on a terminal it is cleared when done; in a log (standard error a file or a
    pipe, ``2>&1``) it stays and ends its line, so that what is printed next starts a line of its own (the table of
    ``eval`` came glued to the cleared bar's last state, and ``grep`` or ``tail`` lost its header)."""
    stream = sys.stderr
    return not (stream is not None and hasattr(stream, "isatty") and stream.isatty())


__all__ = ["leave_bar"]
