"""The versions a bug report needs: this package, torch, timm, OmegaConf and Python.

Read from the installed packages' metadata: importing torch only to learn its version would slow every
command's start. ``adaanchor --version`` prints them; every entry of a run's ``config_history.yaml`` records
them, so that a run can be traced to the code and libraries that wrote it.
"""

from __future__ import annotations

import platform
from importlib import metadata

from . import __version__

#: The distributions whose versions are reported, after the package itself.
LIBRARIES = ("torch", "timm", "omegaconf")


def _installed(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """``{"adaanchor": ..., "torch": ..., "timm": ..., "omegaconf": ..., "python": ...}``."""
    return {"adaanchor": __version__, **{name: _installed(name) for name in LIBRARIES},
            "python": platform.python_version()}


__all__ = ["LIBRARIES", "versions"]
