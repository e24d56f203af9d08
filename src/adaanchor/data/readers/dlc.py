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

import functools
import sys
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ...errors import DataError
from ...safe_yaml import yaml_problem
from ..media_suffixes import IMAGE_SUFFIXES
from ..spec import KeypointSpec
from . import Collector, ReadResult, printable, spec_by_name
from .dlc_load import folder_of, image_of, load_table, windows_path
from .image_header import ImageHeaders
from .pts import image_ids
from .sleap_labels import column_order, far_from_image, make_spec, points_instance


def read_dlc_config(path: Path) -> dict[str, Any] | None:
    """A DeepLabCut project ``config.yaml`` as a mapping (None when the file is some other YAML)."""
    try:
        cfg = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:  # where and what (a tab after a key): "(ScannerError)" alone did not say
        raise DataError(path, f"unreadable DeepLabCut config: {yaml_problem(e)}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"unreadable DeepLabCut config ({type(e).__name__})") from None
    if isinstance(cfg, dict) and "bodyparts" in cfg and ("scorer" in cfg or "Task" in cfg):
        return cfg
    return None


def _tables_in(folder: Path, scorer: str | None) -> list[Path]:
    """The annotation table of one labelled folder, as a list (empty when there is none): the config's scorer's
    ``CollectedData_<scorer>``, else the folder's only ``CollectedData*`` table; the CSV over the .h5 of the same
    name (DeepLabCut writes both).

    Raises:
        DataError: no scorer's table, and tables of several names (two scorers' labels, or lightning-pose's
            views ``CollectedData_top`` and ``_bot``): reading one of them dropped the others without a word.
    """
    def pick(paths: list[Path]) -> Path:
        return next((q for q in paths if q.suffix == ".csv"), paths[0])

    named = [folder / f"CollectedData_{scorer}{suffix}" for suffix in (".csv", ".h5")] if scorer else []
    if any(q.is_file() for q in named):
        others = sorted({q.stem for q in folder.glob("CollectedData*") if q.suffix in (".csv", ".h5")} - {named[0].stem})
        if others:  # another labeller's table beside the scorer's: not read, and not a word said
            say_once(f"{folder}: {', '.join(others)} not read (the project's scorer is {scorer!r}: its table is read)")
        return [pick([q for q in named if q.is_file()])]
    by_stem: dict[str, list[Path]] = {}
    for q in sorted(folder.glob("CollectedData*")):
        if q.suffix in (".csv", ".h5") and q.is_file():
            by_stem.setdefault(q.stem, []).append(q)
    if len(by_stem) > 1:
        names = ", ".join(pick(v).name for v in by_stem.values())
        why = f"the config's scorer {scorer!r} names none of them" if scorer else "no config.yaml names a scorer"
        raise DataError(folder, f"{len(by_stem)} annotation tables ({names}) and {why}: give one table as data.root "
                                "(or, for a DeepLabCut project, set scorer in config.yaml)", field="CollectedData")
    return [pick(v) for v in by_stem.values()]


def find_tables(path: Path) -> tuple[Path | None, list[Path]]:
    """``(config.yaml or None, annotation tables)`` of a project folder, a config, a data folder or a table.

    Raises:
        DataError: nothing DeepLabCut-shaped at ``path``.
    """
    if not path.exists():
        raise DataError(path, "DeepLabCut project or table not found (data.root)")
    if path.is_file() and path.suffix.lower() in (".csv", ".h5"):
        for up in list(path.parents)[:3]:  # beside the table, labeled-data/, the project
            if (up / "config.yaml").is_file() and read_dlc_config(up / "config.yaml") is not None:
                return up / "config.yaml", [path]
        return None, [path]
    if path.is_file():
        if read_dlc_config(path) is None:
            raise DataError(path, "not a DeepLabCut config.yaml (no bodyparts and scorer)")
        path = path.parent
    project = _project_above(path)
    if project is not None and path.name == "labeled-data":  # the project's labelled data: the project
        path = project
    elif project is not None:  # one video's folder: its table, with the project's bodyparts, order and skeleton
        cfg = read_dlc_config(project / "config.yaml") or {}
        tables = _tables_in(path, str(cfg["scorer"]) if cfg.get("scorer") else None)
        if not tables:
            raise _no_table(path)
        return project / "config.yaml", tables
    cfg_path = path / "config.yaml"
    cfg = read_dlc_config(cfg_path) if cfg_path.is_file() else None
    scorer = str(cfg["scorer"]) if cfg and cfg.get("scorer") else None
    tables = _tables_in(path, scorer)  # lightning-pose keeps CollectedData.csv at the top
    labeled = path / "labeled-data"
    if not tables and labeled.is_dir():
        bare = []
        for sub in sorted(p for p in labeled.iterdir() if p.is_dir()):
            found = _tables_in(sub, scorer)
            tables += found
            if not found and any(q.suffix.lower() in IMAGE_SUFFIXES for q in sub.iterdir()):
                bare.append(sub.name)
        if bare and tables:  # frames extracted but never labelled (or labels not saved): passed over unsaid
            say_once(f"{labeled}: {', '.join(bare)} hold(s) images but no CollectedData table (not labelled yet, or "
                     "the labels not saved?): not read")
    if not tables:
        raise _no_table(path)
    return (cfg_path if cfg else None), tables


def _project_above(folder: Path) -> Path | None:
    """The DeepLabCut project whose ``labeled-data`` is ``folder`` or holds it (a folder without a ``config.yaml`` of
    its own, given as ``data.root``): its config was not read, so the keypoints lost the project's order and skeleton."""
    if (folder / "config.yaml").is_file():
        return None
    up = folder.parent if folder.name == "labeled-data" else \
        folder.parent.parent if folder.parent.name == "labeled-data" else None
    if up is None or not (up / "config.yaml").is_file():
        return None
    try:
        return up if read_dlc_config(up / "config.yaml") is not None else None
    except DataError:  # an unreadable config: read the folder as it is given
        return None


def _no_table(path: Path) -> DataError:
    """The error for a folder holding no annotation table."""
    return DataError(path, "no DeepLabCut annotation table (CollectedData*.csv or .h5, at the top or in "
                          "labeled-data/<video>/); data of another format needs data.spec set to a spec name or YAML file")


@functools.lru_cache(maxsize=256)
def say_once(text: str) -> None:
    """A ``note:`` line on standard error, once per process for each text (the spec and both splits find the tables)."""
    print(f"note: {text}", file=sys.stderr)


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
