"""Why a path named as a ``predict`` / ``viz`` source, or found in a source folder, cannot be read, said when the
sources are listed (:func:`adaanchor.predict.sources.expand_sources`), before a model loads or a file is written.

- A file name that is not valid UTF-8 (Linux allows any bytes but ``/``): the output files hold names as UTF-8 text,
  and the CSV and NWB writers raised ``UnicodeEncodeError`` half way through, sleap-io crashed the process
  (segmentation fault) writing the ``.slp``, and ``viz`` failed drawing its title.
- Something that is not a regular file: a link to a missing file, a link loop, a FIFO (reading it waits for a
  writer), a socket or a device; and, in a folder, a subfolder whose name ends like a media file.

Names are shown with their undecodable bytes escaped (``bad\\xff.png``): printing them raised
``UnicodeEncodeError`` too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path


def printable(text: str) -> str:
    """``text`` with the bytes of a name that is not UTF-8 (surrogates of Python's ``surrogateescape``) written as
    ``\\xff``, so that it can be printed and written as UTF-8; other text as it is."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that is not an escaped byte
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def name_problem(path: Path) -> str | None:
    """Why the file ``path`` cannot be an input because of its name, or None: its name, or the path of its folder as
    the outputs write it (absolute), is not valid UTF-8."""
    if not _utf8(path.name):
        return "the file name is not valid UTF-8 (rename it: the output files hold file names as UTF-8 text)"
    try:
        full = str(path.absolute().parent.resolve() / path.name)
    except (OSError, RuntimeError):  # the folder cannot be resolved: the reader says why
        return None
    if not _utf8(full):
        return ("the path of its folder is not valid UTF-8 (rename the folder: the output files hold file names as "
                "UTF-8 text)")
    return None


def not_regular(path: Path) -> str | None:
    """Why ``path``, which is neither a regular file nor a folder (nor a link to one), cannot be read; None when there
    is nothing at ``path``."""
    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        return None
    if stat.S_ISLNK(st.st_mode):
        try:
            st = os.stat(path)
        except OSError as e:
            if e.errno == errno.ELOOP:
                return "a link loop (the link leads back to itself): not a file"
            if e.errno == errno.ENOENT:
                return "a link to a missing file"
            return f"a link that cannot be followed ({e.strerror or e})"
    if stat.S_ISFIFO(st.st_mode):
        return "not a regular file but a FIFO (named pipe): reading it would wait for a writer; copy it to a file"
    if stat.S_ISSOCK(st.st_mode):
        return "not a regular file but a socket"
    if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        return "not a regular file but a device"
    return None


def entry_problem(path: Path) -> str | None:
    """Why an entry with a media suffix in a source folder is not read, or None for a file: a subfolder (folders are
    not searched recursively), or what :func:`not_regular` says. Such entries were left out without a word."""
    if path.is_file():
        return None
    if path.is_dir():
        return "a folder, not a file (folders are not searched recursively: name it, or give a pattern)"
    return not_regular(path) or "not a regular file"


__all__ = ["entry_problem", "name_problem", "not_regular", "printable"]
