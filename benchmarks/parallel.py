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


def run_parallel(fn: Callable[..., Any], calls: Mapping[Hashable, tuple], jobs: int) -> dict[Hashable, Any]:
    """``{key: fn(*args)}`` for every ``key: args`` of ``calls``, ``jobs`` at a time in worker processes.

    ``fn`` must be a module-level function (it is pickled by name). A failed call stops the rest and raises
    ``SystemExit`` naming its key, with the worker's exception as the cause.
    """
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    results: dict[Hashable, Any] = {}
    if not calls:
        return results
    ctx = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(max_workers=min(jobs, len(calls)), mp_context=ctx)
    try:
        futures = {pool.submit(fn, *args): key for key, args in calls.items()}
        for fut in as_completed(futures):
            key = futures[fut]
            try:
                results[key] = fut.result()
            except Exception as exc:
                raise SystemExit(f"run {key} failed: {type(exc).__name__}: {exc}") from exc
    except BaseException:
        # A stop of this process alone (SIGTERM to it, not to its group): the running runs are asked to stop as
        # well, and save as a stopped training does.
        for proc in list(getattr(pool, "_processes", {}).values()):
            with contextlib.suppress(OSError):
                os.kill(proc.pid, signal.SIGTERM)
        raise
    finally:
        # A failure, Ctrl-C or SIGTERM: the queued runs are dropped (every queued run trained to its end before: a
        # Ctrl-C took 111 s to stop a tiny table, hours at the protocol's budgets); the running ones stop themselves.
        pool.shutdown(wait=True, cancel_futures=True)
    return results
