"""Crash-safe checkpoints: atomic writes (temp file + rename) and safe loading (``weights_only=True``).

Everything stored is tensors and plain containers, so ``torch.load(weights_only=True)`` can read it; a file
that carries pickled objects (which could run code when loaded) is refused with a clear error.
"""

from __future__ import annotations

import os
import pickle
import random
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import AdaAnchorError


def atomic_save(obj: Any, path: str | Path) -> None:
    """Write ``obj`` with ``torch.save`` to a temp file in the same folder, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def safe_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with one-line errors for missing, corrupt or unsafe files."""
    p = Path(path)
    if not p.is_file():
        raise AdaAnchorError(f"{p}: checkpoint not found")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e).splitlines()[0] if str(e) else ""
        if "weights_only" in str(e) or "Unsupported global" in str(e) or "GLOBAL" in str(e):
            raise AdaAnchorError(
                f"{p}: refused: the file carries pickled Python objects that could run code when loaded "
                f"(only tensors and plain containers are accepted). {msg}"
            ) from None
        raise AdaAnchorError(f"{p}: not a readable checkpoint ({msg})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise AdaAnchorError(f"{p}: not a readable checkpoint ({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None


def rng_state() -> dict[str, Any]:
    """All RNG states as tensors and plain containers (loadable with ``weights_only=True``)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": [np_state[0], torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "python": [py_state[0], list(py_state[1]), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n[0], n[1].numpy().astype(np.uint32), n[2], n[3], n[4]))
    p = state["python"]
    random.setstate((p[0], tuple(p[1]), p[2]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def newest_checkpoint(run_dir: str | Path) -> Path | None:
    """The most recently written checkpoint in ``run_dir/checkpoints`` (for ``resume=auto``)."""
    d = Path(run_dir) / "checkpoints"
    cands = [p for p in d.glob("*.pt")] if d.is_dir() else []
    return max(cands, key=lambda p: p.stat().st_mtime_ns) if cands else None
