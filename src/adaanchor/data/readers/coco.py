"""COCO-format keypoint annotations (COCO person keypoints, CrowdPose, the built-in benchmark, any custom set).

Each annotation becomes one :class:`~adaanchor.data.records.Instance`. Checked per record, each failure
naming the file, the record and the field: the image id exists, the keypoint count matches the spec, the
coordinates are finite, visibility is in {0, 1, 2}, the box has positive area. ``iscrowd`` annotations and
annotations without any labelled keypoint are left out of training on purpose (they carry no target); they
are counted in :attr:`ReadResult.skipped` as such, never dropped silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..jsonio import load_json
from ..records import Instance
from ..spec import KeypointSpec
from . import Collector, ReadResult, box_ok, finite_number, float_array, is_int_id, printable


def _image_table(data: dict, col: Collector, images_dir: Path) -> dict[int, dict[str, Any]]:
    table: dict[int, dict[str, Any]] = {}
    for i, img in enumerate(data.get("images") or []):
        if not isinstance(img, dict) or "id" not in img or "file_name" not in img:
            col.fail("an image needs 'id' and 'file_name'", record=f"images[{i}]", field="id")
            continue
        if not is_int_id(img["id"]):
            col.fail(f"image id must be an integer, got {img['id']!r}", record=f"images[{i}]", field="id")
            continue
        if img["id"] in table:
            col.fail(f"duplicate image id {img['id']}", record=f"images[{i}]", field="id")
            continue
        if not isinstance(img["file_name"], str) or not img["file_name"]:
            col.fail(f"expected a file name, got {img['file_name']!r}", record=f"images[{i}]", field="file_name")
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
        rec = f"annotations[{i}]" + (f" id={printable(ann['id'])}" if isinstance(ann, dict) and "id" in ann else "")
        if not isinstance(ann, dict):
            col.fail("an annotation must be an object", record=rec)
            continue
        if "id" in ann and not is_int_id(ann["id"]):
            col.fail(f"annotation id must be an integer, got {ann['id']!r}", record=rec, field="id")
            continue
        iid = ann.get("image_id")
        img = images.get(iid) if is_int_id(iid) else None
        if img is None:
            col.fail(f"unknown image id {ann.get('image_id')!r}", record=rec, field="image_id")
            continue
        kp = ann.get("keypoints")
        if not isinstance(kp, list) or len(kp) != 3 * k:
            n = len(kp) if isinstance(kp, list) else type(kp).__name__
            col.fail(f"expected {3 * k} numbers ({k} keypoints of spec '{spec.name}'), got {n}", record=rec, field="keypoints")
            continue
        arr = float_array(kp, (k, 3))
        if arr is None:
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
        # Records without a training target are left out (and listed) before their box is looked at.
        iscrowd = ann.get("iscrowd", 0)
        if isinstance(iscrowd, str) or iscrowd not in (0, 1):
            col.fail(f"expected 0 or 1, got {iscrowd!r}", record=rec, field="iscrowd")
            continue
        crowd = bool(iscrowd)
        if crowd and not keep_crowd:
            left_out.append(DataError(path, "iscrowd annotation (not a training target)", record=rec, field="iscrowd"))
            continue
        if require_labelled and not (vis > 0).any():
            left_out.append(DataError(path, "no labelled keypoint", record=rec, field="keypoints"))
            continue
        bbox = ann.get("bbox")
        if bbox is None and (vis > 0).any():
            lab = xy[vis > 0]
            bbox = [*lab.min(0), *(lab.max(0) - lab.min(0) + 1)]
        bbox = float_array(bbox, (4,))
        if bbox is None:
            col.fail("expected [x, y, w, h]", record=rec, field="bbox")
            continue
        if not box_ok(bbox):
            col.fail(f"box must have positive finite width and height, got {bbox.tolist()}", record=rec, field="bbox")
            continue
        area = finite_number(ann.get("area"))
        area = area if area is not None and area > 0 else float(bbox[2] * bbox[3])
        extra = {"iscrowd": crowd}
        for key in ("width", "height"):
            if key in img:
                extra[key] = img[key]
        out.append(Instance(img["path"], int(ann["image_id"]), int(ann.get("id", -1)), xy, vis, bbox, area, extra=extra))
    res = col.result(out)
    res.skipped.extend(left_out)
    return res
