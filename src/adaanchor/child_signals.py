"""Signals in helper processes (data loader workers, the synthetic data's generating pool).

A scheduler (Slurm), torchrun and a terminal send SIGTERM or Ctrl-C to the whole process group: the helpers get it
together with the training process, which finishes its step, saves and then stops them itself
(:class:`adaanchor.engine.session.TermSignal`). A helper that died of that signal made the step fail ('DataLoader
worker ... is killed by signal: Terminated'). A helper that ignored SIGTERM for good hung the exit instead: torch and
multiprocessing stop a worker that is slow to leave with a SIGTERM, then wait for it. So a helper takes the first
SIGTERM as the group's and lets a second one end it as usual.

A process that does not catch SIGTERM (``adaanchor synth``) dies of the group's signal and never stops its helpers:
they waited for work forever, so a helper also ends once its parent is gone.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

PARENT_POLL_S = 0.25  # how often a helper looks for its parent


def _first_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the next one (its parent stopping it) ends the process


def _end_when_orphaned(parent: int) -> None:
    # An orphan is re-parented (to init or a subreaper): its parent's pid changes.
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    # Its work has nobody to go to: leave at once (a thread cannot reset the SIGTERM handler, and the main thread
    # may be blocked), with the status a SIGTERM gives in a shell.
    os._exit(128 + signal.SIGTERM)


def absorb_first_sigterm() -> None:
    """In a helper process: outlive the process group's SIGTERM, end at the next one or when the parent ends."""
    signal.signal(signal.SIGTERM, _first_sigterm)
    threading.Thread(target=_end_when_orphaned, args=(os.getppid(),), name="adaanchor-parent-watch",
                     daemon=True).start()


__all__ = ["absorb_first_sigterm"]
