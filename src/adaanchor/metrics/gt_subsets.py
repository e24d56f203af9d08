"""Parts of a COCO-style ground truth that an evaluation scores against: the images it evaluated
(:func:`gt_of_images`), the people its reader kept (:func:`gt_of_kept`), or a ground truth made of a dataset's
instances (:func:`gt_from_instances`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from adaanchor.data.readers.checks import non_number_message
from adaanchor.metrics.gt_checks import FILE_INDEX


def gt_of_images(data: dict, image_ids: set[int]) -> dict:
    """A copy of COCO-style ground truth ``data`` with only the images ``image_ids`` and their annotations (the
    evaluated side of a file that a random or identity split divides: AP must not count the other side's people
    as missed)."""
    keep = [im for im in data["images"] if im.get("id") in image_ids]
    ids = {im["id"] for im in keep}
    return {**data, "images": keep, "annotations": [a for a in data["annotations"] if a.get("image_id") in ids]}


def gt_of_kept(data: dict, ann_ids: Iterable[Any]) -> dict:
    """A copy of raw COCO-style ground truth ``data`` without the people its reader skipped (``data.skip_invalid``):
    an annotation that is a person to find (not a crowd region, some keypoint labelled, or a record too malformed to
    tell) stays only when its id is among ``ann_ids``, the instances the reader kept. Crowd regions and people
    without a labelled keypoint stay: COCOeval ignores them, and a detection on one is then not a false positive.

    A skipped record is out of the evaluation as it is out of the training: scored against the whole file, each
    counted as a missed person (perfect predictions of the other people scored AP 0.505), and a record the scorer
    refuses (a keypoint list of another length) stopped the run at its first evaluation, after the training."""
    kept = {str(i) for i in ann_ids}

    def to_find(a: Any) -> bool:
        kp = a.get("keypoints") if isinstance(a, dict) else None
        if not isinstance(kp, list) or len(kp) % 3 or non_number_message(kp) is not None:
            return True
        return a.get("iscrowd", 0) in (0, False) and any(v > 0 for v in kp[2::3])

    # Without an id it cannot be told apart: it stays, and the scorer names it (a reader keeps such a record).
    every = data.get("annotations", [])
    keep = [i for i, a in enumerate(every)
            if not to_find(a) or not isinstance(a, dict) or "id" not in a or str(a["id"]) in kept]
    if len(keep) == len(every):
        return data
    # Each person left keeps its index in the file, which the checks' messages name (gt_checks.FILE_INDEX).
    anns = [{**every[i], FILE_INDEX: i} if isinstance(every[i], dict) else every[i] for i in keep]
    return {**data, "annotations": anns}


def gt_from_instances(instances: Sequence[Any], keypoint_names: Sequence[str], name: str = "keypoints") -> dict:
    """COCO-style ground truth of a dataset's instances (:class:`adaanchor.data.records.Instance`), for the OKS AP
    of data read from files that are not COCO JSON (a YOLO pose dataset, a DeepLabCut or SLEAP project whose spec
    has OKS sigmas): one image per ``image_id``, one annotation per instance under its ``ann_id``."""
    images: dict[int, dict] = {}
    anns = []
    for inst in instances:
        images.setdefault(int(inst.image_id), {"id": int(inst.image_id), "file_name": str(inst.image_path)})
        kp = np.concatenate([np.asarray(inst.keypoints, np.float64), np.asarray(inst.visibility, np.float64)[:, None]], 1)
        kp[kp[:, 2] == 0, :2] = 0.0
        anns.append({"id": int(inst.ann_id), "image_id": int(inst.image_id), "category_id": 1, "iscrowd": 0,
                     "keypoints": [float(v) if j % 3 < 2 else int(v) for j, v in enumerate(kp.reshape(-1))],
                     "num_keypoints": int((kp[:, 2] > 0).sum()), "bbox": [float(v) for v in inst.bbox],
                     "area": float(inst.area)})
    return {"images": list(images.values()), "annotations": anns,
            "categories": [{"id": 1, "name": name, "keypoints": list(keypoint_names)}]}
