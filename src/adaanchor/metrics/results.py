"""COCO-format ground truth and keypoint results: the validated readers and the writer shared by the AP
evaluation (:mod:`adaanchor.metrics.coco`), ``adaanchor score`` and ``adaanchor eval --predictions``.

Every check raises :class:`~adaanchor.errors.DataError` naming the file, the record and the field; the
ground-truth checks catch what would make pycocotools give wrong numbers without a word (duplicate ids,
numbers given as strings or booleans, boxes outside their image, an ``area`` that is not a positive finite
number, an ``iscrowd`` other than 0 / 1, a ``category_id`` missing from ``categories``, an image ``width`` /
``height`` that is not a positive number), the results checks refuse non-finite predictions (pycocotools
matches a NaN prediction to every ground truth).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adaanchor.data.jsonio import load_json
from adaanchor.data.readers import printable
from adaanchor.data.readers.checks import box_outside_image, duplicates, image_size, non_number_message
from adaanchor.errors import AdaAnchorError, DataError
from adaanchor.metrics.keypoint import to_numpy

GtLike = str | os.PathLike | dict | Any  # a path, a COCO-style dict, or a COCO object (``.dataset``)
ResultsLike = str | os.PathLike | list


def load_coco_gt(gt: GtLike) -> tuple[dict, str]:
    """Ground truth as a COCO-style dict (with ``images``, ``annotations``, ``categories``) and its name."""
    if isinstance(gt, (str, os.PathLike)):
        data, name = load_json(gt), str(gt)
    elif isinstance(gt, dict):
        data, name = gt, "<ground-truth dict>"
    elif hasattr(gt, "dataset"):
        data, name = gt.dataset, "<ground-truth COCO object>"
    else:
        raise AdaAnchorError(f"ground truth must be a path, a dict or a COCO object, got {type(gt).__name__}")
    if not isinstance(data, dict):
        raise DataError(name, "expected a COCO-style JSON object with 'images' and 'annotations'")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DataError(name, "missing or not a list", field=key)
        for i, rec in enumerate(data[key] if key != "annotations" else ()):
            if not isinstance(rec, dict) or not _is_id(rec.get("id")):
                raise DataError(name, "expected an object with an integer or string 'id'", record=f"{key}[{i}]",
                                field="id")
    for i, img in enumerate(data["images"]):
        _check_gt_image(img, i, name)
    for i, ann in enumerate(data["annotations"]):
        _check_gt_annotation(ann, i, name)
    _check_gt_ids(data, name)
    return data, name


def gt_of_images(data: dict, image_ids: set[int]) -> dict:
    """A copy of COCO-style ground truth ``data`` with only the images ``image_ids`` and their annotations (the
    evaluated side of a file that a random or identity split divides: AP must not count the other side's people
    as missed)."""
    keep = [im for im in data["images"] if im.get("id") in image_ids]
    ids = {im["id"] for im in keep}
    return {**data, "images": keep, "annotations": [a for a in data["annotations"] if a.get("image_id") in ids]}


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


def _check_gt_annotation(ann: Any, i: int, name: str) -> None:
    """One ground-truth annotation: ids, keypoints as numbers ``[x, y, v] * K``, a finite box."""
    kp = ann.get("keypoints") if isinstance(ann, dict) else None
    rec = f"annotations[{i}]"
    if not isinstance(kp, list) or len(kp) % 3:
        raise DataError(name, "expected a flat list [x, y, v] * K", record=rec, field="keypoints")
    why = non_number_message(kp)
    if why is not None:
        raise DataError(name, why, record=rec, field="keypoints")
    if any(v not in (0, 1, 2) for v in kp[2::3]):
        raise DataError(name, "visibility flags must be 0, 1 or 2", record=rec, field="keypoints")
    if not all(_finite(x) for j, x in enumerate(kp) if j % 3 < 2 and kp[j - j % 3 + 2] > 0):
        raise DataError(name, "non-finite coordinate of a labelled keypoint", record=rec, field="keypoints")
    for f in ("id", "image_id", "category_id"):  # what pycocotools indexes the annotations by
        if not _is_id(ann.get(f)):
            raise DataError(name, f"expected an integer id, got {ann.get(f)!r}", record=rec, field=f)
    box = ann.get("bbox")
    if not isinstance(box, list) or len(box) != 4 or not all(_finite(v) for v in box):
        raise DataError(name, "expected [x, y, w, h] numbers", record=rec, field="bbox")
    _check_gt_area_iscrowd(ann, ann_record(ann, i), name)
    labelled = sum(1 for v in kp[2::3] if v > 0)
    # COCOeval ignores a person whose num_keypoints is 0 (its predictions then count as false positives). Other
    # disagreements are left: Halpe's and CrowdPose's files count another subset of the keypoints there.
    if ann.get("num_keypoints", labelled) == 0 and labelled:
        raise DataError(name, f"0, but {labelled} keypoints are labelled: COCOeval would ignore this person",
                        record=ann_record(ann, i), field="num_keypoints")


#: COCOeval's largest area range ends at 1e5 ** 2 px: an annotation with a larger area is ignored in every range.
MAX_AREA = 1e5**2


def ann_record(ann: dict, i: int) -> str:
    """``annotations[i] id=ID``: how a message names a ground-truth annotation (the id escaped: one line)."""
    return f"annotations[{i}]" + (f" id={printable(ann['id'])}" if "id" in ann else "")


def _check_gt_area_iscrowd(ann: dict, rec: str, name: str) -> None:
    """``area`` (when given; missing is decided by the caller) and ``iscrowd`` (missing means 0, COCO's default
    for a person), as COCOeval uses them."""
    why = _area_problem(ann["area"]) if "area" in ann else None
    if why is not None:
        raise DataError(name, why, record=rec, field="area")
    crowd = ann.get("iscrowd", 0)
    if isinstance(crowd, str) or crowd not in (0, 1):  # true / false pass: COCOeval reads int(iscrowd)
        raise DataError(name, f"expected 0 or 1, got {crowd!r}", record=rec, field="iscrowd")


def _area_problem(area: Any) -> str | None:
    """Why ``area`` is not a usable OKS scale, or None.

    pycocotools divides the squared distances by the area and places the annotation in an area range by it: a
    NaN area makes every OKS NaN, which its matching counts as a match (predictions 30 px off scored AP 1.0); a
    negative or too large one (infinity included) leaves the annotation outside every range (AP -1, "no ground
    truth"); 0 makes OKS a test of exact equality (any error, however small, gives OKS 0); a string or null
    fails inside it with a TypeError.
    """
    if not (_finite(area) and area > 0):
        reason = ": OKS divides by the area" if _finite(area) and area == 0 else ""
        return f"expected a positive finite number (the object's area in px^2, the OKS scale), got {area!r}{reason}"
    if area > MAX_AREA:
        return f"area {area!r} is beyond COCOeval's largest area range (1e10 px^2): the annotation would be ignored"
    return None


def _check_gt_image(img: dict, i: int, name: str) -> None:
    """``width`` / ``height``, when given, are positive numbers: they decide whether a box lies outside its image
    (:func:`_check_gt_ids`), and a string or a negative size would silently turn that check off."""
    for key in ("width", "height"):
        if key in img and not (_finite(img[key]) and img[key] > 0):
            raise DataError(name, f"expected a positive number of pixels, got {img[key]!r}",
                            record=f"images[{i}] id={printable(img['id'])}", field=key)


def _check_gt_ids(data: dict, name: str) -> None:
    """No id twice (pycocotools keeps the last one in its index, the evaluation then goes wrong without a
    word); every annotation on a listed image, its box overlapping the image when the size is given."""
    for key in ("images", "annotations", "categories"):
        for i, j in duplicates([r["id"] for r in data[key]]):
            raise DataError(name, f"duplicate id {data[key][i]['id']!r} (also {key}[{j}])", record=f"{key}[{i}]",
                            field="id")
    names = [img.get("file_name") if isinstance(img.get("file_name"), str) else object() for img in data["images"]]
    for i, j in duplicates(names):
        raise DataError(name, f"image file {data['images'][i]['file_name']!r} listed twice (also images[{j}])",
                        record=f"images[{i}]", field="file_name")
    images = {img["id"]: img for img in data["images"]}
    categories = [c["id"] for c in data["categories"]]
    known = set(categories)
    for i, ann in enumerate(data["annotations"]):
        img = images.get(ann["image_id"])
        if img is None:
            raise DataError(name, f"image_id {ann['image_id']!r} is not among the images", record=f"annotations[{i}]",
                            field="image_id")
        if ann["category_id"] not in known:  # COCOeval evaluates the listed categories only: dropped silently
            raise DataError(name, f"category_id {ann['category_id']!r} is not among the categories "
                            f"({_ids_text(categories)}): COCOeval would leave the annotation out",
                            record=ann_record(ann, i), field="category_id")
        size = image_size(img)
        if size is not None and box_outside_image(ann["bbox"], size):
            raise DataError(name, f"box {ann['bbox']} lies outside the {size[0]:g}x{size[1]:g} image",
                            record=f"annotations[{i}]", field="bbox")


def _ids_text(ids: list) -> str:
    """``ids 1, 2, 3`` for a message: the first five, then how many more."""
    if not ids:
        return "the file lists none"
    more = f" and {len(ids) - 5} more" if len(ids) > 5 else ""
    return "ids " + ", ".join(printable(repr(v)) for v in ids[:5]) + more


def _finite(v: Any) -> bool:
    try:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    except OverflowError:
        return False


def _is_id(v: Any) -> bool:
    """An id that COCO tools can use as a key: an int (not a bool) or a string."""
    return isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool))


def gt_num_keypoints(data: dict, name: str) -> int:
    """Number of keypoints ``K`` of a COCO-style ground truth (all annotations must agree).

    No annotation at all is an error: COCOeval would report every AP and AR as -1 ("no ground truth in this
    range"), which says nothing about the results; an empty file is a wrong file or a wrong split."""
    if not data["annotations"]:
        raise DataError(name, "no annotations: there is no ground truth to score against", field="annotations")
    ks = {len(a["keypoints"]) // 3 for a in data["annotations"]}
    if len(ks) != 1:
        raise DataError(name, f"annotations have different numbers of keypoints {sorted(ks)}", field="keypoints")
    return ks.pop()


def load_results(results: ResultsLike, require_score: bool = True) -> tuple[list[dict], str]:
    """COCO results as a list of dicts ``{image_id, category_id, keypoints: [x, y, s] * K, score}`` and its name.

    Every record is checked; a bad record raises :class:`DataError` naming the file, record and field.
    """
    if isinstance(results, (str, os.PathLike)):
        data, name = load_json(results), str(results)
    else:
        data, name = results, "<results list>"
    if not isinstance(data, list):
        raise DataError(name, "expected a JSON list of {image_id, category_id, keypoints, score} records")
    fields = ("image_id", "category_id", "keypoints") + (("score",) if require_score else ())
    for i, r in enumerate(data):
        if not isinstance(r, dict):
            raise DataError(name, "expected an object", record=i)
        for f in fields:
            if f not in r:
                raise DataError(name, "missing", record=i, field=f)
        for f in ("image_id", "category_id", "ann_id"):
            if f in r and not _is_id(r[f]):
                raise DataError(name, f"expected an integer id, got {r[f]!r}", record=i, field=f)
        kp = r["keypoints"]
        if not isinstance(kp, list) or len(kp) % 3 or non_number_message(kp) is not None:
            raise DataError(name, "expected a flat list of numbers [x, y, s] * K", record=i, field="keypoints")
        bad = next((j for j, x in enumerate(kp) if not _finite(x)), None)
        if bad is not None:
            what = ("x", "y", "score")[bad % 3]
            raise DataError(name, f"non-finite {what} of keypoint {bad // 3} ({kp[bad]!r}): a prediction must be "
                            "finite numbers", record=i, field="keypoints")
        if require_score and not _finite(r["score"]):
            raise DataError(name, f"expected a finite number, got {r['score']!r}", record=i, field="score")
    return data, name


def check_results_match_gt(results: list[dict], res_name: str, gt: dict, gt_name: str, k: int) -> None:
    """Every result must name an image and a category of the ground truth and carry ``K`` keypoints."""
    image_ids = {img["id"] for img in gt["images"]}
    cat_ids = {c["id"] for c in gt["categories"]}
    for i, r in enumerate(results):
        if r["image_id"] not in image_ids:
            raise DataError(res_name, f"image_id {r['image_id']!r} is not in {gt_name}", record=i, field="image_id")
        if r["category_id"] not in cat_ids:
            raise DataError(res_name, f"category_id {r['category_id']!r} is not in {gt_name}", record=i,
                            field="category_id")
        if len(r["keypoints"]) != 3 * k:
            raise DataError(res_name, f"has {len(r['keypoints']) // 3} keypoints, ground truth has {k}",
                            record=i, field="keypoints")


def predictions_to_coco_results(
    image_ids: Sequence[int] | Any,
    keypoints: Any,
    scores: Any | None = None,
    instance_scores: Any | None = None,
    category_id: int = 1,
    ann_ids: Sequence[int] | Any | None = None,
) -> list[dict]:
    """Predictions to the COCO keypoint results format.

    Args:
        image_ids: ``(M,)`` image id of each predicted instance.
        keypoints: ``(M, K, 2)`` predicted ``(x, y)`` in original-image pixels.
        scores: ``(M, K)`` keypoint confidences, or ``None`` (then every keypoint gets 1.0).
        instance_scores: ``(M,)`` instance scores; when ``None`` the instance score is the mean keypoint score.
        category_id: category written into every record.
        ann_ids: optional ``(M,)`` ground-truth annotation ids, written as ``ann_id`` (used by the PCKh/NME
            matching of :mod:`adaanchor.metrics.score`; COCOeval ignores it).

    Returns:
        ``M`` dicts ``{image_id, category_id, keypoints: [x, y, s] * K, score}`` (plain Python numbers).

    Raises:
        ValueError: a non-finite coordinate or score (pycocotools would match a NaN prediction to every
            ground truth: ``nan < threshold`` is False).
    """
    if len(image_ids) == 0:
        return []
    kp = to_numpy(keypoints).reshape(len(image_ids), -1, 2)
    s = np.ones(kp.shape[:2]) if scores is None else to_numpy(scores).reshape(kp.shape[:2])
    inst = s.mean(axis=1) if instance_scores is None else to_numpy(instance_scores).reshape(-1)
    bad = ~(np.isfinite(kp).all(axis=(1, 2)) & np.isfinite(s).all(axis=1) & np.isfinite(inst))
    if bad.any():  # the evaluation leaves such instances out (counted misses) before it gets here
        raise ValueError(f"non-finite prediction for instance {int(np.argmax(bad))} (image_id "
                         f"{image_ids[int(np.argmax(bad))]}): leave it out or count it as a miss")
    out = []
    for m, img in enumerate(image_ids):
        flat = np.concatenate([kp[m], s[m][:, None]], axis=1).reshape(-1)
        rec = {"image_id": int(img), "category_id": int(category_id),
               "keypoints": [float(x) for x in flat], "score": float(inst[m])}
        if ann_ids is not None:
            rec["ann_id"] = int(ann_ids[m])
        out.append(rec)
    return out


def write_results(results: list[dict], path: str | os.PathLike) -> None:
    """Write COCO results (see :func:`predictions_to_coco_results`) as JSON."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with Path(path).open("w", encoding="utf-8") as f:
        json.dump(results, f)
