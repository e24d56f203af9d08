"""One DeepLabCut annotation table read through sleap-io: an ``.h5`` table rewritten as its CSV, the table's
layout checked first (:mod:`.dlc_table`), rows with no labelled point left out of what sleap-io reads, and the
image each row names found on disk (:func:`image_of`). The project-level reading is :mod:`.dlc`."""

from __future__ import annotations

import csv
import functools
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from . import printable
from .dlc_table import cell, coords_row, csv_rows, table_layout, without_empty_tail


def image_of(table: Path, rel: str) -> Path | None:
    """The image a table row names: relative to the table's folder or one of the three folders above it (a
    project's ``labeled-data/V/img.png`` is relative to the project, three levels above its table), else the
    file name beside the table, but only when the row names the table's own folder: the same file name in
    another video's folder is another frame (``vidB/img013.png`` was read as ``vidA/img013.png``). A path written
    on Windows (``labeled-data\\vidA\\img000.png``) is read with ``/`` for ``\\``."""
    p = Path(windows_path(rel))
    cands = [table.parent / p, *(a / p for a in list(table.parent.parents)[:3])]
    if p.parent == Path(".") or p.parent.name == table.parent.name:
        cands.insert(1, table.parent / p.name)
    for cand in cands:
        if cand.is_file():
            return cand
    return None


def windows_path(rel: str) -> str:
    """A relative path as DeepLabCut writes it on Windows (``\\`` between folders) with ``/``; others as they are."""
    return rel.replace("\\", "/") if "\\" in rel and "/" not in rel else rel


def folder_of(rel: str) -> str:
    """The video (image folder) a row belongs to, as sleap-io groups rows."""
    parts = Path(windows_path(rel)).parts
    return parts[1] if len(parts) >= 2 and parts[0] == "labeled-data" else (Path(windows_path(rel)).parent.name or "default")


def _h5_as_csv(h5: Path, tmp: Path) -> Path:
    """A DeepLabCut ``.h5`` table rewritten as its CSV (sleap-io reads the CSV form), image paths made absolute."""
    import pandas as pd

    try:
        import tables

        # PyTables' error for a file that is not HDF5 is its C library's back trace, over many lines.
        if not tables.is_hdf5_file(str(h5)):
            raise DataError(h5, "not an HDF5 file (a DeepLabCut .h5 table is written by pandas + PyTables; "
                                "the CSV DeepLabCut writes beside it can be read instead)")
        df = pd.read_hdf(h5)
    except ImportError:
        raise DataError(h5, "reading a DeepLabCut .h5 table needs PyTables (pip install tables); the CSV "
                            "DeepLabCut writes beside it is read without it") from None
    except (OSError, ValueError, KeyError, TypeError, tables.exceptions.HDF5ExtError) as e:
        why = (str(e).strip().splitlines() or [""])[-1]  # the last line of a back trace says what failed
        raise DataError(h5, f"not a readable DeepLabCut .h5 table ({type(e).__name__}: {printable(why)})") from None
    rels = ["/".join(map(str, i)) if isinstance(i, tuple) else str(i) for i in df.index]
    df.index = [str(image_of(h5, r) or h5.parent / r) for r in rels]
    out = tmp / f"{h5.stem}.csv"
    df.to_csv(out)
    return out


#: Data rows of one table that sleap-io reads at a time (:func:`_table_parts`). sleap-io (0.9.5) sorts a video's
#: image list again for every row it reads (``_load_dlc_csv``), so one call grows with the square of the rows: a
#: 20,000-row table took 39 s of CPU, 40,000 rows 133 s. In parts of this size the reading grows linearly.
PART_ROWS = 500


def _table_parts(src: Path, table: Path, drop: set[int], tmp: Path, part_rows: int | None = None) -> list[Path]:
    """Copies of the CSV ``src`` (read for ``table``) without the data rows ``drop``, with one index column of
    absolute image paths (the copies are not beside the images): one copy, or with ``part_rows`` as many as it takes
    to hold at most that many data rows each, rows whose image is not found left out (sleap-io numbers a part's
    frames among the images it finds; :func:`adaanchor.data.readers.dlc._rows_and_frames` reports those rows). Rows
    with no labelled point are left out of what sleap-io reads because pandas takes a first data row with every
    coordinate empty for the index names row: that row's frame was lost and every later row read against the
    wrong image count."""
    rows = without_empty_tail(csv_rows(src))
    at, n_index = coords_row(rows)  # checked by table_layout before
    head = [[r[0], *r[n_index:]] for _, r in rows[: at + 1]]
    data = []
    for i, (_, r) in enumerate(rr for rr in rows[at + 1:] if any(rr[1])):
        if i not in drop:
            rel = "/".join(r[:n_index])
            image = image_of(table, rel)
            if image is not None or part_rows is None:
                data.append([str(image or table.parent / rel), *r[n_index:]])
    size = part_rows or max(1, len(data))
    out = []
    for n, start in enumerate(range(0, max(1, len(data)), size)):
        dest = tmp / f"labelled-{n}-{src.name}"
        with dest.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(head + data[start:start + size])
        out.append(dest)
    return out


def _joined(parts: list[Any]) -> Any:
    """One sleap-io ``Labels`` of the labels of a table's parts, their frames in row order."""
    if len(parts) == 1:
        return parts[0]
    import sleap_io as sio

    return sio.Labels(labeled_frames=[lf for p in parts for lf in p.labeled_frames],
                      videos=[v for p in parts for v in p.videos], skeletons=list(parts[0].skeletons))


def _has_empty_tail(src: Path) -> bool:
    """Whether the CSV ``src`` ends in columns empty in every row (a spreadsheet's saving adds them): pandas reads
    them as more bodyparts, so sleap-io is given the copy without them (:func:`_table_parts`)."""
    rows = csv_rows(src)
    return without_empty_tail(rows) is not rows


