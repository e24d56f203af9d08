"""Output files of ``adaanchor eval`` checked before the evaluation runs: ``--predictions`` (COCO results JSON) and
``--plot`` (an image matplotlib writes). ``eval --predictions photo.png`` wrote JSON over the photo, and ``--plot``
into a folder that could not be made, or with a suffix matplotlib has no writer for, failed only after the whole
evaluation."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError


def _check_place(path: Path, what: str) -> None:
    """``path`` is not a folder, and its folder exists or can be made (the nearest existing one is a folder); the
    messages of the writers, which said them after the evaluation."""
    if path.is_dir():
        raise AdaAnchorError(f"{path}: cannot write the {what} (it is a folder: give a file name)")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise AdaAnchorError(f"{path}: cannot write the {what} (a parent of it is a file, not a folder)")


def check_predictions_path(path: str | None) -> None:
    """``eval --predictions``: COCO results, a ``.json`` file; another suffix (an image given by mistake, which was
    overwritten) is refused."""
    if not path:
        return
    p = Path(path)
    if p.suffix.lower() != ".json":
        what = " (an existing file, which would be overwritten)" if p.is_file() else ""
        raise AdaAnchorError(f"--predictions {p}{what}: COCO results are JSON: give a file name ending in .json")
    _check_place(p, "predictions")


def check_plot_path(path: str | None) -> None:
    """``eval --plot``: a suffix matplotlib writes (none: PNG), in a folder that exists or can be made."""
    if not path:
        return
    from matplotlib.backend_bases import FigureCanvasBase

    p = Path(path)
    suffix = p.suffix.lstrip(".").lower()
    kinds = FigureCanvasBase.get_supported_filetypes()
    if suffix and suffix not in kinds:
        raise AdaAnchorError(f"--plot {p}: matplotlib cannot write .{suffix} files; use one of "
                             f"{', '.join('.' + k for k in sorted(kinds))}")
    _check_place(p, "plot")


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (a link or another spelling of the same path counts)."""
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def check_distinct_outputs(outputs: Mapping[str, str | None], inputs: Mapping[str, Any]) -> None:
    """Refuse, before any work, an output (option -> path) that is one of the command's inputs (what -> path) or
    another output, and an empty output name. ``eval --predictions`` over its ground truth, ``--json`` over the
    checkpoint or the run's config, ``score --json`` over the results it scored: each was overwritten, exit 0,
    and the next command failed on the damaged file; ``--json ''`` was ignored without a word."""
    given = {opt: Path(p) for opt, p in outputs.items() if p is not None}
    for opt, p in outputs.items():
        if p is not None and not str(p).strip():
            raise AdaAnchorError(f"{opt}: an empty file name (leave the option out to write no file)")
    seen: dict[str, Path] = {}
    for opt, path in given.items():
        for what, src in inputs.items():
            if src is not None and str(src).strip() and _same_file(path, Path(src)):
                raise AdaAnchorError(f"{opt} {path} is {what}, which this command reads: it would be overwritten; "
                                     "give another file name")
        for other, p in seen.items():
            if _same_file(path, p):
                raise AdaAnchorError(f"{other} and {opt} name one file, {path}: give each its own")
        seen[opt] = path


def check_eval_outputs(predictions: str | None, plot: str | None) -> None:
    """Both of ``eval``'s checks, before the model loads."""
    check_predictions_path(predictions)
    check_plot_path(plot)


__all__ = ["check_distinct_outputs", "check_eval_outputs", "check_plot_path", "check_predictions_path"]
