"""Boxes for top-down prediction: arrays given by the caller, or a COCO detections file.

A detections file is the COCO results format with boxes (``[{"image_id", "category_id", "bbox": [x, y, w,
h], "score"}, ...]``), the same file :func:`adaanchor.data.readers.detections.read_detections` reads for
evaluation; its records are checked with the same rules (and the same helpers). Here images are not
resolved through a ground-truth file: prediction sources say which image id each frame has
(:func:`adaanchor.predict.sources.image_id_of`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ..data.categories import category_counts, kept_categories
from ..data.readers import box_ok, finite_number, float_array, is_int_id
from ..errors import AdaAnchorError, DataError
from ..metrics.coco import load_json

#: The largest box coordinate or side, in pixels: OpenCV and Pillow hold images of at most 2^31 - 1 pixels a
#: side, so a box beyond it addresses no pixel of any image (and 1e308 overflowed the crop to inf keypoints).
MAX_BOX_COORD = float(2**31)


class Boxes(NamedTuple):
    """The boxes of one image: ``boxes (N, 4)`` ``[x, y, w, h]`` float64 and ``scores (N,)`` float64."""

    boxes: np.ndarray
    scores: np.ndarray


class FileBoxes(Boxes):
    """The boxes of one image read from a detections file, whose ``source`` (the file and the image id, set by
    :func:`file_boxes`) a message about them names."""


def file_boxes(dets: Detections, image_id: int) -> FileBoxes:
    """Image ``image_id``'s boxes of ``dets`` (none when it has no detection), naming where they come from."""
    b = dets.get(image_id, no_boxes())
    fb = FileBoxes(b.boxes, b.scores)
    fb.source = f"{dets.source}, image id {image_id}"  # type: ignore[attr-defined]
    return fb


def no_boxes() -> Boxes:
    return Boxes(np.zeros((0, 4)), np.zeros(0))


def as_boxes(value: Any, what: str = "boxes") -> Boxes:
    """``(N, 4)`` boxes ``[x, y, w, h]`` (or ``(N, 5)`` with a score, or one box ``(4,)``) as float64 boxes
    and scores (1.0 where none is given).

    Raises:
        AdaAnchorError: not numbers of that shape, a box without a positive finite width and height, a
            coordinate beyond +-2^31 px (:data:`MAX_BOX_COORD`), or a score that is not a finite number >= 0
            (a detections file's scores are checked the same way).
    """
    if isinstance(value, Boxes):
        return value
    kind = _element_kind(value) if isinstance(value, (list, tuple, np.ndarray)) else None
    if kind is not None:  # float() would make True a 1 and "10" a 10
        raise AdaAnchorError(f"{what}: box coordinates must be numbers, got {kind} in {value!r}"[:300])
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise AdaAnchorError(f"{what}: expected an array of [x, y, w, h] boxes, got {type(value).__name__}") from None
    if arr.ndim == 0:  # a number (True, 3): not a box, whatever float() makes of it
        raise AdaAnchorError(f"{what}: expected [x, y, w, h] boxes (N, 4) or (N, 5), got {type(value).__name__} {value!r}")
    if arr.ndim == 1 and arr.shape[0] in (4, 5):
        arr = arr[None]
    if arr.size == 0:
        return no_boxes()
    if arr.ndim != 2 or arr.shape[1] not in (4, 5):
        raise AdaAnchorError(f"{what}: expected shape (N, 4) [x, y, w, h] or (N, 5) with a score, got {arr.shape}")
    for i, b in enumerate(arr):
        if not box_ok(b[:4]):
            raise AdaAnchorError(f"{what}[{i}]: a box needs a positive finite width and height, got {b[:4].tolist()}")
        if np.abs(b[:4]).max() > MAX_BOX_COORD:
            raise AdaAnchorError(f"{what}[{i}]: box coordinates must lie within +-2^31 px (the largest image side), "
                                 f"got {b[:4].tolist()}")
        if len(b) == 5 and not (np.isfinite(b[4]) and b[4] >= 0):  # it multiplies the instance score
            raise AdaAnchorError(f"{what}[{i}]: a detection score must be a finite number >= 0, got {b[4]}")
    scores = arr[:, 4] if arr.shape[1] == 5 else np.ones(len(arr))
    return Boxes(arr[:, :4].copy(), scores.astype(np.float64))


def _element_kind(value: Any) -> str | None:
    """The type name of a bool or string among ``value``'s elements (a nested list or an array), else None."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "O":
            return _element_kind(value.tolist())
        return {"b": "bool", "S": "bytes", "U": "str", "c": "complex"}.get(value.dtype.kind)
    if isinstance(value, (bool, np.bool_, str, bytes, complex, np.complexfloating)):  # complex: the imaginary part
        return type(value).__name__  # was dropped with a ComplexWarning
    if isinstance(value, (list, tuple)):
        for v in value:
            kind = _element_kind(v)
            if kind is not None:
                return kind
    return None


class Detections(dict):
    """``image_id -> Boxes`` of a detections file, which it names (``source``) for messages; ``categories``: the
    category ids kept (None: every one); ``found``: the file's detections per category id."""

    def __init__(self, items: dict[int, Boxes], source: str | Path, categories: frozenset[int] | None = None,
                 found: Mapping[int, int] | None = None):
        super().__init__(items)
        self.source = str(source)
        self.categories = categories
        self.found = dict(found or {})


