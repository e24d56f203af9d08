"""Crash-safe checkpoints: atomic writes (temp file + rename) and safe loading (``weights_only=True``).

Everything stored is tensors and plain containers, so ``torch.load(weights_only=True)`` can read it; a file
that carries pickled objects (which could run code when loaded) is refused with a clear error, before any of
its objects is built.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
import random
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AdaAnchorError
from ..safe_torch import safe_load  # noqa: F401 - re-exported; it sits below the models, which use it too


def atomic_save(obj: Any, path: str | Path) -> None:
    """Write ``obj`` with ``torch.save`` to a temp file in the same folder, fsync, then rename over ``path``.

    A crash at any moment leaves either the previous file or the new one, never a truncated one (a stray
    ``*.tmp`` file at worst, which nothing reads). A failed write (a full disk, a quota, an I/O error) removes
    the temp file, keeps the previous ``path`` and raises one :class:`AdaAnchorError` that says how much space
    the checkpoint needs and how much is free."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp's 0600 left checkpoints unreadable to the others of a group
        with _signals_deferred(), os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except (OSError, RuntimeError) as e:
        if isinstance(e, RuntimeError) and not _is_write_failure(e):
            _unlink_quietly(tmp)
            raise
        _unlink_quietly(tmp)  # before measuring the free space: the partial file no longer takes any
        raise AdaAnchorError(_write_failure_message(path, obj, e)) from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _umask() -> int:
    """The process's umask (read without changing it where /proc says it)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM during a checkpoint write and deliver them after it: a second Ctrl-C in the middle
    of torch.save broke the write (reported as a failed disk write) and lost that checkpoint. Main thread only
    (Python runs signal handlers there)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    sigs = [signal.SIGINT, signal.SIGTERM]
    old = {sig: signal.signal(sig, lambda sig, frame: caught.append(sig)) for sig in sigs}
    try:
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)  # the original handler runs now, the file complete


def _unlink_quietly(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass


def _is_write_failure(e: RuntimeError) -> bool:
    """torch's zip writer reports a failed ``write`` (ENOSPC among others) as a RuntimeError."""
    text = str(e)
    return any(s in text for s in ("PytorchStreamWriter", "file write failed", "unexpected pos"))


def _tensor_bytes(obj: Any) -> int:
    """Bytes of every tensor in a nest of dicts, lists and tuples (about the size of the saved file)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_tensor_bytes(v) for v in obj)
    return 0


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _write_failure_message(path: Path, obj: Any, e: BaseException) -> str:
    """One line: what failed, the space the file needs and the space free, and that the old file is kept.

    torch's zip writer does not pass the errno on: less free space than the file needs is taken as the cause."""
    need = _tensor_bytes(obj)
    try:
        free: int | None = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    code = getattr(e, "errno", None)
    if code == errno.EDQUOT:
        why = "disk quota exceeded"
    elif code == errno.ENOSPC or "No space left" in str(e) or (
            isinstance(e, RuntimeError) and free is not None and free < need):
        why = "no space left on the device"
    elif isinstance(e, RuntimeError):
        why = f"the write failed (torch: {_first_line(e)})"
    else:
        why = (getattr(e, "strerror", None) or _first_line(e)).rstrip(".")
    kept = f"the previous {path.name} is kept" if path.is_file() else "no previous checkpoint of that name"
    room = _mib(free) if free is not None else "unknown"
    return f"{path}: cannot write the checkpoint: {why} (it needs about {_mib(need)}, {room} free in {path.parent}); {kept}"


