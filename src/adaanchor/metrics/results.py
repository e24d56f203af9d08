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
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adaanchor.atomic import write_text_atomic
from adaanchor.data.jsonio import load_json
from adaanchor.data.readers import is_int_id
from adaanchor.data.readers.checks import non_number_message
from adaanchor.errors import AdaAnchorError, DataError, write_failure
from adaanchor.metrics.checked import CheckedGt, CheckedResults
from adaanchor.metrics.gt_checks import (  # noqa: F401 - gt_num_keypoints and ann_record re-exported
    all_finite,
    ann_record,
    check_gt_annotation,
    check_gt_ids,
    check_gt_image,
    gt_num_keypoints,
    is_finite_number,
    is_id,
)
from adaanchor.metrics.gt_subsets import gt_from_instances, gt_of_images, gt_of_kept  # noqa: F401 - re-exported
from adaanchor.metrics.keypoint import as_float_array, describe

GtLike = str | os.PathLike | dict | Any  # a path, a COCO-style dict, or a COCO object (``.dataset``)
ResultsLike = str | os.PathLike | list


def load_coco_gt(gt: GtLike, name: str | None = None) -> tuple[dict, str]:
    """Ground truth as a COCO-style dict (with ``images``, ``annotations``, ``categories``) and its name (``name``
    for a dict read from a file, which the messages then name). A :class:`~.checked.CheckedGt` is returned as it is
    (read and checked already)."""
    if isinstance(gt, CheckedGt):
        return gt.data, gt.name
    if isinstance(gt, (str, os.PathLike)):
        data, name = load_json(gt), str(gt)
    elif isinstance(gt, dict):
        data, name = gt, name or "<ground-truth dict>"
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
            if not isinstance(rec, dict) or not is_id(rec.get("id")):
                raise DataError(name, "expected an object with an integer or string 'id'", record=f"{key}[{i}]",
                                field="id")
    for i, img in enumerate(data["images"]):
        check_gt_image(img, i, name)
    for i, ann in enumerate(data["annotations"]):
        check_gt_annotation(ann, i, name)
    check_gt_ids(data, name)
    return data, name


def load_results(results: ResultsLike, require_score: bool = True) -> tuple[list[dict], str]:
    """COCO results as a list of dicts ``{image_id, category_id, keypoints: [x, y, s] * K, score}`` and its name.

    Every record is checked; a bad record raises :class:`DataError` naming the file, record and field.
    ``require_score=False``: a record may leave ``score`` out (the metrics that do not read it). A
    :class:`~.checked.CheckedResults` checked as asked is returned as it is.
    """
    if isinstance(results, CheckedResults):
        if results.with_score or not require_score:
            return results.data, results.name
        data, name = results.data, results.name
    elif isinstance(results, (str, os.PathLike)):
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
            if f in r and not is_id(r[f]):
                raise DataError(name, f"expected an integer id, got {r[f]!r}", record=i, field=f)
        kp = r["keypoints"]
        if not isinstance(kp, list) or len(kp) % 3 or non_number_message(kp) is not None:
            raise DataError(name, "expected a flat list of numbers [x, y, s] * K", record=i, field="keypoints")
        bad = None if all_finite(kp) else next((j for j, x in enumerate(kp) if not is_finite_number(x)), None)
        if bad is not None:
            what = ("x", "y", "score")[bad % 3]
            raise DataError(name, f"non-finite {what} of keypoint {bad // 3} ({kp[bad]!r}): a prediction must be "
                            "finite numbers", record=i, field="keypoints")
        # Where the score is not needed (PCKh, NME, recall) it may be left out, but one given must be a number.
        if (require_score or "score" in r) and not is_finite_number(r["score"]):
            s = r["score"]
            # a finite numpy scalar was "expected a finite number, got np.float32(0.5)": its type is the matter
            why = (f"a {type(s).__name__}, not a Python number (convert it with float())"
                   if isinstance(s, np.generic) and np.isfinite(s) else f"expected a finite number, got {s!r}")
            raise DataError(name, why, record=i, field="score")
    _check_boxes(data, name)
    return data, name


def _check_boxes(data: list[dict], name: str) -> None:
    """pycocotools' ``loadRes`` reads the results as boxes when the *first* record has a non-empty ``bbox``: then
    every record needs one (a record without was a ``KeyError: 'bbox'`` inside pycocotools), four finite numbers,
    from which the detection's area (its APM / APL range) is taken."""
    if not data or not data[0].get("bbox"):
        return
    for i, r in enumerate(data):
        box = r.get("bbox")
        if box is None:
            raise DataError(name, "missing, while record 0 has one: pycocotools reads every record's box when the "
                            "first has one (it sets the detection's area): give every record a bbox, or none",
                            record=i, field="bbox")
        if not isinstance(box, list) or len(box) != 4 or non_number_message(box) is not None or not all_finite(box):
            raise DataError(name, f"expected [x, y, w, h], four finite numbers, got {box!r}", record=i, field="bbox")


