"""iBUG ``.pts`` landmark files (300W, 300-VW, menpo), one face per file, with the image next to it.

A ``.pts`` file is::

    version: 1
    n_points: 68
    {
    x0 y0
    ...
    }

Coordinates are **1-based** (the iBUG / 300W convention, the one menpo assumes when it subtracts 1 on
import): the centre of the top-left pixel is ``(1, 1)``. With ``one_based=True`` (default) the reader
subtracts 1 so that the instances follow docs/conventions.md (top-left pixel centre at ``(0, 0)``). Every
point is labelled and the format has no visibility flag: all points get ``v = 2``.

This module also holds the small helpers shared by the landmark readers (``.pts``, CSV, WFLW txt).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, ReadResult, printable, spec_by_name
from .image_header import ImageHeaders, within_bound

#: Image file suffixes looked for next to a landmark file (case-insensitive).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp")


# ---------------------------------------------------------------------------------------------------------
# helpers shared by the landmark readers
# ---------------------------------------------------------------------------------------------------------
def extent_box(xy: np.ndarray, vis: np.ndarray) -> np.ndarray | None:
    """``[x, y, w, h]`` of the labelled points: pixel centres ``x .. x + w - 1`` (as the COCO reader's
    fall-back box), so that ``box_to_center_scale`` centres the crop on the points. None without points."""
    lab = xy[vis > 0]
    if not len(lab):
        return None
    lo, hi = lab.min(0), lab.max(0)
    return np.array([lo[0], lo[1], hi[0] - lo[0] + 1.0, hi[1] - lo[1] + 1.0], dtype=np.float64)


def image_ids(names: Iterable[str]) -> dict[str, int]:
    """Integer image ids for image names: the number in the file name when every stem is a distinct
    integer (MPII ``005808361.jpg`` -> 5808361, as the COCO-style MPII files use), otherwise the order of
    first appearance (0, 1, ...)."""
    order: list[str] = []
    seen: set[str] = set()
    for n in names:
        if n not in seen:
            seen.add(n)
            order.append(n)
    stems = [Path(n).stem for n in order]
    # ASCII digits only (str.isdigit() also accepts superscripts, which int() rejects), at most 18 (int64 ids).
    if stems and all(s.isascii() and s.isdigit() and len(s) <= 18 for s in stems) \
            and len({int(s) for s in stems}) == len(stems):
        return {n: int(s) for n, s in zip(order, stems)}
    return {n: i for i, n in enumerate(order)}


def find_image(folder: Path, stem: str) -> Path | None:
    """The image ``folder/stem.<ext>`` for the first suffix of :data:`IMAGE_SUFFIXES` that exists."""
    for suf in IMAGE_SUFFIXES:
        for cand in (folder / f"{stem}{suf}", folder / f"{stem}{suf.upper()}"):
            if cand.is_file():
                return cand
    return None


def check_count(col: Collector, n_points: int, spec: KeypointSpec, rec: str, fld: str) -> bool:
    """Record a failure when ``n_points`` is not the spec's keypoint count; True when it matches."""
    if n_points != spec.num_keypoints:
        col.fail(f"expected {spec.num_keypoints} points (spec '{spec.name}'), got {n_points}", record=rec, field=fld)
        return False
    return True


def landmark_instance(image_path: str, image_id: int, ann_id: int, xy: np.ndarray, vis: np.ndarray,
                      extra: dict | None = None) -> Instance:
    """An :class:`Instance` whose box is the extent of its labelled points (faces have no other box)."""
    xy = np.where(vis[:, None] > 0, xy, 0.0)
    box = extent_box(xy, vis)
    assert box is not None
    return Instance(image_path, image_id, ann_id, xy, vis.astype(np.int64), box, float(box[2] * box[3]),
                    extra=dict(extra or {}))


