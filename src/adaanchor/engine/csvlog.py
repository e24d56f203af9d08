"""Training and evaluation logs as CSV files, that a resumed run cuts back to its checkpoint."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import os
from pathlib import Path
from typing import Any

from ..atomic import write_text_atomic
from ..errors import AdaAnchorError


class CsvLog:
    """Append rows to a CSV file; the header is taken from the first row, and a later row with keys it lacks
    widens it (the file is written again, the earlier rows empty in the new columns: a statistic missing from the
    first row, such as the positives' distance of a step without positives, was dropped for the whole run).

    Each row is appended with one write and the file is closed again, so a crash loses at most the row being
    written; :meth:`truncate_after` drops such a partial row along with the rows a resumed run redoes.
    """

    def __init__(self, path: str | Path, enabled: bool = True):
        self.path, self.enabled = Path(path), enabled
        self.fields: list[str] | None = None
        if enabled and self.path.is_file():
            with self.path.open(newline="") as f:
                self.fields = next(csv.reader(f), None) or None

    def write(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        buf = io.StringIO()
        new = self.fields is None
        if new:
            self.fields = list(row)
        elif any(k not in self.fields for k in row):
            self._widen([k for k in row if k not in self.fields])
        w = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
        if new:
            w.writeheader()
        w.writerow(row)
        try:
            self._append(buf.getvalue())
        except AdaAnchorError:
            if new:  # nothing was written: the next row writes the header again
                self.fields = None
            raise

    def _append(self, text: str) -> None:
        """Append ``text`` whole or not at all: a write that fails (a full disk) is cut back to the file's size before
        it and raised as one line naming the file; it was a traceback that left half a row behind."""
        size = self.path.stat().st_size if self.path.is_file() else 0
        try:
            with self.path.open("a", newline="") as f:
                f.write(text)
        except OSError as e:
            with contextlib.suppress(OSError):
                os.truncate(self.path, size)
            why = "no space left on the device" if e.errno == errno.ENOSPC else (e.strerror or str(e))
            raise AdaAnchorError(f"{self.path}: cannot write the log ({why}); its rows up to the last complete one "
                                 "are kept, and the checkpoints are as they were: free space and continue with "
                                 "resume=auto") from None

    def _widen(self, keys: list[str]) -> None:
        """Add columns ``keys`` to the header and write the file again (whole or not at all)."""
        assert self.fields is not None
        old = self.rows()
        self.fields = [*self.fields, *keys]
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.fields)
        w.writeheader()
        w.writerows(old)
        write_text_atomic(self.path, buf.getvalue())

    def rows(self) -> list[dict[str, str]]:
        """The complete rows (a last line without its newline, cut by a crash, is left out)."""
        if not self.path.is_file():
            return []
        text = self.path.read_text()
        if text and not text.endswith("\n"):
            text = text[: text.rfind("\n") + 1]
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        if not header:
            return []
        return [dict(zip(header, r, strict=True)) for r in reader if len(r) == len(header)]

    def truncate_after(self, step: int) -> None:
        """Keep the rows whose ``step`` is at most ``step`` (a resumed run logs the later ones again); with
        ``step == 0`` (a fresh run) the file is removed, so that a new header can be written."""
        if not self.enabled or not self.path.is_file():
            return
        if step <= 0 or self.fields is None:
            self.path.unlink()
            self.fields = None
            return
        keep = []
        for r in self.rows():
            try:
                if int(float(r.get("step", ""))) <= step:
                    keep.append(r)
            except ValueError:
                continue
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(keep)
        write_text_atomic(self.path, buf.getvalue())