def _file_name(path: str) -> str:
    """The last component of a path written with ``/`` or ``\\``."""
    return re.split(r"[\\/]", path)[-1]


def gt_ids_by_file_name(gt: dict) -> dict[str, Any]:
    """The image id of each file name (the last path component) that exactly one image of ``gt`` has."""
    names = [_file_name(img["file_name"]) if isinstance(img.get("file_name"), str) else None for img in gt["images"]]
    counts = Counter(names)
    return {n: img["id"] for n, img in zip(names, gt["images"]) if n is not None and counts[n] == 1}


def check_result_file(r: dict, i: int, res_name: str, ids_by_name: Mapping[str, Any], gt_name: str) -> None:
    """A result whose ``file_name`` (as ``adaanchor predict`` writes it) is the file of another ground-truth image
    than its ``image_id`` is refused: its keypoints would be scored against the other image's people (ids taken
    from 0-based file stems or from the input order, while the ground truth numbers its images from 1)."""
    fn = r.get("file_name")
    own = ids_by_name.get(_file_name(fn)) if isinstance(fn, str) and "frame" not in r else None
    if own is not None and own != r["image_id"]:
        # predict --gt reads COCO JSON: for a landmark CSV the way that works is eval on the CSV itself
        fix = (f"adaanchor predict --gt {gt_name} gives each image its id" if str(gt_name).lower().endswith(".json")
               else f"adaanchor eval RUN data.csv={gt_name} scores a run on this file directly")
        raise DataError(res_name, f"file_name {fn!r} is image_id {own!r} in {gt_name}, but this result names image_id "
                        f"{r['image_id']!r}: it would be scored against another image's people ({fix})",
                        record=i, field="image_id")


def check_results_match_gt(results: list[dict], res_name: str, gt: dict, gt_name: str, k: int) -> None:
    """Every result must name an image and a category of the ground truth and carry ``K`` keypoints; a result with
    a ``file_name`` of a ground-truth image must name that image's id (:func:`check_result_file`)."""
    image_ids = {img["id"] for img in gt["images"]}
    cat_ids = {c["id"] for c in gt["categories"]}
    ids_by_name = gt_ids_by_file_name(gt)
    for i, r in enumerate(results):
        if r["image_id"] not in image_ids:
            raise DataError(res_name, f"image_id {r['image_id']!r} is not in {gt_name}", record=i, field="image_id")
        check_result_file(r, i, res_name, ids_by_name, gt_name)
        if r["category_id"] not in cat_ids:
            raise DataError(res_name, f"category_id {r['category_id']!r} is not in {gt_name}", record=i,
                            field="category_id")
        if len(r["keypoints"]) != 3 * k:
            raise DataError(res_name, f"has {len(r['keypoints']) // 3} keypoints, ground truth has {k}",
                            record=i, field="keypoints")


def _int_ids(ids: Any, name: str, m: int) -> list[int]:
    """``m`` integer ids as Python ints, or ValueError / TypeError naming ``name``: ``int(1.7)`` would write
    image 1, and a list of another length would be cut or fail with an IndexError."""
    if hasattr(ids, "detach"):
        ids = ids.detach().cpu().numpy()
    if isinstance(ids, (str, bytes, Mapping)) or not isinstance(ids, Iterable):
        raise TypeError(f"{name}: expected a sequence of {m} integer ids, got {describe(ids)}")
    out = list(ids)
    if len(out) != m:
        raise ValueError(f"{name}: {len(out)} ids for {m} predicted instances (keypoints is ({m}, K, 2))")
    for i, v in enumerate(out):
        v = v.item() if isinstance(v, np.generic) else v
        if isinstance(v, float) and v.is_integer():  # an id array read as floats: 3.0 is the id 3
            v = int(v)
        if not is_int_id(v):
            raise ValueError(f"{name}[{i}]: expected an integer id, got {describe(out[i])}")
        out[i] = int(v)
    return out