@functools.lru_cache(maxsize=16)
def _load_table(table: Path, config: Path | None, stamp: tuple[int, int]) -> tuple[Any, list[str], list[str], frozenset[int]]:
    """``(sleap-io Labels, bodyparts, row images, rows with no labelled point)`` of one table; cached on the
    file's mtime and size, as the spec and both splits read the same tables. sleap-io reads the labelled rows
    only (:func:`_table_parts`), a long table in parts of :data:`PART_ROWS` rows."""
    import sleap_io as sio

    with tempfile.TemporaryDirectory() as tmp:
        src = _h5_as_csv(table, Path(tmp)) if table.suffix.lower() == ".h5" else table
        try:
            bodyparts, images, empty = table_layout(src)
        except DataError as e:  # an .h5 is checked as the CSV written from it: name the user's file
            if src == table:
                raise
            raise DataError(table, e.reason, record=e.record, field=e.field) from None
        if images and len(empty) == len(images):
            raise DataError(table, f"no keypoint is labelled in this table (every x, y cell of its {len(images)} "
                                   "rows is empty)")
        # sleap-io (0.9.5) tells DeepLabCut's layouts apart by peeking at the second data row (its
        # _read_dlc_dataframe reads the header rows 1-3, then asks whether row 2 starts with "labeled-data"). A
        # single-animal table of one data row has none: the peek fails, the three index columns of DLC >= 2.2
        # are taken for one, and the row's image "labeled-data" is not found: 0 frames. The copy that
        # _table_parts writes has one index column of image paths, which needs no peek. Nor does sleap-io read a
        # path written on Windows (labeled-data\\vidA\\img000.png: 0 frames); the copy's paths are absolute.
        parts = [src]
        if len(images) - len(empty) > PART_ROWS:
            parts = _table_parts(src, table, set(empty), Path(tmp), PART_ROWS)
        elif empty or len(images) == 1 or any("\\" in rel for rel in images) or _has_empty_tail(src):
            parts = _table_parts(src, table, set(empty), Path(tmp))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # sleap-io's notes on dropped skeleton edges, source videos
            try:
                labels = _joined([sio.load_dlc(str(p), config=str(config) if config else False) for p in parts])
            except (ValueError, KeyError, IndexError, TypeError) as e:
                why = (str(e).strip().splitlines() or [""])[0]
                raise DataError(table, f"sleap-io cannot read this DeepLabCut table ({type(e).__name__}: "
                                       f"{printable(why)})") from None
    return labels, bodyparts, images, frozenset(empty)


def load_table(table: Path, config: Path | None) -> tuple[Any, list[str], list[str], frozenset[int]]:
    st = table.stat()
    loaded = _load_table(table.resolve(), config.resolve() if config else None, (st.st_mtime_ns, st.st_size))
    h5 = table.with_suffix(".h5")
    if table.suffix.lower() == ".csv" and h5.is_file():
        h5st = h5.stat()
        _say_pair_difference(table.resolve(), (st.st_mtime_ns, st.st_size, h5st.st_mtime_ns, h5st.st_size))
    return loaded


@functools.lru_cache(maxsize=64)
def _say_pair_difference(table: Path, stamp: tuple[int, int, int, int]) -> None:
    """:func:`pair_difference` said once per pair of files as they are (the spec and both splits read a table)."""
    note = pair_difference(table)
    if note:
        print(f"warning: {note}", file=sys.stderr)


def pair_difference(table: Path) -> str | None:
    """A line saying that the CSV ``table`` and the ``.h5`` of its name beside it hold different labels (the CSV is
    read; DeepLabCut trains from the ``.h5``, and an edit made to one of them alone leaves the other stale), or None
    (they agree, there is no such pair, or PyTables is not there to read the ``.h5``)."""
    h5 = table.with_suffix(".h5")
    if table.suffix.lower() != ".csv" or not h5.is_file():
        return None
    try:
        import pandas as pd
        import tables  # noqa: F401  (pandas reads .h5 through it)

        theirs = pd.read_hdf(h5).to_numpy(dtype=float)
    except Exception:  # noqa: BLE001  (no PyTables, an .h5 of another layout: nothing to compare against)
        return None
    rows = without_empty_tail(csv_rows(table))
    found = coords_row(rows)
    if found is None:
        return None
    at, n_index = found
    width = len(rows[at][1]) - n_index
    data = [r for _, r in rows[at + 1:] if any(r)]
    # Empty and NaN cells (unlabelled) as NaN, read as table_layout reads them (it checked the numbers before).
    ours = np.array([[float(cell(r, j)) if cell(r, j) else np.nan for j in range(n_index, n_index + width)]
                     for r in data]).reshape(len(data), width)
    say = f"{table.name} and {h5.name} beside it hold different labels"
    fix = ("the .csv is read, but DeepLabCut trains from the .h5: make them agree (deeplabcut.convertcsv2h5 writes "
           "the .h5 from the .csv) or remove the stale one")
    if ours.shape != theirs.shape:
        return f"{table.parent}: {say} ({ours.shape[0]} x {ours.shape[1]} against {theirs.shape[0]} x {theirs.shape[1]} cells); {fix}"
    bad = ~np.isclose(ours, theirs, rtol=1e-6, atol=1e-6, equal_nan=True)
    if not bad.any():
        return None
    i, j = map(int, np.argwhere(bad)[0])
    return (f"{table.parent}: {say} ({int(bad.sum())} of {bad.size} cells, the first in row {i} "
            f"({printable('/'.join(data[i][:n_index]))}), column {n_index + j + 1}); {fix}")


__all__ = ["folder_of", "image_of", "load_table", "windows_path"]
