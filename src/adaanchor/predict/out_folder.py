"""``predict``'s output folder: made (and removed again when nothing could be read), and a note when it holds an
earlier run's outputs."""

from __future__ import annotations

from pathlib import Path

from ..errors import AdaAnchorError

#: What predict writes into --out (and overlays/): the files an earlier run may have left there.
_OUTPUT_SUFFIXES = (".json", ".csv", ".slp", ".nwb", ".mp4")


def earlier_outputs(out: Path) -> list[str]:
    """A note when ``out`` holds files a predict writes (from an earlier run): this run replaces those of the same
    names and leaves the others, so that the folder mixes two runs' overlays and files (said nowhere before)."""
    if not out.is_dir():
        return []
    try:
        # predict's own names only: a data folder given as --out holds .json and .csv files of its own
        files = [p.name for p in out.iterdir() if p.is_file() and (
            (p.stem == "predictions" and p.suffix.lower() in _OUTPUT_SUFFIXES) or p.name.endswith("_labeled.mp4"))]
        pngs = sum(1 for p in (out / "overlays").glob("*.png")) if (out / "overlays").is_dir() else 0
    except OSError:
        return []
    notes = _stray_temporaries(out)
    if not files and not pngs:
        return notes
    parts = sorted(files)[:3] + (["..."] if len(files) > 3 else []) + ([f"{pngs} overlay PNG(s)"] if pngs else [])
    held = ", ".join(parts)
    return [f"{out} already holds the outputs of an earlier predict ({held}): files of the same names are replaced, "
            "the others stay; give a new --out to keep the runs apart", *notes]


def _stray_temporaries(out: Path) -> list[str]:
    """A note of the temporary files a predict stopped by force (kill -9, a power cut) left in ``out``: ``.NAME.tmp``
    (a CSV or COCO file), ``.STEM.tmp.mp4`` / ``.slp`` / ``.nwb``, ``overlays/.NAME.PID.tmp``. They stayed unsaid
    until the same source was predicted again, a labelled video's perhaps large. Not removed here: another predict
    writing into the same folder right now owns its own."""
    try:
        found = [q for d in (out, out / "overlays") if d.is_dir() for q in d.iterdir()
                 if q.is_file() and q.name.startswith(".") and (q.name.endswith(".tmp") or ".tmp." in q.name)]
        size = sum(q.stat().st_size for q in found)
    except OSError:
        return []
    if not found:
        return []
    names = ", ".join(sorted(q.name for q in found)[:3]) + (", ..." if len(found) > 3 else "")
    return [f"{out} holds {len(found)} temporary file(s) of a predict stopped before it could finish ({names}; "
            f"{size / 1e6:.1f} MB): not outputs, remove them when no predict writes there"]


def make_folders(out: Path, overlays: bool) -> list[Path]:
    """Create ``out`` (and ``out/overlays`` with ``overlays``); returns the folders that did not exist before, so
    that a run which reads no frame can remove them again."""
    made = [d for d in (out, out / "overlays") if not d.exists()]
    try:
        out.mkdir(parents=True, exist_ok=True)
        if overlays:
            (out / "overlays").mkdir(exist_ok=True)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    return made


__all__ = ["earlier_outputs", "make_folders"]