def _prediction_arrays(keypoints: Any, scores: Any, instance_scores: Any) -> tuple[np.ndarray, ...]:
    """``keypoints (M, K, 2)``, ``scores (M, K)`` (ones when None) and ``instance_scores (M,)`` (the mean keypoint
    score when None), each checked for its shape (a reshape would turn (M, K, 3) into (M, 3K/2, 2))."""
    kp = as_float_array(keypoints, "keypoints")
    if kp.ndim != 3 or kp.shape[-1] != 2:
        raise ValueError(f"keypoints must be (M, K, 2) (x, y), got {kp.shape}")
    s = np.ones(kp.shape[:2]) if scores is None else as_float_array(scores, "scores")
    if s.shape != kp.shape[:2]:
        raise ValueError(f"scores must be (M, K) = {kp.shape[:2]} like keypoints, got {s.shape}")
    inst = s.mean(axis=1) if instance_scores is None else as_float_array(instance_scores, "instance_scores")
    if inst.shape != kp.shape[:1]:
        raise ValueError(f"instance_scores must be (M,) = ({kp.shape[0]},), one per instance, got {inst.shape}")
    return kp, s, inst


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
        image_ids: ``(M,)`` integer image id of each predicted instance.
        keypoints: ``(M, K, 2)`` predicted ``(x, y)`` in original-image pixels.
        scores: ``(M, K)`` keypoint confidences, or ``None`` (then every keypoint gets 1.0).
        instance_scores: ``(M,)`` instance scores; when ``None`` the instance score is the mean keypoint score.
        category_id: category written into every record (an integer).
        ann_ids: optional ``(M,)`` ground-truth annotation ids, written as ``ann_id`` (used by the PCKh/NME
            matching of :mod:`adaanchor.metrics.score`; COCOeval ignores it).

    Returns:
        ``M`` dicts ``{image_id, category_id, keypoints: [x, y, s] * K, score}`` (plain Python numbers).

    Raises:
        ValueError: a non-finite coordinate or score (pycocotools would match a NaN prediction to every
            ground truth: ``nan < threshold`` is False), or arrays whose shapes or lengths disagree.
    """
    if isinstance(category_id, np.integer):  # accepted in image_ids: "expected an integer id, got 1"
        category_id = int(category_id)
    if not is_id(category_id) or isinstance(category_id, str):
        raise TypeError(f"category_id: expected an integer id, got {describe(category_id)}")
    kp = as_float_array(keypoints, "keypoints")
    if kp.shape[:1] == (0,):  # nothing predicted ([] or (0, K, 2)): then no image ids either
        _int_ids(image_ids, "image_ids", 0)
        return []
    kp, s, inst = _prediction_arrays(kp, scores, instance_scores)
    ids = _int_ids(image_ids, "image_ids", len(kp))
    anns = None if ann_ids is None else _int_ids(ann_ids, "ann_ids", len(kp))
    bad = ~(np.isfinite(kp).all(axis=(1, 2)) & np.isfinite(s).all(axis=1) & np.isfinite(inst))
    if bad.any():  # the evaluation leaves such instances out (counted misses) before it gets here
        raise ValueError(f"non-finite prediction for instance {int(np.argmax(bad))} (image_id "
                         f"{ids[int(np.argmax(bad))]}): leave it out or count it as a miss")
    out = []
    for m, img in enumerate(ids):
        flat = np.concatenate([kp[m], s[m][:, None]], axis=1).reshape(-1)
        rec = {"image_id": img, "category_id": int(category_id), "keypoints": [float(x) for x in flat],
               "score": float(inst[m])}
        if anns is not None:
            rec["ann_id"] = anns[m]
        out.append(rec)
    return out


def write_results(results: list[dict], path: str | os.PathLike) -> None:
    """Write COCO results (see :func:`predictions_to_coco_results`) as JSON.

    The records are checked as :func:`load_results` checks them (fields, finite numbers) before anything is
    written: a NaN would be written as ``NaN``, which ``adaanchor score`` then refuses. Raises
    :class:`DataError` naming ``path`` (and the record) for such results, or a folder in the way.
    """
    if not isinstance(results, list):  # load_results would read a path given here as a file of results
        raise DataError(path, f"not written: expected a list of result records, got {describe(results)}")
    try:
        load_results(results)
    except DataError as e:
        raise DataError(path, f"not written: {e.reason}", record=e.record, field=e.field) from None
    try:
        text = json.dumps(results, allow_nan=False)  # a NaN outside the checked fields (an extra key)
    except (TypeError, ValueError) as e:
        raise DataError(path, f"not written: the results are not plain JSON ({e})") from None
    p = Path(path)
    if p.is_dir():
        raise DataError(path, "cannot write the predictions (it is a folder: give a file name)")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(p, text)
    except OSError as e:
        raise DataError(path, f"cannot write the predictions ({write_failure(e)})") from None


__all__ = ["load_coco_gt", "load_results", "gt_ids_by_file_name", "check_result_file", "check_results_match_gt",
           "predictions_to_coco_results", "write_results"]
