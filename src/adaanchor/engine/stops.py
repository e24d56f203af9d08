"""A training stopped from outside its own code, said in one line, and how every training ended, written down for a
requeue script (docs/training.md, "Crash safety" and "Several GPUs, several machines").

- Another process of a torchrun training gone (stopped at its own error, killed, crashed): the collective that the
  others were in fails in gloo or NCCL ("Connection closed by peer", "Connection reset by peer", ``ncclRemoteError``)
  with the backend's traceback. :func:`explain` turns exactly that failure, in a distributed run only, into one line
  on each surviving rank.
- A data-loading worker killed (the kernel's out-of-memory killer, ``kill -9``): torch raises from its SIGCHLD
  handler wherever the training process is ("DataLoader worker (pid N) is killed by signal: Killed."), or the
  loader's queue breaks (``ConnectionResetError``). :func:`explain` names the worker, its signal, the last
  checkpoint and ``train.workers=0`` as the way around.
- ``train.status`` (:func:`record_end`): one line by rank 0 at every end a training reaches (or by the rank whose own
  error stopped it), removed when a training is accepted (a training refused before leaves it). torchrun exits with 1 whatever non-zero status its processes
  return, so under torchrun this file, not the exit status, tells a time-limit stop from an error.
"""

from __future__ import annotations

import contextlib
import re
import signal
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic
from ..errors import AdaAnchorError
from .dist import DistInfo
from .rundir import STATUS_NAME

#: The first word of ``train.status``: trained to the end (or nothing to do), stopped at ``train.time_limit_s``,
#: stopped by SIGTERM or Ctrl-C (saved first, or at once), stopped by an error.
KINDS = ("finished", "time_limit", "stopped", "error")

# A collective whose peer process is gone: gloo's TCP pair ("Connection closed by peer", "Read error ...: Connection
# reset by peer", a write's "Broken pipe", "Socket closed") and NCCL's remote error. The backend must be named too:
# a data worker's broken queue is a ConnectionResetError of the loader, not of a collective.
_BACKEND = re.compile(r"gloo|nccl", re.IGNORECASE)
_PEER_GONE = re.compile(r"closed by peer|reset by peer|Broken pipe|Socket closed|ncclRemoteError|remote process exit",
                        re.IGNORECASE)
_WORKER_TEXT = re.compile(r"DataLoader worker \(pid\(?s?\)? ?([\d, ]+)\) (.*?)\.?\s*$", re.DOTALL)


class StopError(AdaAnchorError):
    """A training stopped by a failure outside its own code (a peer process gone, a data worker killed)."""


def is_peer_gone(exc: BaseException, info: DistInfo) -> bool:
    """``exc`` is a collective's failure because another process of this distributed run is gone."""
    if info.world < 2 or not isinstance(exc, RuntimeError):
        return False
    text = str(exc)
    return bool(_BACKEND.search(text) and _PEER_GONE.search(text))


def loader_workers(loader: Any) -> list[Any]:
    """The worker processes of a DataLoader's live iterator (none with ``train.workers=0`` or before the first
    batch), taken before the loader is stopped."""
    return list(getattr(getattr(loader, "_iterator", None), "_workers", None) or [])


def dead_worker(workers: list[Any], exc: BaseException) -> tuple[int | None, int | None, str] | None:
    """(pid, exit status, torch's words) of a data worker that died, when ``exc`` came of it; else None. The workers'
    own status decides (a worker that sent an exception, a bad image, is alive); torch's message is the fallback
    (negative status: killed by that signal, as :attr:`multiprocessing.Process.exitcode`)."""
    text = str(exc)
    match = _WORKER_TEXT.search(text) if "DataLoader worker" in text else None
    broken = match is not None or isinstance(exc, (ConnectionError, EOFError))
    for patience in ((0.0, 1.0) if broken else (0.0,)):  # a closed queue can come just before the worker's status
        for w in workers:
            if patience:
                w.join(timeout=patience)
            if w.exitcode not in (None, 0):
                return w.pid, w.exitcode, ""
    if match is None:
        return None
    pid, words = match.group(1).split(",")[0].strip(), match.group(2).strip()
    code = re.search(r"killed by signal: ([^.]+)", words)
    status = re.search(r"exit code (-?\d+)", words)
    names = {signal.strsignal(s): -int(s) for s in signal.valid_signals() if signal.strsignal(s)}
    found = names.get(code.group(1).strip()) if code else int(status.group(1)) if status else None
    return (int(pid) if pid.isdigit() else None), found, words


