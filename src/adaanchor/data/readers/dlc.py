"""DeepLabCut (and lightning-pose) labelled data, read through sleap-io (``data.format=dlc``).

``data.root`` (with ``data.train``/``data.val`` = ``.``) is one of:

- a DeepLabCut project folder (``config.yaml`` + ``labeled-data/<video>/CollectedData_<scorer>.csv``), or its
  ``config.yaml``: every labelled video folder is read;
- a lightning-pose data folder (``CollectedData.csv`` at its top, images under ``labeled-data/``);
- one table: ``CollectedData_*.csv``, or the ``.h5`` DeepLabCut writes beside it (needs PyTables).

Tables have DeepLabCut's multi-row header (``scorer``/``bodyparts``/``coords``, with ``individuals`` for
multi-animal projects: one instance per individual). sleap-io parses them; an empty cell is an unlabelled
point (``v = 0``), a labelled one is ``v = 2``: DeepLabCut has no occlusion flag. Image paths are read as
DeepLabCut writes them, relative to the table's folder or a folder above it (the project; ``\\`` of Windows
read as ``/``). Coordinates are
pixel centres, 0-based, as given. The keypoint order is the project's ``bodyparts`` (multi-animal:
``multianimalbodyparts`` then ``uniquebodyparts``), else the order of the table's columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..spec import KeypointSpec
from . import Collector, ReadResult, printable, spec_by_name
from .dlc_load import folder_of, image_of, load_table, windows_path
from .dlc_project import find_tables, read_dlc_config, say_once  # noqa: F401 - read_dlc_config re-exported
from .image_header import ImageHeaders
from .pts import image_ids
from .sleap_labels import column_order, far_from_image, make_spec, points_instance


def _config_bodyparts(cfg: dict[str, Any], cfg_path: Path, names: list[str]) -> list[str]:
    """The project's bodyparts (multi-animal: ``multianimalbodyparts`` then ``uniquebodyparts``), checked
    against the tables' ``names`` and its ``skeleton`` edges against both. The keypoint order comes from the
    config, and a mismatch most often means a renamed bodypart or another project's config: an error, not a
    guess at which side is right (the names missing from the config used to be appended, its others ignored).
    sleap-io dropped unknown skeleton edges with a warning nobody saw."""
    multi = cfg.get("bodyparts") == "MULTI!"
    key = "multianimalbodyparts" if multi else "bodyparts"
    listed = list(cfg.get("multianimalbodyparts") or []) + list(cfg.get("uniquebodyparts") or []) if multi \
        else cfg.get("bodyparts")
    listed = [str(b) for b in listed] if isinstance(listed, list) else []
    twice = sorted({b for i, b in enumerate(listed) if b in listed[:i]})
    absent, unlisted = [b for b in listed if b not in names], [n for n in names if n not in listed]
    if twice:
        raise DataError(cfg_path, f"{printable(twice)} listed twice", field=key)
    if absent or unlisted:
        only = ", ".join(f"{printable(v)} only in {w}" for v, w in ((absent, "config.yaml"), (unlisted, "the tables")) if v)
        raise DataError(cfg_path, f"does not match the labelled data: {only} (the tables' bodyparts: "
                                  f"{printable(names)}); edit config.yaml or the tables so that they name the same bodyparts",
                        field=key)
    edges = cfg.get("skeleton") or []
    for e in edges if isinstance(edges, list) else [edges]:
        bad = [b for b in e if str(b) not in listed] if isinstance(e, list) and len(e) == 2 else None
        if bad is None or bad:
            why = f"names {[str(b) for b in bad]}, not among the bodyparts {listed}" if bad else \
                "is not a [bodypart, bodypart] pair"
            raise DataError(cfg_path, f"edge {printable(e)} {why}", field="skeleton")
    return listed


def dlc_spec(path: str | Path) -> KeypointSpec:
    """The keypoint spec of a DeepLabCut project or table: names (in the order of the module docstring),
    the skeleton (the project's ``skeleton`` edges, through sleap-io), flip pairs from left/right names."""
    cfg_path, tables = find_tables(Path(path).expanduser())
    cfg = read_dlc_config(cfg_path) if cfg_path else None
    names: list[str] = []
    edges: list[tuple[str, str]] = []
    for t in tables:
        labels, bodyparts, _, _ = load_table(t, cfg_path)
        names += [b for b in bodyparts if b not in names]
        for sk in labels.skeletons:
            edges += [(e.source.name, e.destination.name) for e in sk.edges]
    if cfg and cfg_path:
        names = _config_bodyparts(cfg, cfg_path, names)
    name = str(cfg.get("Task") or "dlc") if cfg else Path(tables[0]).stem
    return make_spec(name, names, list(dict.fromkeys(edges)), None, str(cfg_path or tables[0]))


def _not_found(table: Path, rel: str) -> str:
    """``image file not found`` for the row image ``rel`` of ``table``, with a hint where the row names another
    folder than the table's and the table's folder holds a file of that name (a renamed ``labeled-data/<video>``:
    the rows keep the old name, and the file beside the table is not taken for it, as it could be another video's
    frame)."""
    p = Path(windows_path(rel))
    if p.parent.name and p.parent.name != table.parent.name and (table.parent / p.name).is_file():
        return (f"image file not found (the row names the folder {p.parent.name!r}, the table is in "
                f"{table.parent.name!r}, which holds a file of that name: was the folder renamed? Rename it back, or "
                "write the new name in the table's rows)")
    return "image file not found"


def _rows_and_frames(table: Path, labels: Any, rows: list[tuple[int, str]], col: Collector) -> list[tuple[int, str, Path, Any]]:
    """``(row, image as written, image file, sleap-io LabeledFrame)`` per data row of ``rows`` (``(row, image as
    written)``: the rows sleap-io read) whose image exists; rows whose image is missing are reported to ``col``.

    sleap-io returns one frame per row, in row order, but (0.9.5) also for a missing image of a folder that
    has other images, while numbering frames within the images it found: its frame's image is then another
    row's. The image of each row is therefore taken from the row itself, and checked against sleap-io's in
    every folder where nothing is missing.
    """
    found = {r: image_of(table, r) for _, r in rows}
    if rows and not any(found.values()):  # no image at all: each row's is missing (not "sleap-io read 4 frames ...")
        for i, r in rows:
            col.fail(_not_found(table, r), record=f"row {i} ({r})", field="image")
        return []
    on_disk = {folder_of(r) for _, r in rows if found[r] is not None}
    by_folder = [(i, r) for i, r in rows if folder_of(r) in on_disk]
    by_image = [(i, r) for i, r in rows if found[r] is not None]
    frames = labels.labeled_frames
    kept = by_folder if len(frames) == len(by_folder) else by_image if len(frames) == len(by_image) else None
    if kept is None:
        raise DataError(table, f"sleap-io read {len(frames)} frames from {len(rows)} rows")
    incomplete = {folder_of(r) for i, r in rows if found[r] is None}
    for i, r in rows:
        if found[r] is None:
            col.fail(_not_found(table, r), record=f"row {i} ({r})", field="image")
    out = []
    for (i, r), lf in zip(kept, frames):
        if found[r] is None:
            continue
        if folder_of(r) not in incomplete:
            theirs = lf.video.filename[lf.frame_idx] if isinstance(lf.video.filename, list) else lf.video.filename
            if Path(theirs).resolve() != found[r].resolve():
                raise DataError(table, f"sleap-io put the labels of row {i} on {theirs}", record=f"row {i} ({r})")
        out.append((i, r, found[r], lf))
    return out


@spec_by_name
def read_dlc(path: str | Path, spec: KeypointSpec, images_dir: str | Path | None = None,
             skip_invalid: bool = False, **_: object) -> ReadResult:
    """Read DeepLabCut labels (see the module docstring). ``images_dir`` is not used: rows name their images.

    Returns:
        One instance per labelled animal per image (``ann_id`` in reading order, ``image_id`` by image
        name), box = the extent of its labelled points, ``extra``: ``table``, ``row`` (0-based data row) and,
        for multi-animal projects, ``individual``. Images with nothing labelled are listed as skipped.
    """
    path = Path(path).expanduser()
    cfg_path, tables = find_tables(path)
    col = Collector(str(path), skip_invalid)
    rows: list[tuple[str, int, np.ndarray, dict]] = []
    headers = ImageHeaders()  # each image's header opened once
    for t in tables:
        labels, bodyparts, images, empty = load_table(t, cfg_path)
        nodes = labels.skeletons[0].node_names if labels.skeletons else bodyparts
        order = column_order(spec, nodes, str(t))
        in_table = Collector(str(t), skip_invalid)
        nothing = np.full((spec.num_keypoints, 2), np.nan)
        for i in sorted(empty):  # rows with nothing labelled: counted, whether or not their image exists
            points_instance(images[i], 0, 0, nothing, in_table, f"row {i} ({images[i]})", {})
        read = [(i, r) for i, r in enumerate(images) if i not in empty]
        for i, r, image, lf in _rows_and_frames(t, labels, read, in_table):
            for inst in lf.instances:
                extra = {"table": str(t), "row": i}
                if inst.track is not None:
                    extra["individual"] = inst.track.name
                pts = inst.numpy()[order]
                far = far_from_image(pts, str(image), spec.keypoints, headers)
                if far is not None:  # the box is the points' extent: nothing else would say so
                    who = f" individual {printable(inst.track.name)}" if inst.track is not None else ""
                    in_table.fail(far, record=f"row {i} ({r}){who}", field="keypoints")
                    continue
                rows.append((str(image), i, pts, extra))
            if not lf.instances:
                points_instance(str(image), 0, 0, nothing, in_table, f"row {i} ({r})", {})
        col.skipped += in_table.skipped
    ids = image_ids(r[0] for r in rows)
    out = []
    for ann, (img, i, pts, extra) in enumerate(rows):
        inst = points_instance(img, ids[img], ann, pts, col, f"row {i}", extra)
        if inst is not None:
            out.append(inst)
    return col.result(out)


__all__ = ["dlc_spec", "find_tables", "load_table", "read_dlc", "read_dlc_config"]
