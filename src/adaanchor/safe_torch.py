"""Safe loading of PyTorch files (``weights_only=True``) with one-line errors.

It sits at the bottom of the import order (docs/conventions.md) because models (local weights) and the
engine (checkpoints) both load files with it.
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from typing import Any

import torch

from .errors import AdaAnchorError

_GLOBAL_RE = re.compile(r"(unsupported global[^\n]*|[^\n]*GLOBAL [^\n]*)", re.IGNORECASE)


def safe_load(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(weights_only=True)`` with one-line errors for missing, corrupt or unsafe files."""
    p = Path(path)
    if not p.is_file():
        what = "a folder, not a checkpoint file" if p.is_dir() else "not a regular file (a device or a pipe)" \
            if p.exists() else "checkpoint not found"
        raise AdaAnchorError(f"{p}: {what}")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        text = str(e)
        found = _GLOBAL_RE.search(text)
        if found or "Unsupported global" in text:  # only a named global means "would run code"
            what = f" ({found.group(1).strip()})" if found else ""
            raise AdaAnchorError(
                f"{p}: refused to load: the file carries pickled Python objects that could run code when "
                f"loaded{what}; only tensors and plain containers are accepted"
            ) from None
        raise AdaAnchorError(f"{p}: not a readable checkpoint (corrupt or not a PyTorch file: "
                             f"{_unpickling_cause(text)})") from None
    except MemoryError:
        raise
    except Exception as e:  # zip errors, truncation (OSError/EOFError/RuntimeError), junk bytes (KeyError) ...
        raise AdaAnchorError(f"{p}: not a readable checkpoint (truncated, corrupt or not a PyTorch file: "
                             f"{first_line(e)}){_other_checkpoints(p)}") from None


def _other_checkpoints(p: Path) -> str:
    """The run's other checkpoints beside an unreadable one (``RUN/checkpoints/``), as the damaged-field error names
    ``best.pt``: a cut ``last.pt`` said nothing of the ``best.pt`` next to it."""
    if p.parent.name != "checkpoints":
        return ""
    others = sorted(q.name for q in p.parent.glob("*.pt") if q.name != p.name)
    return f"; the run's other checkpoint(s): {', '.join(others)} (resume=PATH, or ckpt=PATH)" if others else ""


def _unpickling_cause(text: str) -> str:
    """What torch's unpickler found wrong (``Unsupported operand 110``), without its advice to load with
    ``weights_only=False``: false for a file that is no checkpoint at all (a PNG, junk), not something the command
    line can do, and a way to run a stranger's code."""
    after = text.split("WeightsUnpickler error:", 1)
    lines = [ln.strip() for ln in (after[1] if len(after) == 2 else "").splitlines() if ln.strip()]
    return f"UnpicklingError: {lines[0]}" if lines else "UnpicklingError"


def first_line(e: BaseException) -> str:
    """``"TypeName: first line of the message"`` (or just the type name)."""
    s = str(e).strip()
    return f"{type(e).__name__}: {s.splitlines()[0]}" if s else type(e).__name__


__all__ = ["safe_load", "first_line"]
