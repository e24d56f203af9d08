"""The versions a bug report needs: this package, torch, timm, OmegaConf and Python, and the source commit.

Read from the installed packages' metadata: importing torch only to learn its version would slow every
command's start. ``adaanchor --version`` prints them; every entry of a run's ``config_history.yaml`` records
them, so that a run can be traced to the code and libraries that wrote it. A package run from a git checkout
(an editable install, as ``make install`` makes) adds the checkout's commit, marked ``modified`` when tracked
files differ from it: between two commits the package version stays the same.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

from . import __version__

#: The distributions whose versions are reported, after the package itself.
LIBRARIES = ("torch", "timm", "omegaconf")


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """``{"adaanchor": ..., "torch": ..., "timm": ..., "omegaconf": ..., "python": ...}``, and ``"commit"`` when the
    package is run from a git checkout (:func:`source_commit`)."""
    out = {"adaanchor": __version__, **{name: _installed(name) for name in LIBRARIES},
           "python": platform.python_version()}
    commit = source_commit()
    if commit:
        out["commit"] = commit
    return out


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@cache
def source_commit(package_dir: Path | None = None) -> str | None:
    """The commit of the git checkout this package's files are in (``"<40 hex digits>"``, with ``" (modified)"``
    when tracked files differ from it); None for an installed copy (a wheel) or without git. Cached: the
    files do not move while a process runs."""
    here = (package_dir or Path(__file__).resolve().parent)
    root = next((p for p in here.parents if (p / ".git").exists()), None)
    if root is None or shutil.which("git") is None:
        return None
    # The package's own files must be tracked there: a virtual environment inside another project's checkout
    # holds an installed copy, which that project's commit does not describe.
    if _git(root, "ls-files", "--error-unmatch", str(here / "__init__.py")) is None:
        return None
    head = _git(root, "rev-parse", "HEAD")
    if not head:
        return None
    # Only the checkout's tracked files: untracked run folders and caches are not the code.
    changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    return head + (" (modified)" if changed else "")


__all__ = ["LIBRARIES", "versions", "source_commit"]
