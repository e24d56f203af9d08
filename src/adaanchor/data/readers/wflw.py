"""WFLW: the official annotation text file, and the COCO-style JSON (mmpose's conversion).

Official ``list_98pt_rect_attr_{train,test}.txt``: one face per line, whitespace separated::

    x0 y0 ... x97 y97  x_min y_min x_max y_max  pose expression illumination make-up occlusion blur  image_name

(196 coordinates, the 4 numbers of the face rectangle, 6 attribute flags in {0, 1}, then the image path
relative to ``WFLW_images/``). Coordinates are read as given (0-based pixel centres, as mmpose and the HRNet
face code use them). Every point is labelled (``v = 2``). The instance box is the extent of the 98 points
(the crop adds the usual 1.25 padding); the official rectangle is kept in ``extra["rect"]``
(``[x_min, y_min, x_max, y_max]``) and the flags in ``extra["attributes"]`` (keys :data:`ATTRIBUTES`), which
:mod:`adaanchor.metrics.nme` uses for the six test subsets.

The COCO-style JSON is read by the COCO reader with the ``wflw`` spec (whose ``v1_is_visible`` turns the
file's ``v = 1`` "labelled" flags into ``v = 2``); it has no attributes. Its box is the extent of the 98 points
too, as for the text file (the file's ``bbox`` is kept in ``extra["file_bbox"]``): mmpose's conversion writes
boxes that miss part of the face (in its own test sample, annotation 40's box is 48 px high for a face of
111 px, which left 63 of the 98 points outside it and cut 12 off the crop), and mmpose itself crops from
``center`` / ``scale``, not from ``bbox``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import AdaAnchorError, DataError
from ..spec import KeypointSpec
from . import Collector, ReadResult, printable, spec_by_name
from .coco import read_coco
from .image_header import ImageHeaders, within_bound
from .pts import extent_box, image_ids, landmark_instance

#: The six WFLW attribute flags, in file order (the test subsets of the paper's appendix A.1).
ATTRIBUTES = ("pose", "expression", "illumination", "make_up", "occlusion", "blur")


@spec_by_name
def read_wflw_txt(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    **_: object,
) -> ReadResult:
    """Read an official WFLW annotation text file (see the module docstring).

    Args:
        path: the ``.txt`` file.
        spec: keypoint set (98 points for WFLW; any ``K`` works, the line must hold ``2K + 11`` fields).
        images_dir: folder the image names are relative to (the ``WFLW_images`` folder); default: the
            text file's folder.
        skip_invalid: skip (and report) bad lines instead of raising.

    Returns:
        One instance per line, ``ann_id`` = the 0-based line index among non-empty lines, ``image_id`` by
        order of first appearance of the image name.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    k = spec.num_keypoints
    col = Collector(str(path), skip_invalid)
    base = Path(images_dir) if images_dir is not None else path.parent
    good = []
    ann = -1
    headers = ImageHeaders()
    for lineno, text in enumerate(_text_lines(path), start=1):
        parts = _fields(text, 2 * k + 4 + len(ATTRIBUTES) + 1)
        if not parts:
            continue
        ann += 1
        name = parts[-1]
        rec = f"line {lineno} ({printable(name)})"
        face = _face(parts, spec, rec, col)
        if face is not None and within_bound(col, str(base / name), face[0], np.ones(k, bool), spec.keypoints, headers,
                                             rec, "coordinates"):
            good.append((ann, name, *face))
    ids = image_ids(n for _, n, _, _ in good)
    out = [landmark_instance(str(base / n), ids[n], a, xy, np.full(k, 2, dtype=np.int64), extra)
           for a, n, xy, extra in good]
    return col.result(out)


