"""User-facing errors.

Everything a user can cause (a bad path, a malformed annotation, an unknown config key) raises
:class:`AdaAnchorError` with a one-line message naming the file, record and field. The CLI prints the
message and exits with status 2 instead of showing a traceback.
"""

from __future__ import annotations

import difflib
import errno
from collections.abc import Iterable


class AdaAnchorError(Exception):
    """An error caused by input the user gave: printed as one line by the CLI."""


class DataError(AdaAnchorError):
    """A problem in a dataset file: names the file, the record and the field."""

    def __init__(self, path: object, message: str | None = None, record: object = None, field: str | None = None):
        if message is None:  # rebuilt from its text alone (e.g. re-raised by a DataLoader worker)
            super().__init__(str(path))
            self.path, self.record, self.field, self.reason = None, None, None, str(path)
            return
        where = str(path)
        if record is not None:
            where += f" [record {record}]"
        if field is not None:
            where += f" field '{field}'"
        super().__init__(f"{where}: {message}")
        self.path, self.record, self.field, self.reason = path, record, field, message


def unknown_name_error(kind: str, name: str, valid: Iterable[str]) -> AdaAnchorError:
    """Error for an unknown key or choice, listing valid names with a closest-match hint."""
    valid = sorted(valid)
    # Compare the last dotted part only: a shared prefix ("strategy.") would make anything look close.
    tails = {v.rsplit(".", 1)[-1]: v for v in valid}
    tail = name.rsplit(".", 1)[-1]
    # The same name in other letter case first ('DLC' for 'dlc': too short for the similarity cutoff).
    close = [t for t in tails if t.lower() == tail.lower()][:1] or \
        difflib.get_close_matches(tail, list(tails), n=1, cutoff=0.6)
    hint = f" Did you mean '{tails[close[0]]}'?" if close else ""
    return AdaAnchorError(f"unknown {kind} '{name}'.{hint} Valid: {', '.join(valid)}")


#: The errors of a write that the machine, not the code, causes: a full disk or quota, a file over the size limit, a
#: read-only file system. A command stopped by one says so in one line (:func:`adaanchor.cli.main`), never a traceback.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS})


def write_failure(e: OSError) -> str:
    """Why a file could not be written, for a one-line message: a file where a folder of its path should be
    raises FileExistsError or NotADirectoryError, whose own text ("File exists") says nothing useful."""
    if isinstance(e, (FileExistsError, NotADirectoryError)):
        return "a parent of it is a file, not a folder"
    return e.strerror or str(e)


class Terminated(BaseException):
    """A SIGTERM, raised in the main thread by :func:`adaanchor.cli.sigterm.sigterm_unwinds` (a BaseException, as
    KeyboardInterrupt: ``except Exception`` in the code it unwinds through does not swallow it)."""


_STOP = {"requested": False}  # a SIGTERM arrived under sigterm_unwinds


def request_stop(requested: bool = True) -> None:
    """Note (or clear) that a SIGTERM asked the command to stop (:mod:`adaanchor.cli.sigterm`)."""
    _STOP["requested"] = bool(requested)


def stop_requested() -> bool:
    """Whether a SIGTERM asked the command to stop (:func:`request_stop`)."""
    return bool(_STOP["requested"])


def check_stop() -> None:
    """Raise :class:`Terminated` if a SIGTERM asked to stop: called once per item by the long loops (viz's images, the
    evaluation's batches). The handler raises where the signal lands, and where that is a finalizer or a weakref
    callback Python prints "Exception ignored" and goes on: ``viz`` then drew all of a 1,500-frame video and exited 0."""
    if _STOP["requested"]:
        raise Terminated

