"""Person detections (COCO results format with boxes) as instances, for top-down evaluation on detected boxes.

The file is a JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}`` records (for
example ``test_coco_det_AP_H_56.json``, the detector output used by SimpleBaseline / HRNet). Each kept
detection becomes an :class:`~adaanchor.data.records.Instance` with that box and **no labelled keypoint**
(``v = 0`` everywhere: nothing to train on, only boxes to crop); ``extra["score"]`` holds the detection
score (the COCO protocol multiplies it into the instance score), ``extra["det_index"]`` its position in
the file. ``ann_id`` is -1: results of detected boxes are matched by OKS (COCO AP), not by annotation id.

Image files: image ids are resolved through ``gt`` (a COCO-style JSON whose ``images`` give ``file_name``;
its folder is the default ``images_dir``), or, without ``gt``, through the image files in ``images_dir``
(default: the detection file's folder) whose stem is the integer id (``000000000785.jpg`` -> 785).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..categories import category_counts, kept_categories, keypoint_categories
from ..jsonio import load_json
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, ReadResult, box_ok, finite_number, is_int_id, spec_by_name
from .checks import number_array
from .pts import IMAGE_SUFFIXES


def _images_from_gt(gt: Path, images_dir: Path | None) -> tuple[dict[int, str], list[int] | None]:
    """``image id -> file`` of the ground truth's images, and the ids of its categories with keypoints (None:
    it lists none)."""
    data = load_json(gt)
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise DataError(gt, "expected a COCO-style JSON with an 'images' list", field="images")
    base = images_dir if images_dir is not None else gt.parent
    out = {}
    for i, img in enumerate(data["images"]):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            raise DataError(gt, "an image needs 'id' and 'file_name'", record=f"images[{i}]", field="id")
        if not is_int_id(img["id"]):
            raise DataError(gt, f"image id must be an integer, got {img['id']!r}", record=f"images[{i}]", field="id")
        if not isinstance(img["file_name"], str) or not img["file_name"]:
            raise DataError(gt, f"expected a file name, got {img['file_name']!r}", record=f"images[{i}]",
                            field="file_name")
        out[img["id"]] = str(base / img["file_name"])
    return out, keypoint_categories(data) or None


def _images_from_folder(folder: Path) -> dict[int, str]:
    out: dict[int, str] = {}
    if folder.is_dir():
        for p in sorted(folder.iterdir()):
            if p.suffix.lower() in IMAGE_SUFFIXES and p.stem.isascii() and p.stem.isdigit():
                out.setdefault(int(p.stem), str(p))
    return out


@spec_by_name
def read_detections(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    gt: str | Path | None = None,
    score_thr: float = 0.0,
    category: Any = "auto",
    **_: object,
) -> ReadResult:
    """Read person detections.

    Args:
        path: the detections JSON (a list).
        spec: keypoint set (gives ``K`` of the all-unlabelled keypoint arrays).
        images_dir: image folder (see the module docstring).
        skip_invalid: skip (and report) bad records instead of raising.
        gt: COCO-style JSON to resolve ``image_id`` to ``file_name``.
        score_thr: keep detections with ``score >= score_thr`` (HRNet's COCO setting keeps all: 0.0). Those
            below are reported in ``skipped`` as such, not dropped silently.
        category: the categories kept (``data.det_category``, :func:`adaanchor.data.categories.kept_categories`):
            ``auto`` keeps the categories with keypoints of ``gt`` (without ``gt``: category 1 where the file has
            it, else its only one), ``all`` every one, or an id or a list of ids.

    Returns:
        Instances in file order.
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(path, "expected a JSON list of {image_id, category_id, bbox, score} records")
    idir = Path(images_dir) if images_dir is not None else None
    images, expected = _images_from_gt(Path(gt), idir) if gt is not None else (_images_from_folder(idir or path.parent), None)
    keep = kept_categories(category_counts(data), category, path, expected, option="data.det_category")
    where = f"in {gt}" if gt is not None else f"among the images of {idir or path.parent}"
    col = Collector(str(path), skip_invalid)
    left_out: list[DataError] = []
    k = spec.num_keypoints
    out: list[Instance] = []
    for i, det in enumerate(data):
        rec = f"{i}"
        found = _detection(det, rec, images, where, col)
        if found is None:
            continue
        img, box, score = found
        cat = det.get("category_id")
        if keep is not None and cat is not None and int(cat) not in keep:
            left_out.append(DataError(path, f"category_id {cat!r} is not {', '.join(map(str, sorted(keep)))}",
                                      record=rec, field="category_id"))
            continue
        if score < score_thr:
            left_out.append(DataError(path, f"score below the threshold {score_thr:g}", record=rec, field="score"))
            continue
        out.append(Instance(img, int(det["image_id"]), -1, np.zeros((k, 2)), np.zeros(k, dtype=np.int64), box,
                            float(box[2] * box[3]),
                            extra={"score": float(score), "det_index": i, "category_id": cat}))
    res = col.result(out)
    res.skipped.extend(left_out)
    return res


def _detection(det: Any, rec: str, images: dict[int, str], where: str,
               col: Collector) -> tuple[str, np.ndarray, float] | None:
    """The image file, box ``[x, y, w, h]`` and score of one detection record; None after a failure recorded in
    ``col``. ``where`` says where image ids are looked up, for the message of an unknown one."""
    if not isinstance(det, dict):
        col.fail("a detection must be an object", record=rec)
        return None
    iid = det.get("image_id")
    img = images.get(iid) if is_int_id(iid) else None
    if img is None:
        col.fail(f"unknown image id {det.get('image_id')!r} (not {where})", record=rec, field="image_id")
        return None
    box = number_array(det.get("bbox"), (4,))
    if box is None:
        col.fail("expected [x, y, w, h]", record=rec, field="bbox")
        return None
    if not box_ok(box):
        col.fail(f"box must have positive finite width and height, got {box.tolist()}", record=rec, field="bbox")
        return None
    score = finite_number(det.get("score"))
    if score is None:
        col.fail(f"expected a finite number, got {det.get('score')!r}", record=rec, field="score")
        return None
    cat = det.get("category_id")  # none (or null): the record claims no class
    if cat is not None and not is_int_id(cat):  # 1.0 and true were read as category 1, "1" as another
        col.fail(f"expected an integer category id, got {cat!r}", record=rec, field="category_id")
        return None
    return img, box, score
