"""Files written whole or not at all: a crash, a Ctrl-C or a full disk while writing leaves the previous file (or
none) under the name, never a cut one that a later reader (a table's ``--collect``, a resume, ``score``) takes for
complete."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def write_text_atomic(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` into a temporary file beside ``path`` and rename it over ``path`` once complete (a rename
    within one folder is atomic). ``OSError`` propagates; the temporary file is removed then. A ``path`` that is
    a pipe or a device (``/dev/stdout``) is written into directly."""
    write_bytes_atomic(path, text.encode(encoding))


def write_bytes_atomic(path: str | Path, data: bytes) -> None:
    """:func:`write_text_atomic` for bytes (a rendered image)."""
    p = Path(path)
    if p.exists() and not p.is_file() and not p.is_dir():
        # A pipe, a terminal or a device (``--json /dev/stdout``): written into, never renamed over. The rename
        # replaced the device node with a regular file (for root; for others it failed in /dev), and a reader of
        # the pipe got nothing. A folder is left to the rename, which refuses it.
        with p.open("wb") as f:
            f.write(data)
        return
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)  # gone after the rename; what a failed write left otherwise


def save_figure(fig: Any, path: str | Path, **kwargs: Any) -> None:
    """A matplotlib figure saved whole or not at all (:func:`write_bytes_atomic`), in the format of ``path``'s suffix
    (PNG without one): ``fig.savefig(path)`` wrote into the final name, and a stop mid-write left a cut image there."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".").lower() or "png", **kwargs)
    write_bytes_atomic(path, buf.getvalue())


__all__ = ["save_figure", "write_bytes_atomic", "write_text_atomic"]