def _fsync_dir(d: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Fields of a training checkpoint (``resume``) and what each must be.
TRAINING_FIELDS = ("model", "optimizer", "scheduler", "step", "epoch", "batch", "best", "rng")


def load_checkpoint(path: str | Path, training: bool = False, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The one way checkpoints are read (``resume``, ``eval``, ``viz``, the demo): :func:`safe_load`, then a
    check of the content. Any checkpoint must hold a model state dict (``{"model": state}``, or a bare state
    dict, which is returned as ``{"model": state}``); with ``training`` every field a resume needs must be
    there and of the right type, or one error names the file and the field."""
    p = Path(path)
    state = safe_load(p, map_location)
    if isinstance(state, dict) and not training and "model" not in state and state and all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        state = {"model": state}  # a bare state dict (e.g. weights saved by another tool)
    if not isinstance(state, dict):
        raise AdaAnchorError(f"{p}: not a model checkpoint (holds a {type(state).__name__}, not a state dict)")
    if training:
        missing = [k for k in TRAINING_FIELDS if k not in state]
        if len(missing) > 3:  # not a damaged training checkpoint: another kind of file
            raise AdaAnchorError(f"{p}: not a training checkpoint (expected keys {', '.join(TRAINING_FIELDS)}; "
                                 f"found {sorted(map(str, state))}); to start from weights only, use model.weights=PATH")
        problem = next(iter(_field_problems(state)), None)
        if problem is not None:
            field, what, expected = problem
            raise AdaAnchorError(f"{p}: damaged checkpoint: field '{field}' is {what} (expected {expected}); "
                                 "resume from another checkpoint (e.g. best.pt) or start a new run")
    elif not isinstance(state.get("model"), dict):
        raise AdaAnchorError(f"{p}: damaged checkpoint: field 'model' is {_describe(state.get('model'), 'model' in state)} "
                             "(expected a state dict)")
    return state


def _describe(v: Any, present: bool = True) -> str:
    if not present:
        return "missing"
    text = repr(v) if not isinstance(v, torch.Tensor) else f"tensor{tuple(v.shape)}"
    kind = type(v).__name__
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} ({text[:40]})"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _field_problems(state: dict[str, Any]):
    """``(field, what it is, what it should be)`` for each damaged field of a training checkpoint."""
    checks = [
        ("model", lambda v: isinstance(v, dict), "a state dict"),
        ("optimizer", lambda v: isinstance(v, dict) and "state" in v and "param_groups" in v, "an optimizer state dict"),
        ("scheduler", lambda v: isinstance(v, dict), "a scheduler state dict"),
        ("step", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        ("epoch", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        ("batch", lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
        ("best", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v), "a number"),
        ("rng", lambda v: isinstance(v, dict), "a mapping of RNG states"),
    ]
    for name, ok, expected in checks:
        if name not in state or not ok(state[name]):
            yield name, _describe(state.get(name), name in state), expected
    rng = state.get("rng")
    if isinstance(rng, dict):
        parts = [("torch", lambda v: isinstance(v, torch.Tensor) and v.dtype == torch.uint8, "a uint8 tensor"),
                 ("numpy", lambda v: isinstance(v, (list, tuple)) and len(v) == 5 and isinstance(v[1], torch.Tensor),
                  "numpy's 5-part state"),
                 ("python", lambda v: isinstance(v, (list, tuple)) and len(v) == 3, "Python's 3-part state")]
        for name, ok, expected in parts:
            if name not in rng or not ok(rng[name]):
                yield f"rng.{name}", _describe(rng.get(name), name in rng), expected
    if "time_s" in state and not (isinstance(state["time_s"], (int, float)) and math.isfinite(state["time_s"])):
        yield "time_s", _describe(state["time_s"]), "a finite number"


def load_model_state(model: torch.nn.Module, state: dict[str, Any], path: str | Path, what: str) -> None:
    """Load ``state["model"]`` into ``model`` strictly; a mismatch is one line naming the file and ``what``
    (the architecture the config describes)."""
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, TypeError) as e:
        # The first line only says "Error(s) in loading"; the second names the keys or shapes.
        lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
        raise AdaAnchorError(f"{path}: checkpoint does not match the model of this config ({what}): "
                             f"{' '.join(lines[:2])[:300]}") from None


def _first_line(e: BaseException) -> str:
    s = str(e).strip()
    return f"{type(e).__name__}: {s.splitlines()[0]}" if s else type(e).__name__


def rng_state() -> dict[str, Any]:
    """All RNG states as tensors and plain containers (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # this process's device (one per rank under torchrun)
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        if isinstance(cuda, (list, tuple)):  # older checkpoints: every device's state
            cuda = cuda[torch.cuda.current_device()] if torch.cuda.current_device() < len(cuda) else None
        if cuda is not None:
            torch.cuda.set_rng_state(cuda)


def newest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint to resume from in ``run_dir/checkpoints`` (for ``resume=auto``): ``last.pt`` (always
    the latest training state), else the most recently written ``*.pt``; None when there is none."""
    d = Path(run_dir) / "checkpoints"
    if (d / "last.pt").is_file():
        return d / "last.pt"
    cands = [p for p in d.glob("*.pt") if p.is_file()] if d.is_dir() else []
    return max(cands, key=lambda p: p.stat().st_mtime_ns) if cands else None