def load_detections(path: str | Path, score_thr: float = 0.0, category: Any = "auto",
                    notes: list[str] | None = None) -> Detections:
    """``image_id -> (boxes (N, 4), scores (N,))`` from a COCO detections file, in file order per image.

    ``category``: the categories kept (:func:`adaanchor.data.categories.kept_categories`: ``auto`` keeps category
    1 where the file has it, else the file's only category; ``all``; an id or a list of ids). Detections of
    another category or below ``score_thr`` are left out (as for evaluation); ``notes`` receives a line saying
    how many, when any, one counting the detections without a ``score`` (taken as 1.0, a box of its own: ground-truth
    boxes written as detections), and one for a file that holds no detection at all (then no instance is predicted).

    Raises:
        DataError: not a JSON list, a record with a bad ``image_id``, ``bbox``, ``category_id`` or ``score``
            (naming the file, the record and the field), or a category choice that keeps no detection.
    """
    if not str(path).strip():  # Path("") is "." and read as "file not found"
        raise DataError("--boxes", "no detections file given (an empty name)")
    path = Path(path)
    if path.is_dir():
        raise DataError(path, "a folder, not a COCO detections JSON file")
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(path, "expected a JSON list of {image_id, category_id, bbox, score} records")
    found = category_counts(data)
    keep = kept_categories(found, category, path)
    per_image: dict[int, list[tuple[np.ndarray, float]]] = {}
    other = low = unscored = 0
    for i, det in enumerate(data):
        box, score, cat = _detection(path, i, det)
        unscored += "score" not in det
        if keep is not None and cat is not None and cat not in keep:
            other += 1
        elif score < score_thr:
            low += 1
        else:
            per_image.setdefault(int(det["image_id"]), []).append((box, score))
    if notes is not None:
        notes += _load_notes(path, len(data), unscored, other, low, keep, score_thr)
    return Detections({k: Boxes(np.stack([b for b, _ in v]), np.array([s for _, s in v])) for k, v in per_image.items()},
                      path, keep, found)


def _detection(path: Path, i: int, det: Any) -> tuple[np.ndarray, float, int | None]:
    """Record ``i`` of a detections file checked: its box ``[x, y, w, h]``, its score (1.0 when it has none) and its
    category id (None: it claims no class).

    Raises:
        DataError: naming the file, the record and the field."""
    if not isinstance(det, dict):
        raise DataError(path, "a detection must be an object", record=i)
    if not is_int_id(det.get("image_id")):
        raise DataError(path, f"expected an integer image id, got {det.get('image_id')!r}", record=i, field="image_id")
    box = float_array(det.get("bbox"), (4,)) if _element_kind(det.get("bbox")) is None else None
    if box is None or not box_ok(box):
        raise DataError(path, f"expected [x, y, w, h] with positive width and height, got {det.get('bbox')!r}",
                        record=i, field="bbox")
    if np.abs(box).max() > MAX_BOX_COORD:  # as as_boxes: the crop of 1e308 overflowed to keypoints at 1e308
        raise DataError(path, f"box coordinates must lie within +-2^31 px (the largest image side), got "
                              f"{det.get('bbox')!r}", record=i, field="bbox")
    cat = det.get("category_id")
    if cat is not None and not is_int_id(cat):  # True == 1 and 1.0 == 1 were read as category 1, "1" as another
        raise DataError(path, f"expected an integer category id, got {cat!r}", record=i, field="category_id")
    score = finite_number(det.get("score", 1.0))
    if score is None:
        raise DataError(path, f"expected a finite number, got {det.get('score')!r}", record=i, field="score")
    return box, score, None if cat is None else int(cat)


def _load_notes(path: Path, n: int, unscored: int, other: int, low: int, keep: frozenset[int] | None,
                score_thr: float) -> list[str]:
    """The notes of :func:`load_detections` on a file of ``n`` detections."""
    out = [f"{path}: holds no detection (an empty list): no instance is predicted"] * (n == 0)
    if unscored:
        out.append(f"{path}: {unscored} of {n} detections have no score, taken as 1.0")
    if other + low:
        kept = ", ".join(map(str, sorted(keep or ())))
        why = [f"{other} of a category other than {kept}"] * bool(other) + [f"{low} scored below {score_thr:g}"] * bool(low)
        out.append(f"{path}: {other + low} of {n} detections left out ({', '.join(why)})")
    return out
