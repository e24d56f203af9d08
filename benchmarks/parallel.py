"""Independent benchmark runs, several at a time: each in a fresh process with one torch thread.

On a machine with N cores a table of R runs takes about R/N run-times instead of R (``--jobs N``). Each run is
seeded and trained in one thread, in a process started with ``spawn`` (nothing of the caller's thread pools or
state is inherited), so its result is the one the sequential loop gives; the tests check that.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

_STOP: Any = None  # in a worker: the event the parent sets to stop the table


class Skipped(Exception):
    """A call not run: the table was stopped (a failure, Ctrl-C or SIGTERM) before a worker took it up."""


def _init_worker(stop: Any) -> None:
    global _STOP
    _STOP = stop


def _guarded(fn: Callable[..., Any], args: tuple) -> Any:
    """``fn(*args)`` unless the table was stopped: the executor hands a few queued calls to its workers ahead of
    time, and ``cancel_futures`` cannot take those back (each trained to its end after a stop)."""
    if _STOP is not None and _STOP.is_set():
        raise Skipped
    return fn(*args)


def run_parallel(fn: Callable[..., Any], calls: Mapping[Hashable, tuple], jobs: int) -> dict[Hashable, Any]:
    """``{key: fn(*args)}`` for every ``key: args`` of ``calls``, ``jobs`` at a time in worker processes.

    ``fn`` must be a module-level function (it is pickled by name). A failed call stops the rest and raises
    ``SystemExit`` naming its key, with the worker's exception as the cause; a Ctrl-C or SIGTERM stops the rest too
    (no queued call starts, the running ones get a SIGTERM, which a training takes as a stop: it saves).
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    results: dict[Hashable, Any] = {}
    if not calls:
        return results
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(calls)), mp_context=ctx, initializer=_init_worker,
                               initargs=(stop,))
    try:
        futures = {pool.submit(_guarded, fn, args): key for key, args in calls.items()}
        for fut in as_completed(futures):
            key = futures[fut]
            try:
                results[key] = fut.result()
            except Exception as exc:
                raise SystemExit(f"run {key} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        stop.set()  # before the signal: a worker that stops its run takes no next one
        for proc in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGTERM)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return results


if __name__ == "__main__":
    import sys

    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "multi_tables.py"))
