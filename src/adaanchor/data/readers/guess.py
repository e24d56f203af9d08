"""Which pose-data format a path looks like, from its name and a few small files (nothing is parsed in full):
to say ``data.format=...`` when a path was read as another format."""

from __future__ import annotations

from pathlib import Path

#: format -> how a message names it.
KINDS = {"dlc": "a DeepLabCut project", "slp": "a SLEAP file", "nwb": "an NWB file", "yolo": "a YOLO pose dataset",
         "coco": "a COCO-format .json file"}


def _text(path: Path, limit: int = 65536) -> str:
    try:
        with path.open("rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return ""


def guess_format(root: Path) -> str | None:
    """``dlc``, ``slp``, ``nwb``, ``yolo`` or ``coco`` when ``root`` (a file or folder) looks like that kind of data."""
    root = Path(root).expanduser()
    if root.is_file():
        name, suffix = root.name.lower(), root.suffix.lower()
        if name.endswith(".slp"):
            return "slp"
        if suffix == ".nwb":
            return "nwb"
        if suffix == ".json":
            return "coco"
        if suffix in (".csv", ".h5") and name.startswith("collecteddata"):
            return "dlc"
        if suffix in (".yaml", ".yml"):
            text = _text(root)
            return "yolo" if "kpt_shape" in text else "dlc" if "bodyparts" in text else None
        return None
    if not root.is_dir():
        return None
    if (root / "labeled-data").is_dir() or "bodyparts" in _text(root / "config.yaml"):
        return "dlc"
    if any("kpt_shape" in _text(p) for p in (root / "data.yaml", root / "dataset.yaml")):
        return "yolo"
    if any(root.glob("CollectedData*.csv")):
        return "dlc"
    return None


def format_hint(root: object, fmt: str) -> str:
    """`` (PATH looks like X: data.format=Y)`` when ``root`` looks like another format than ``fmt``, else ''."""
    guess = guess_format(Path(str(root)))
    same = guess == fmt or (guess == "coco" and fmt in ("coco", "crowdpose", "synth", "crowd"))
    return "" if guess is None or same else f" ({root} looks like {KINDS[guess]}: data.format={guess})"


__all__ = ["KINDS", "format_hint", "guess_format"]
