"""Output files of ``adaanchor eval`` checked before the evaluation runs: ``--predictions`` (COCO results JSON) and
``--plot`` (an image matplotlib writes). ``eval --predictions photo.png`` wrote JSON over the photo, and ``--plot``
into a folder that could not be made, or with a suffix matplotlib has no writer for, failed only after the whole
evaluation."""

from __future__ import annotations

from pathlib import Path

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


def check_eval_outputs(predictions: str | None, plot: str | None) -> None:
    """Both of ``eval``'s checks, before the model loads."""
    check_predictions_path(predictions)
    check_plot_path(plot)


__all__ = ["check_eval_outputs", "check_plot_path", "check_predictions_path"]
