"""SIGTERM and Ctrl-C while ``adaanchor predict`` runs (:mod:`.command`): the files are always closed complete.

- SIGTERM or a first Ctrl-C: the frame in hand is finished, then the files are closed (:class:`StopSignals`, as
  training's :class:`adaanchor.engine.session.TermSignal`).
- A second Ctrl-C while the model predicts (the batch of the frame in hand can take a while) stops at once: the
  frames in flight are dropped (``KeyboardInterrupt`` there, caught by the command) and the files are closed.
- Any Ctrl-C (or SIGTERM) while the files are being closed, or while a frame is being written, is put off until
  they are: a ``.slp`` or ``.nwb`` file is written whole at its close, seconds for a short video, and a second
  Ctrl-C there had left neither of them, nor the labelled video (only its temporary file), nor the list of the
  files written; a Ctrl-C while the reading thread was being stopped printed a traceback from it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from ..engine.session import TermSignal

T = TypeVar("T")


class StopSignals(TermSignal):
    """:class:`TermSignal` for ``predict``: a first Ctrl-C or SIGTERM asks for a stop after the frame in hand; a
    second Ctrl-C raises ``KeyboardInterrupt`` only within :meth:`interruptible` (the model predicting), never
    while a frame is written or the files close (:meth:`closing`), where it is put off and said once."""

    def __init__(self) -> None:
        super().__init__(ctrl_c="finishing this frame and closing the files")
        self.dropped = False  # a second Ctrl-C dropped the frames being predicted
        self._may_raise = False
        self._closing = False
        self._said_wait = False

    def _handle(self, signum: int, frame: Any) -> None:
        first = not self.requested
        if first:
            self.requested, self.name = True, self.SIGNALS.get(signum, str(signum))
        if signum != signal.SIGINT:
            return  # SIGTERM: a stop is asked for (a second one changes nothing)
        if first:
            print(f"\nCtrl-C: {self.ctrl_c} (Ctrl-C again stops predicting at once; the files are closed all the same)",
                  file=sys.stderr, flush=True)
            return
        if self._may_raise and not self._closing:
            self.dropped, self._closing = True, True  # from here on every Ctrl-C waits for the files
            self.name = "Ctrl-C (SIGINT) twice" if self.name.startswith("Ctrl-C") else f"{self.name}, then Ctrl-C (SIGINT)"
            raise KeyboardInterrupt
        if not self._said_wait:
            self._said_wait = True
            print("\nCtrl-C: closing the files, a moment (stopping now would leave them incomplete)", file=sys.stderr,
                  flush=True)

    def interruptible(self, items: Iterable[T]) -> Iterator[T]:
        """``items``, each taken within reach of a second Ctrl-C (the predicting); what the caller does with an item
        (writing it) is not."""
        it = iter(items)
        while True:
            self._may_raise = True
            try:
                item = next(it)
            except StopIteration:
                return
            finally:
                self._may_raise = False
            yield item

    @contextlib.contextmanager
    def closing(self) -> Iterator[None]:
        """Within it, a Ctrl-C is put off (said once) while the files close."""
        self._closing = True
        try:
            yield
        finally:
            self._closing = False


__all__ = ["StopSignals"]