# ---------------------------------------------------------------------------------------------------------
# .pts
# ---------------------------------------------------------------------------------------------------------
def parse_pts(text: str, source: str | Path) -> np.ndarray:
    """The ``(N, 2)`` points of a ``.pts`` text, as written in the file (no origin change).

    Raises:
        DataError: naming ``source`` and the field (``n_points``, ``{``, ``points``, ``}``).
    """
    lines = [ln.strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("//")]
    n_points = None
    i = 0
    while i < len(lines) and lines[i] != "{":
        key, _, val = lines[i].partition(":")
        if key.strip().lower() == "n_points":
            try:
                n_points = int(val.strip())
            except ValueError:
                raise DataError(source, f"not an integer: {val.strip()!r}", field="n_points") from None
        i += 1
    if n_points is None:
        raise DataError(source, "missing 'n_points:' header line", field="n_points")
    if i == len(lines):
        raise DataError(source, "missing '{' before the points", field="{")
    body = lines[i + 1:]
    if not body or body[-1] != "}":
        raise DataError(source, "missing closing '}'", field="}")
    body = body[:-1]
    if len(body) != n_points:
        raise DataError(source, f"header says n_points: {n_points} but {len(body)} point lines follow", field="points")
    pts = np.zeros((n_points, 2), dtype=np.float64)
    for j, ln in enumerate(body):
        parts = ln.split()
        try:
            if len(parts) != 2:
                raise ValueError
            pts[j] = [float(parts[0]), float(parts[1])]
        except ValueError:
            raise DataError(source, f"expected 'x y', got {ln!r}", field=f"points[{j}]") from None
        if not all(math.isfinite(v) for v in pts[j]):
            raise DataError(source, f"non-finite coordinate {ln!r}", field=f"points[{j}]")
    return pts


def _pts_files(path: Path) -> tuple[Path, list[Path]]:
    """``(root, the .pts files)`` of a folder (searched recursively, sorted) or of one file."""
    if path.is_file():
        return path.parent, [path]
    if not path.is_dir():
        raise DataError(path, "folder or .pts file not found")
    # Any case of the suffix (.PTS from Windows tools): a case-sensitive glob left such files out unsaid.
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() == ".pts" and p.is_file())
    if not files:
        raise DataError(path, "no .pts files in this folder")
    return path, files


@spec_by_name
def read_pts(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    one_based: bool = True,
    **_: object,
) -> ReadResult:
    """Read a folder of ``.pts`` files (searched recursively, sorted), or one ``.pts`` file.

    Args:
        path: the folder (or a single ``.pts`` file).
        spec: keypoint set; every file must hold ``spec.num_keypoints`` points.
        images_dir: where the images are; the layout below ``path`` is mirrored there (300-VW keeps
            ``annot/`` and ``imgs/`` apart). Default: next to each ``.pts`` file. The image is the file with
            the same stem and an image suffix (:data:`IMAGE_SUFFIXES`).
        skip_invalid: skip (and report) bad files instead of raising.
        one_based: subtract 1 from every coordinate (iBUG convention, see the module docstring).

    Returns:
        One instance per file, ``ann_id`` = its index in sorted order; ``image_id`` from :func:`image_ids`;
        ``bbox`` = the points' extent; ``extra["pts_file"]``.
    """
    path = Path(path)
    root, files = _pts_files(path)
    col = Collector(str(path), skip_invalid)
    found: list[tuple[int, Path, Path, np.ndarray]] = []
    headers = ImageHeaders()
    for idx, f in enumerate(files):
        rel = f.relative_to(root)
        rec = printable(rel)
        try:
            pts = parse_pts(f.read_text(encoding="utf-8-sig", errors="replace"), f)  # a byte-order mark too
        except DataError as e:
            col.fail(e.reason, record=rec, field=e.field)
            continue
        except OSError as e:
            col.fail(f"cannot read ({e.strerror or e})", record=rec)
            continue
        if not check_count(col, len(pts), spec, rec, "n_points"):
            continue
        folder = (Path(images_dir) / rel.parent) if images_dir is not None else f.parent
        img = find_image(folder, f.stem)
        if img is None:
            exts = "|".join(s[1:] for s in IMAGE_SUFFIXES)
            col.fail(f"no image {f.stem}.<{exts}> in {folder}", record=rec, field="image")
            continue
        pts = pts - 1.0 if one_based else pts
        if within_bound(col, str(img), pts, np.ones(len(pts), bool), spec.keypoints, headers, rec, "points"):
            found.append((idx, f, img, pts))
    ids = image_ids(str(img) for _, _, img, _ in found)
    out = [
        landmark_instance(str(img), ids[str(img)], idx, pts, np.full(len(pts), 2, dtype=np.int64), {"pts_file": str(f)})
        for idx, f, img, pts in found
    ]
    return col.result(out)
