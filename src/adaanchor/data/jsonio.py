"""Reading JSON files with errors that name the file (readers and metrics both read annotation JSON)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import DataError


def load_json(path: str | os.PathLike) -> Any:
    """Read a JSON file; a missing file or invalid JSON raises :class:`DataError` naming the file."""
    p = Path(path)
    if not p.is_file():
        raise DataError(p, "file not found")
    try:
        with p.open("r", encoding="utf-8-sig") as f:  # a byte-order mark (Windows editors) is no JSON error
            return json.load(f)
    except RecursionError:
        raise DataError(p, "invalid JSON: nested too deeply") from None
    except ValueError as e:  # JSONDecodeError, UnicodeDecodeError, an integer of over 4300 digits
        raise DataError(p, f"invalid JSON: {str(e).splitlines()[0]}") from None
    except OSError as e:
        raise DataError(p, f"cannot read ({e.strerror or e})") from None


__all__ = ["load_json"]