def _text_lines(path: Path) -> list[str]:
    """The lines of the text list at ``path``; a JSON file is refused with a pointer to ``data.format=wflw``."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")  # a byte-order mark is not part of line 1
    if text.lstrip()[:1] in ("{", "["):
        # mmpose's COCO-style WFLW JSON read as the text list failed on every line with 'expected 207 fields, got 1'
        raise DataError(path, "a JSON file, not an official WFLW text list (list_98pt_rect_attr_*.txt): for the "
                              "COCO-style WFLW JSON give data.format=wflw")
    return text.splitlines()


def _fields(text: str, n_fields: int) -> list[str]:
    """The whitespace-separated fields of one line, the image name last; a name holding spaces after the line's
    ``n_fields - 1`` numbers stays one field (it was read as more coordinates: 'got 197 coordinates')."""
    parts = text.split()
    if len(parts) > n_fields:
        head = text.split(None, n_fields - 1)
        try:
            float(head[-1].split()[0])
        except ValueError:  # the field after the numbers is a word: the start of the name
            return [*head[:-1], head[-1].strip()]
    return parts


def _face(parts: list[str], spec: KeypointSpec, rec: str, col: Collector) -> tuple[np.ndarray, dict[str, Any]] | None:
    """``xy (K, 2)`` and ``extra`` (attributes, rectangle, image name) of one line's fields ``parts``; None after a
    failure recorded in ``col``."""
    k = spec.num_keypoints
    n_fields = 2 * k + 4 + len(ATTRIBUTES) + 1
    if len(parts) != n_fields:
        n_coord = len(parts) - 4 - len(ATTRIBUTES) - 1
        got = f"{n_coord} coordinates" if n_coord >= 0 else f"{len(parts)} fields"
        col.fail(f"expected {n_fields} fields ({2 * k} coordinates of {k} points of spec '{spec.name}', 4 box "
                 f"numbers, {len(ATTRIBUTES)} attribute flags, image name), got {got}", record=rec,
                 field="coordinates")
        return None
    try:
        nums = np.array([float(v) for v in parts[:-1]], dtype=np.float64)
    except ValueError:
        col.fail("coordinates, box and attributes must be numbers", record=rec, field="coordinates")
        return None
    xy = nums[: 2 * k].reshape(k, 2)
    rect = nums[2 * k: 2 * k + 4]
    attrs = nums[2 * k + 4:]
    if not np.all(np.isfinite(xy)):
        bad = int(np.flatnonzero(~np.isfinite(xy).all(1))[0])
        col.fail(f"non-finite coordinate of point {bad}", record=rec, field="coordinates")
        return None
    if not np.all(np.isfinite(rect)) or rect[2] <= rect[0] or rect[3] <= rect[1]:
        col.fail(f"face rectangle must have x_max > x_min and y_max > y_min, got {rect.tolist()}", record=rec,
                 field="rect")
        return None
    if not np.all(np.isin(attrs, (0, 1))):
        col.fail(f"attribute flags must be 0 or 1, got {attrs.tolist()}", record=rec, field="attributes")
        return None
    extra = {
        "attributes": {a: int(v) for a, v in zip(ATTRIBUTES, attrs)},
        "rect": [float(v) for v in rect],
        "image_name": parts[-1],
    }
    return xy, extra


@spec_by_name
def read_wflw_coco(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    **kw: object,
) -> ReadResult:
    """COCO-style WFLW JSON through :func:`~adaanchor.data.readers.coco.read_coco` (98 points), each box the
    extent of the labelled points (the file's ``bbox`` in ``extra["file_bbox"]``; see the module docstring)."""
    _need_points(spec, 98, "wflw", "wflw")
    res = read_coco(path, spec, images_dir=images_dir, skip_invalid=skip_invalid, **kw)  # type: ignore[arg-type]
    for inst in res.instances:
        box = extent_box(inst.keypoints, inst.visibility)
        if box is not None:
            inst.extra["file_bbox"] = [float(v) for v in inst.bbox]
            inst.bbox, inst.area = box, float(box[2] * box[3])
    return res


def _need_points(spec: KeypointSpec, k: int, fmt: str, spec_name: str) -> None:
    if spec.num_keypoints != k:
        raise AdaAnchorError(f"data.format={fmt} needs a {k}-keypoint spec (data.spec={spec_name}); "
                             f"spec '{spec.name}' has {spec.num_keypoints}")


__all__ = ["ATTRIBUTES", "read_wflw_txt", "read_wflw_coco"]
