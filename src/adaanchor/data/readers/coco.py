"""COCO-format keypoint annotations (COCO person keypoints, CrowdPose, the built-in benchmark, any custom set).

Each annotation becomes one :class:`~adaanchor.data.records.Instance`. Checked per record, each failure
naming the file, the record and the field: the image id exists, the keypoint count matches the spec, the
coordinates are finite, visibility is in {0, 1, 2}, the box has positive area. ``iscrowd`` annotations and
annotations without any labelled keypoint are left out of training on purpose (they carry no target); they
are counted in :attr:`ReadResult.skipped` as such, never dropped silently.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ...metrics.coco import load_json
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, ReadResult


def _image_table(data: dict, col: Collector, images_dir: Path) -> dict[int, dict[str, Any]]:
    table: dict[int, dict[str, Any]] = {}
    for i, img in enumerate(data.get("images") or []):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            col.fail("an image needs 'id' and 'file_name'", record=f"images[{i}]", field="id")
            continue
        table[img["id"]] = {"path": str(images_dir / img["file_name"]), **img}
    return table


def read_coco(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    keep_crowd: bool = False,
    require_labelled: bool = True,
) -> ReadResult:
    """Read a COCO keypoint JSON.

    Args:
        path: the JSON file.
        spec: the keypoint set; each annotation must carry ``3 * spec.num_keypoints`` numbers.
        images_dir: folder that ``file_name`` is relative to (default: the JSON's folder).
        skip_invalid: skip (and report) bad records instead of raising.
        keep_crowd: keep ``iscrowd=1`` annotations (for evaluation bookkeeping); default leaves them out.
        require_labelled: leave out annotations with no labelled keypoint (they have no training target).

    Returns:
        A :class:`ReadResult`; ``instances`` in file order, with ``extra["iscrowd"]`` and the image's
        ``width``/``height`` when given.
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("annotations"), list) or not isinstance(data.get("images"), list):
        raise DataError(path, "not a COCO keypoint file: expected 'images' and 'annotations' lists")
    col = Collector(str(path), skip_invalid)
    images = _image_table(data, col, Path(images_dir) if images_dir is not None else path.parent)
    k = spec.num_keypoints
    out: list[Instance] = []
    left_out: list[DataError] = []
    for i, ann in enumerate(data["annotations"]):
        rec = f"annotations[{i}]" + (f" id={ann['id']}" if isinstance(ann, dict) and "id" in ann else "")
        if not isinstance(ann, dict):
            col.fail("an annotation must be an object", record=rec)
            continue
        iid = ann.get("image_id")
        img = images.get(iid) if isinstance(iid, (int, str)) else None
        if img is None:
            col.fail(f"unknown image id {ann.get('image_id')!r}", record=rec, field="image_id")
            continue
        kp = ann.get("keypoints")
        if not isinstance(kp, list) or len(kp) != 3 * k:
            n = len(kp) if isinstance(kp, list) else type(kp).__name__
            col.fail(f"expected {3 * k} numbers ({k} keypoints of spec '{spec.name}'), got {n}", record=rec, field="keypoints")
            continue
        try:
            arr = np.asarray(kp, dtype=np.float64).reshape(k, 3)
        except (TypeError, ValueError):
            col.fail("keypoints must be numbers", record=rec, field="keypoints")
            continue
        vis = arr[:, 2]
        if not np.all(np.isin(vis, (0, 1, 2))):
            col.fail(f"visibility flags must be 0, 1 or 2, got {sorted(set(vis.tolist()) - {0, 1, 2})}", record=rec, field="keypoints")
            continue
        vis = vis.astype(np.int64)
        if spec.v1_is_visible:
            vis = np.where(vis > 0, 2, 0)
        if not np.all(np.isfinite(arr[vis > 0, :2])):
            col.fail("non-finite keypoint coordinate", record=rec, field="keypoints")
            continue
        xy = np.where(vis[:, None] > 0, arr[:, :2], 0.0)
        bbox = ann.get("bbox")
        if bbox is None and (vis > 0).any():
            lab = xy[vis > 0]
            bbox = [*lab.min(0), *(lab.max(0) - lab.min(0) + 1)]
        try:
            bbox = np.asarray(bbox, dtype=np.float64).reshape(4)
        except (TypeError, ValueError):
            col.fail("expected [x, y, w, h]", record=rec, field="bbox")
            continue
        if not np.all(np.isfinite(bbox)) or bbox[2] <= 0 or bbox[3] <= 0:
            col.fail(f"box must have positive finite width and height, got {bbox.tolist()}", record=rec, field="bbox")
            continue
        crowd = bool(ann.get("iscrowd", 0))
        if crowd and not keep_crowd:
            left_out.append(DataError(path, "iscrowd annotation (not a training target)", record=rec, field="iscrowd"))
            continue
        if require_labelled and not (vis > 0).any():
            left_out.append(DataError(path, "no labelled keypoint", record=rec, field="keypoints"))
            continue
        area = ann.get("area")
        area = float(area) if isinstance(area, (int, float)) and math.isfinite(area) else float(bbox[2] * bbox[3])
        extra = {"iscrowd": crowd}
        for key in ("width", "height"):
            if key in img:
                extra[key] = img[key]
        out.append(Instance(img["path"], int(ann["image_id"]), int(ann.get("id", -1)), xy, vis, bbox, area, extra=extra))
    res = col.result(out)
    res.skipped.extend(left_out)
    return res
