"""Signals in helper processes (data loader workers, the synthetic data's generating pool).

A scheduler (Slurm), torchrun and a terminal send SIGTERM or Ctrl-C to the whole process group: the helpers get it
together with the training process, which finishes its step, saves and then stops them itself
(:class:`adaanchor.engine.session.TermSignal`). A helper that died of that signal made the step fail ('DataLoader
worker ... is killed by signal: Terminated'). A helper that ignored SIGTERM for good hung the exit instead: torch and
multiprocessing stop a worker that is slow to leave with a SIGTERM, then wait for it. So a helper takes the first
SIGTERM as the group's and lets a second one end it as usual.
"""

from __future__ import annotations

import signal
from typing import Any


def _first_sigterm(signum: int, frame: Any) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the next one (its parent stopping it) ends the process


def absorb_first_sigterm() -> None:
    """In a helper process: outlive the process group's SIGTERM, end at the next one."""
    signal.signal(signal.SIGTERM, _first_sigterm)


__all__ = ["absorb_first_sigterm"]