def _how(code: int | None, words: str) -> str:
    """How a worker died: its exit status, or the signal that killed it with what that signal usually means."""
    if code is None:
        return words.removeprefix("is ") or "exited unexpectedly"
    if code > 0:
        return f"exited with status {code}"
    try:
        sig = signal.Signals(-code)
    except ValueError:
        return f"killed by signal {-code}"
    hint = {signal.SIGKILL: ": out of memory? the kernel's out-of-memory killer sends it",
            signal.SIGBUS: ": out of shared memory? /dev/shm passes the batches",
            signal.SIGSEGV: ": a crash in a native library?"}.get(sig, "")
    return f"killed by signal {-code} ({sig.name}{hint})"


def _checkpoint(run: Any, trusted: bool) -> str:
    """Where the training can continue from, as this rank knows it. Not ``trusted``: a rank other than 0 after a peer
    left, when rank 0 (which writes the checkpoints) may be the one that stopped, perhaps while writing one."""
    if run is None:
        return "continue with resume=auto"
    if not trusted:
        return f"rank 0 wrote the checkpoints (in {run.run_dir / 'checkpoints'}): continue with resume=auto"
    if run.last_ckpt:
        return f"the last checkpoint is step {run.last_ckpt[1]} ({run.last_ckpt[0]}): continue with resume=auto"
    return "no checkpoint was written yet: resume=auto starts the training again"


def explain(exc: BaseException, run: Any, info: DistInfo, workers: list[Any] | None = None) -> StopError | None:
    """The one-line error for a training stopped by ``exc``, when ``exc`` is a peer gone or a data worker's death;
    None for anything else (raised as it is). ``run``: the training (its last checkpoint), None before it is built;
    ``workers``: :func:`loader_workers`, taken before the loader was stopped."""
    who = f"rank {info.rank} of {info.world}: " if info.world > 1 else ""
    died = dead_worker(workers or [], exc)
    if died is not None:
        pid, code, words = died
        return StopError(f"{who}a data-loading worker{f' (pid {pid})' if pid else ''} died: {_how(code, words)}; "
                         f"{_checkpoint(run, True)}, or with train.workers=0 to read the data in the training "
                         "process itself")
    if is_peer_gone(exc, info):
        err = StopError(f"{who}another process of this training stopped (its own message, or torchrun's report, "
                        f"says why) and this one cannot go on without it; {_checkpoint(run, info.is_main)}")
        err.another_rank = True  # type: ignore[attr-defined]  # train.status keeps what that process wrote
        return err
    return None


def status_line(summary: dict[str, Any] | None, exc: BaseException | None, limit: Any = None) -> str:
    """``KIND: what happened``, the end of a training (:data:`KINDS`); ``limit``: ``train.time_limit_s``."""
    if exc is None and summary is not None:
        if summary.get("timed_out"):
            return (f"time_limit: stopped at train.time_limit_s={limit} after step {summary['steps']}; continue with "
                    "resume=auto")
        return f"finished: step {summary['steps']}"
    text = " ".join(str(exc).split()) if exc is not None else "unknown"
    if isinstance(exc, KeyboardInterrupt):  # Ctrl-C where it stops at once (data reading, an evaluation)
        return "stopped: interrupted by Ctrl-C (SIGINT); continue with resume=auto"
    if exc is not None and not isinstance(exc, Exception):
        return f"stopped: {type(exc).__name__}; continue with resume=auto"
    if getattr(exc, "signal_stop", False):
        return f"stopped: {text}"
    if not isinstance(exc, AdaAnchorError):
        text = f"{type(exc).__name__}: {text}"
    return f"error: {text}"


def record_end(run_dir: Path, info: DistInfo, holds_lock: bool, summary: dict[str, Any] | None,
               exc: BaseException | None, limit: Any = None) -> None:
    """Write ``train.status``, which rank 0 removed when the training was accepted (:func:`.session.clear_status`).

    Rank 0 (``holds_lock``) writes how the training ended, but keeps the line of another rank that stopped with its
    own error when its own end is that rank's doing (it left; it could not read the data). Another rank writes only
    an error of its own (not one every rank raises alike, not another rank's doing), before it leaves: rank 0
    learns of it from the broken collective only once that rank has left."""
    peer = getattr(exc, "another_rank", False)
    if holds_lock:
        if not (peer and (run_dir / STATUS_NAME).exists()):
            _write(run_dir, status_line(summary, exc, limit))
    elif isinstance(exc, Exception) and not peer and not getattr(exc, "same_on_every_rank", False):
        _write(run_dir, status_line(summary, exc, limit))


def _write(run_dir: Path, line: str) -> None:
    """A run directory that cannot be written any more is not a second error."""
    with contextlib.suppress(OSError):
        write_text_atomic(run_dir / STATUS_NAME, line.strip() + "\n")


__all__ = ["KINDS", "STATUS_NAME", "StopError", "dead_worker", "explain", "is_peer_gone", "loader_workers",
           "record_end", "status_line"]
