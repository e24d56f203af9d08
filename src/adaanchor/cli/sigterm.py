"""SIGTERM for commands that do not handle it themselves (``synth``, ``eval``, ``export``, ``score``, ``data stats``).

Left to the default action, a SIGTERM (``kill``, a scheduler's time limit) ended such a command on the spot: no
word of it, temporary files left, and multiprocessing's resource tracker warning of leaked semaphores.
:func:`sigterm_unwinds` makes it unwind as a Ctrl-C does: ``finally`` blocks run (files closed, temporary files
removed, helper processes stopped) and the command line says so and exits with 143 (128 + SIGTERM), the status a
shell reports for it. Where the signal lands in a finalizer or a weakref callback, Python prints "Exception ignored"
and drops the raise: the flag it also sets (:func:`adaanchor.errors.check_stop`) stops viz's and the evaluation's
loops at their next item, and the block's end in any case. ``train`` and ``predict`` catch SIGTERM themselves (:class:`adaanchor.engine.session.TermSignal`;
predict's :class:`adaanchor.predict.stop_signals.StopSignals`: finish the step or frame, save, stop) and take over
the handler while they run.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import Terminated, request_stop, stop_requested

#: The exit status of a command stopped by SIGTERM.
EXIT_SIGTERM = 128 + signal.SIGTERM


def _raise(signum: int, frame: Any) -> None:
    request_stop()  # for check_stop and the end of the block, should this raise land where Python drops it
    raise Terminated


@contextlib.contextmanager
def sigterm_unwinds() -> Iterator[None]:
    """Within it, SIGTERM raises :class:`Terminated`, unless a handler other than the default is set already (a
    program embedding the command line keeps its own) or this is not the main thread."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    request_stop(False)
    old = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, old)
        stopped = stop_requested()
        request_stop(False)  # a later command in this process (or one under its own handler) starts clear
    if stopped:  # the block ended normally after a SIGTERM whose exception a finalizer swallowed: still 143
        raise Terminated


__all__ = ["EXIT_SIGTERM", "Terminated", "sigterm_unwinds"]
