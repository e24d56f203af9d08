"""PCKh and NME of ``adaanchor score``: one prediction matched to each ground-truth instance (by ``ann_id`` or
``image_id``), then the metric with each instance's head size or normalising distance."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.spec import KeypointSpec
from ..errors import AdaAnchorError, DataError
from .nme import nme_metrics, norm_pair, normaliser, unlabelled_normaliser
from .pckh import pckh
from .results import check_result_file, gt_ids_by_file_name


def match_results(instances: Sequence[Any], results: list[dict], res_name: str, k: int) -> tuple[np.ndarray, int]:
    """Predictions ``(M, K, 2)`` in the order of ``instances`` and the number of unmatched results.

    Raises:
        DataError: a result with the wrong number of keypoints, a duplicate, a missing ``ann_id``, an ``ann_id``
            whose instance is on another image than the result's ``image_id``, or a ground-truth instance without
            a prediction (naming the file, the record and the field).
    """
    for i, r in enumerate(results):
        if len(r["keypoints"]) != 3 * k:
            raise DataError(res_name, f"has {len(r['keypoints']) // 3} keypoints, ground truth has {k}", record=i,
                            field="keypoints")
        if not np.all(np.isfinite(np.asarray(r["keypoints"], dtype=np.float64))):
            raise DataError(res_name, "non-finite keypoint value", record=i, field="keypoints")
    by_ann = bool(results) and any("ann_id" in r for r in results)
    table: dict[Any, int] = {}
    if by_ann:
        key_of = "ann_id"
        for i, r in enumerate(results):
            if "ann_id" not in r:
                raise DataError(res_name, "missing (other records carry ann_id, so all must)", record=i, field="ann_id")
            if r["ann_id"] in table:
                raise DataError(res_name, f"second prediction for ann_id {r['ann_id']!r}", record=i, field="ann_id")
            table[r["ann_id"]] = i
        keys = [inst.ann_id for inst in instances]
    else:
        key_of = "image_id"
        per_image = Counter(inst.image_id for inst in instances)
        multi = [img for img, n in per_image.items() if n > 1]
        if multi:
            raise DataError(res_name, f"image {multi[0]} has {per_image[multi[0]]} ground-truth instances: results "
                            "must carry 'ann_id' to say which one they predict", field="ann_id")
        by_name = gt_ids_by_file_name({"images": [{"id": inst.image_id, "file_name": str(inst.image_path)}
                                                  for inst in instances]})
        for i, r in enumerate(results):
            check_result_file(r, i, res_name, by_name, "the ground truth")
            if r["image_id"] in table:
                raise DataError(res_name, f"second prediction for image_id {r['image_id']!r} (one instance per "
                                "image; add 'ann_id')", record=i, field="image_id")
            table[r["image_id"]] = i
        keys = [inst.image_id for inst in instances]
    pred = np.zeros((len(instances), k, 2))
    used = set()
    for m, key in enumerate(keys):
        if key not in table:
            near = next((i for k2, i in table.items() if str(k2) == str(key)), None)  # "0" for 0: JSON's types differ
            raise DataError(res_name, f"no prediction for the ground-truth instance with {key_of} {key!r}" + (
                _subset_hint(keys, table) if near is None else f" (this record names {results[near][key_of]!r}, "
                f"{_kind(results[near][key_of])} where the ground truth has {_kind(key)})"),
                record=near, field=key_of)
        idx = table[key]
        if key_of == "ann_id" and results[idx]["image_id"] != instances[m].image_id:
            # ann_id is a record index in most formats: the results of another file or split match any of them
            raise DataError(res_name, f"ann_id {key!r} is a person of image_id {instances[m].image_id!r} in the "
                            f"ground truth, but this result names image_id {results[idx]['image_id']!r} (results of "
                            "another file or split?)", record=idx, field="image_id")
        used.add(idx)
        pred[m] = np.asarray(results[idx]["keypoints"], dtype=np.float64).reshape(k, 3)[:, :2]
    return pred, len(results) - len(used)


def _kind(v: Any) -> str:
    return "a string" if isinstance(v, str) else "a number"


def stack_instances(instances: Sequence[Any], k: int) -> tuple[np.ndarray, np.ndarray]:
    gt = np.stack([i.keypoints for i in instances]) if instances else np.zeros((0, k, 2))
    vis = np.stack([i.visibility for i in instances]) if instances else np.zeros((0, k), dtype=np.int64)
    return gt, vis


def pckh_scores(gt: Path, insts: list, pred: np.ndarray, g: np.ndarray, v: np.ndarray, sp: KeypointSpec,
                thresholds: Sequence[float]) -> dict[str, Any]:
    """PCKh with each instance's head size (an instance with labelled joints but no head size is an error)."""
    hs = []
    for inst in insts:
        h = inst.extra.get("head_size")
        if h is None and (inst.visibility > 0).any():
            raise DataError(gt, "no head size: the record has no head box and no labelled head_top / upper_neck; "
                            "pass headboxes=mpii_gt_val.mat", record=f"ann_id={inst.ann_id}", field="head_size")
        hs.append(h if h is not None else 1.0)
    out = pckh(pred, g, v, np.asarray(hs, dtype=np.float64), thresholds=thresholds, joint_names=sp.keypoints)
    out["head_size_source"] = dict(Counter(str(i.extra.get("head_size_source")) for i in insts))
    return out


def nme_scores(gt: Path, insts: list, pred: np.ndarray, g: np.ndarray, v: np.ndarray, sp: KeypointSpec,
               norm: str | Sequence[Any]) -> dict[str, Any]:
    """NME with the spec's (or the given) normaliser; a zero normalising distance is an error."""
    if isinstance(norm, str) and norm not in sp.nme:
        raise AdaAnchorError(f"spec '{sp.name}' defines no NME normaliser '{norm}' (has {sorted(sp.nme)})")
    try:  # a pair given in Python may not fit the spec's keypoints (a spec's own pairs are checked when it loads)
        pair = norm_pair(sp.nme[norm] if isinstance(norm, str) else norm, sp.num_keypoints)
    except ValueError as e:
        raise AdaAnchorError(f"{e} (spec '{sp.name}' has {sp.num_keypoints} keypoints)") from None
    bad = unlabelled_normaliser(v, pair)
    if bad is not None:
        raise DataError(gt, f"keypoint {bad[1]} of the '{norm}' normaliser is not labelled (v = 0): the face has no "
                        "normalising distance", record=f"ann_id={insts[bad[0]].ann_id}", field="keypoints")
    d = normaliser(g, pair)
    for inst, dist in zip(insts, d):
        if not dist > 0:
            raise DataError(gt, f"the '{norm}' normalising distance is {dist:g} (coincident points)",
                            record=f"ann_id={inst.ann_id}", field="keypoints")
    attrs = [i.extra.get("attributes") for i in insts]
    return nme_metrics(pred, g, v, spec=sp, norm=norm, attributes=attrs if any(attrs) else None)


def _subset_hint(keys: list[Any], table: dict[Any, int]) -> str:
    """Why a ground-truth instance may have no prediction when the results cover only some of them: ``eval
    --predictions`` of a file split into train and val (or under ``eval.max_images``) predicts the val instances."""
    covered = sum(key in table for key in keys)
    if not covered:
        return ""
    return (f" (the results cover {covered} of the file's {len(keys)} instances: results of one split, such as eval "
            "--predictions of a file split into train and val, or of eval.max_images, need a ground-truth file of those "
            "instances alone; every instance of the file given is scored)")
