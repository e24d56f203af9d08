"""Landmark CSV: one face per row, ``filename, x0, y0, x1, y1, ...`` (the ytfaces-68 / Udacity layout).

- An optional header row is recognised automatically (ytfaces-68's header is ``,0,1,...,135``: an empty
  first cell; see :func:`_looks_like_header`); ``header=True/False`` forces it.
- A row holds ``2K`` numbers (``x, y`` per keypoint, every point labelled, ``v = 2``) or ``3K`` numbers
  (``x, y, v`` per keypoint, ``v`` in {0, 1, 2} as in COCO).
- Coordinates are read as given (0-based pixel centres; ``one_based=True`` subtracts 1 for files that count
  pixels from 1).
- ``filename`` is relative to ``images_dir`` (default: the CSV's folder; ytfaces-68 keeps its images in
  ``training/``, so set ``data.images=training``). Each image's header is read once (the bound of the
  keypoints, :func:`~adaanchor.data.readers.image_header.within_bound`); its pixels only when loaded.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..spec import KeypointSpec
from . import Collector, ReadResult, printable, spec_by_name
from .image_header import ImageHeaders, within_bound
from .pts import IMAGE_SUFFIXES, extent_box, image_ids, landmark_instance


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _looks_like_header(row: list[str]) -> bool:
    """A header: an empty first cell, a cell after it that is not a number, or a first cell that is not an image
    file name followed by column numbers (``0, 1, 2, ...`` or ``1, 2, 3, ...``). A data row whose file name has
    no image suffix (``face01``, ``a.gif``) was taken for the header: its face was dropped without a word and the
    ``ann_id`` of every later row moved by one."""
    first = row[0].strip() if row else ""
    cells = [c.strip() for c in row[1:]]
    if not first or not all(_is_number(c) for c in cells):
        return True
    if Path(first).suffix.lower() in IMAGE_SUFFIXES:
        return False
    nums = [float(c) for c in cells]
    return nums in (list(range(len(nums))), list(range(1, len(nums) + 1)))


@spec_by_name
def read_csv_landmarks(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    header: bool | None = None,
    one_based: bool = False,
    **_: object,
) -> ReadResult:
    """Read a landmark CSV (see the module docstring).

    Returns:
        One instance per data row, ``ann_id`` = the 0-based data-row index, ``image_id`` from
        :func:`~adaanchor.data.readers.pts.image_ids` (order of first appearance), ``bbox`` = the extent of
        the labelled points.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    rows_n = _data_rows(path)
    names: list[str] | None = None
    if header if header is not None else _looks_like_header(rows_n[0][1]):
        names = [c.strip() for c in rows_n[0][1]]
        rows_n = rows_n[1:]
    col = Collector(str(path), skip_invalid)
    base = Path(images_dir) if images_dir is not None else path.parent
    good: list[tuple[int, int, str, np.ndarray, np.ndarray]] = []
    headers = ImageHeaders()
    for ann, (line, row) in enumerate(rows_n):
        fname = row[0].strip()
        rec = f"line {line}" + (f" ({printable(fname)})" if fname else "")
        if not fname:
            col.fail("empty file name", record=rec, field=names[0] if names and names[0] else "filename")
            continue
        points = _row_points(row, names, spec, one_based, rec, col)
        if points is not None and within_bound(col, str(base / fname), points[0], points[1] > 0, spec.keypoints,
                                               headers, rec):
            good.append((ann, line, fname, *points))
    ids = image_ids(g[2] for g in good)
    out = [landmark_instance(str(base / f), ids[f], ann, xy, vis, {"line": line}) for ann, line, f, xy, vis in good]
    return col.result(out)


def _data_rows(path: Path) -> list[tuple[int, list[str]]]:
    """The rows of the CSV at ``path`` that hold something, with their 1-based line numbers (the header too)."""
    with path.open("r", encoding="utf-8-sig", newline="") as f:  # utf-8-sig: a byte-order mark is not in the first cell
        reader = csv.reader(f)
        try:
            rows = list(reader)
        except UnicodeDecodeError as e:
            raise DataError(path, f"not UTF-8 text (byte {e.start}: {e.reason})") from None
        except csv.Error as e:
            raise DataError(path, f"not a readable CSV file ({e})", record=f"line {reader.line_num}") from None
    rows_n = [(i + 1, r) for i, r in enumerate(rows) if any(c.strip() for c in r)]
    if not rows_n:
        raise DataError(path, "empty CSV file")
    return rows_n


def _row_points(row: list[str], names: list[str] | None, spec: KeypointSpec, one_based: bool, rec: str,
                col: Collector) -> tuple[np.ndarray, np.ndarray] | None:
    """``xy (K, 2)`` and ``vis (K,)`` of one data row (its file name first); None after a failure recorded in
    ``col``. ``names``: the header's cells, which name a bad column."""
    k = spec.num_keypoints
    cells = [c.strip() for c in row[1:]]
    if len(cells) not in (2 * k, 3 * k):
        col.fail(f"expected {2 * k} (x, y) or {3 * k} (x, y, v) numbers for {k} keypoints of spec "
                 f"'{spec.name}', got {len(cells)}", record=rec, field="columns")
        return None
    stride = 2 if len(cells) == 2 * k else 3
    vals, bad = _numbers(cells)
    if bad is not None:
        fld = names[bad + 1] if names and len(names) > bad + 1 and names[bad + 1] else f"column {bad + 2}"
        col.fail(f"not a finite number: {cells[bad]!r} (keypoint {bad // stride})", record=rec, field=fld)
        return None
    arr = vals.reshape(k, stride)
    if stride == 3:
        if not np.all(np.isin(arr[:, 2], (0, 1, 2))):
            col.fail("visibility must be 0, 1 or 2", record=rec, field="v")
            return None
        vis = arr[:, 2].astype(np.int64)
    else:
        vis = np.full(k, 2, dtype=np.int64)
    xy = arr[:, :2] - (1.0 if one_based else 0.0)
    if extent_box(xy, vis) is None:
        col.fail("no labelled keypoint", record=rec, field="v")
        return None
    return xy, vis


def _numbers(cells: list[str]) -> tuple[np.ndarray, int | None]:
    """``cells`` as float64 ``(len(cells),)``, and the index of the first that is not a finite number (None when
    every one is; the values from it on are not read)."""
    vals = np.zeros(len(cells))
    for j, c in enumerate(cells):
        try:
            vals[j] = float(c)
        except ValueError:
            return vals, j
        if not math.isfinite(vals[j]):
            return vals, j
    return vals, None
