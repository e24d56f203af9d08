"""The label files of an Ultralytics YOLO pose dataset (:mod:`.yolo`): one instance per line, in pixels of the
image as displayed, and the class ids the dataset YAML names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..records import Instance
from . import Collector, box_ok


def class_ids(cfg: dict[str, Any], yml: Path) -> tuple[set[int], str] | None:
    """``(the class ids the dataset YAML names, how to show them)`` from ``names`` (a list, or ``{id: name}``) or
    ``nc``; None when it names no classes (then any whole number 0 or more is a class id)."""
    names, nc = cfg.get("names"), cfg.get("nc")
    if isinstance(names, dict):
        ids = {int(c) for c in names if isinstance(c, int) or (isinstance(c, str) and c.isdecimal())}
    elif isinstance(names, list):
        ids = set(range(len(names)))
    elif isinstance(nc, int) and not isinstance(nc, bool) and nc > 0:
        ids = set(range(nc))
    else:
        return None
    shown = ", ".join(map(str, sorted(ids))) if len(ids) <= 6 else f"{min(ids)}..{max(ids)}"
    return ids, f"the {len(ids)} class(es) of {yml.name}: {shown}" if ids else f"{yml.name} names no class"


def _class_problem(c: float, classes: tuple[set[int], str] | None) -> str | None:
    """Why the first number of a label line is not a class id of the dataset, or None. Ultralytics' own label check
    refuses a negative class and one beyond ``names``, and a fractional class is none; all three were read here as
    if they were classes."""
    if not (np.isfinite(c) and c == int(c) and c >= 0):
        return f"expected a class id (a whole number, 0 or more), got {c:g}"
    if classes is not None and int(c) not in classes[0]:
        return f"class {int(c)} is not among {classes[1]}"
    return None


def displayed_size(image: Path) -> tuple[int, int, int]:
    """``(width, height, EXIF orientation)`` of ``image`` as a viewer displays it, from the file header: the
    stored size, turned for the orientations 5-8 (Ultralytics normalises a label by this size and reads the
    image turned, as OpenCV does).

    Raises:
        DataError: the header cannot be read, or the image is over twice Pillow's decompression-bomb limit
            (the limit :func:`adaanchor.data.image_read.read_image` refuses to decode).
    """
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # as read_image: large on purpose
            with Image.open(image) as im:
                (w, h), orientation = im.size, int(im.getexif().get(0x0112, 1) or 1)
    except Image.DecompressionBombError as e:
        raise DataError(image, f"image too large to decode safely ({e})", field="image") from None
    except Exception as e:  # Pillow raises many types for damaged files (OSError, SyntaxError, ValueError, ...)
        raise DataError(image, f"cannot read the image's size ({type(e).__name__})", field="image") from None
    return (h, w, orientation) if orientation in (5, 6, 7, 8) else (w, h, orientation)


def label_instances(image: Path, image_id: int, lbl: Path, shape: tuple[int, int], classes: tuple[set[int], str] | None,
               col: Collector, first_id: int, root: Path) -> list[Instance]:
    """The instances of one label file, in pixels of the image as displayed (:func:`displayed_size`); ``shape`` is
    ``kpt_shape``; records are named by the label file's path under ``root`` (the dataset YAML's folder)."""
    k, d = shape
    try:
        w, h, orientation = displayed_size(image)
    except DataError as e:
        col.fail(e.reason, record=shown_path(image, root), field=e.field)
        return []
    # On a photo with an orientation tag the labels are on the turned image: data.exif=apply must turn it too.
    frame = {"labels_frame": "displayed", "exif_orientation": orientation} if orientation != 1 else {}
    out = []
    for ln, line in enumerate(lbl.read_text(encoding="utf-8-sig", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        rec = f"{shown_path(lbl, root)} line {ln}"
        try:
            v = np.array([float(x) for x in line.split()], dtype=np.float64)
        except ValueError:
            col.fail("not numbers", record=rec, field="line")
            continue
        if v.size != 5 + k * d:
            col.fail(f"expected {5 + k * d} numbers (class, box, {k} keypoints of {d}), got {v.size}", record=rec,
                     field="keypoints")
            continue
        why = _class_problem(float(v[0]), classes)
        if why is not None:
            col.fail(why, record=rec, field="class")
            continue
        bad_box = not np.all(np.isfinite(v[1:5])) or np.any(v[1:5] < 0) or np.any(v[1:5] > 1)
        if bad_box or not np.all(np.isfinite(v[5:])) or np.any(v[5:] < 0) or np.any(v[5:].reshape(k, d)[:, :2] > 1):
            col.fail("coordinates must be finite and divided by the image size (0..1)", record=rec,
                     field="box" if bad_box else "keypoints")
            continue
        pts = v[5:].reshape(k, d)
        # A flag of 0.4 or 1.6 is no visibility: rounded, it made a labelled point unlabelled without a word.
        if d == 3 and not np.isin(pts[:, 2], (0.0, 1.0, 2.0)).all():
            col.fail(f"visibility must be 0, 1 or 2, got {pts[:, 2].tolist()}", record=rec, field="keypoints")
            continue
        vis = pts[:, 2].astype(np.int64) if d == 3 else np.where(np.all(pts == 0, axis=1), 0, 2)
        box = np.array([(v[1] - v[3] / 2) * w, (v[2] - v[4] / 2) * h, v[3] * w, v[4] * h])
        if not box_ok(box) or not np.any(vis > 0):
            col.fail("an empty box or no labelled keypoint", record=rec, field="box" if not box_ok(box) else "keypoints")
            continue
        xy = np.where(vis[:, None] > 0, pts[:, :2] * [w, h], 0.0)
        out.append(Instance(image_path=str(image), image_id=image_id, ann_id=first_id + len(out) + 1, keypoints=xy,
                            visibility=vis, bbox=box, area=float(box[2] * box[3]), extra={"class": int(v[0]), **frame}))
    return out


def shown_path(path: Path, root: Path) -> str:
    """``path`` under ``root`` (a label file or image of the dataset), else as it is."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


__all__ = ["class_ids", "displayed_size", "label_instances", "shown_path"]
