"""Official OKS-based AP: COCO (pycocotools) and CrowdPose (xtcocotools ``keypoints_crowd``).

The validated readers of ground truth and results, and the results writer, are in
:mod:`adaanchor.metrics.results` (re-exported here).
The numbers themselves come from the maintained tools; this module only prepares inputs, checks them
(raising :class:`~adaanchor.errors.DataError` naming the file, record and field) and names the outputs.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import numpy as np

from adaanchor.data.jsonio import load_json
from adaanchor.data.spec import SIGMA_RANGE
from adaanchor.errors import AdaAnchorError, DataError
from adaanchor.metrics.checked import CheckedGt, own_results
from adaanchor.metrics.gt_checks import (
    check_crowd_index,
    check_gt_areas_given,
    check_gt_boxes_as_scale,
    check_num_keypoints,
)
from adaanchor.metrics.keypoint import check_flag, describe, to_numpy
from adaanchor.metrics.results import (
    GtLike,
    ResultsLike,
    check_results_match_gt,
    gt_num_keypoints,
    load_coco_gt,
    load_results,
    predictions_to_coco_results,
    write_results,
)

__all__ = ["load_json", "load_coco_gt", "load_results", "coco_keypoint_ap", "crowdpose_ap", "predictions_to_coco_results",
           "write_results", "check_results_match_gt", "gt_num_keypoints", "oks_sigmas", "GtLike", "ResultsLike",
           "SIGMA_RANGE"]

#: COCO-17 OKS sigmas (the pycocotools default).
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
#: CrowdPose-14 OKS sigmas (head and neck take .79).
CROWDPOSE_SIGMAS = np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89, .79, .79]) / 10.0
COCO_STATS = ("AP", "AP50", "AP75", "APM", "APL", "AR", "AR50", "AR75", "ARM", "ARL")
CROWDPOSE_STATS = ("AP", "AP50", "AP75", "AR", "AR50", "AR75", "AP_easy", "AP_medium", "AP_hard")
#: crowdIndex bounds used by xtcocotools' CrowdPose summary: easy < 0.2 <= medium < 0.8 <= hard.
CROWD_INDEX_SPLIT = (0.2, 0.8)


def oks_sigmas(sigmas: Any | None, default: np.ndarray) -> np.ndarray:
    """``(K,)`` OKS sigmas as float64 (``default`` for None), each a finite number in :data:`SIGMA_RANGE`
    (defined in :mod:`adaanchor.data.spec`, which checks a spec's sigmas against it when it loads the spec);
    AdaAnchorError naming ``sigmas`` otherwise (the count is checked by the caller against the ground truth)."""
    if sigmas is None:
        return default
    raw = np.asarray(sigmas, dtype=object).reshape(-1) if not isinstance(sigmas, np.ndarray) else sigmas.reshape(-1)
    # True read as 1.0 and "0.05" as 0.05: numbers only, as the docs say.
    if any(isinstance(v, (bool, np.bool_, str, bytes)) for v in raw) or raw.dtype.kind in "bUS":
        raise AdaAnchorError(f"sigmas: expected K numbers (OKS sigmas), got {describe(sigmas)}")
    try:
        sig = to_numpy(sigmas).reshape(-1)
    except (TypeError, ValueError):
        raise AdaAnchorError(f"sigmas: expected K numbers (OKS sigmas), got {describe(sigmas)}") from None
    lo, hi = SIGMA_RANGE
    bad = np.flatnonzero(~((sig >= lo) & (sig <= hi)))  # NaN fails both comparisons
    if bad.size:
        raise AdaAnchorError(f"sigmas[{bad[0]}]: expected an OKS sigma in [{lo:g}, {hi:g}] (published sets: 0.007 to "
                             f"0.107), got {sig[bad[0]]:g}")
    return sig


#: The values ``copy.deepcopy`` returns as they are (it copies no int, float, str, bool or None).
_ATOMS = frozenset({int, float, str, bool, type(None)})


def json_copy(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """``copy.deepcopy(value)``, the same copy (shared objects stay shared; any other type than a plain dict or list
    goes to deepcopy), faster on JSON data: an atom in a list or dict is taken without a call (deepcopy's call per
    number of the ground truth and the results: 24 ms of the 195 of an AP on 3600 poses)."""
    memo = {} if memo is None else memo
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is not dict and kind is not list:
        return copy.deepcopy(value, memo)
    done = memo.get(id(value))
    if done is not None:
        return done
    if kind is list:
        out: Any = []
        memo[id(value)] = out
        out.extend(v if type(v) in _ATOMS else json_copy(v, memo) for v in value)
        return out
    out = {}
    memo[id(value)] = out
    for k, v in value.items():
        out[k if type(k) in _ATOMS else copy.deepcopy(k, memo)] = v if type(v) in _ATOMS else json_copy(v, memo)
    return out


def _numbered(data: dict) -> dict:
    """A deep copy of ground truth ``data`` whose annotations are numbered 1, 2, ... for the evaluation.

    COCOeval records a matched detection by the id of its ground truth and counts it as a true positive when
    that id is non-zero: a person of annotation id 0 (the first of a file numbered from 0, as the DeepLabCut and
    SLEAP readers number theirs) was a false positive however well it was found (AP 0.25 for a results file that
    is the ground truth of two people). The ids are internal to the evaluation: no number depends on them."""
    out = json_copy(data)
    for n, a in enumerate(out["annotations"], 1):
        a["id"] = n
    return out


def _count_keypoints(ann: dict) -> None:
    """``num_keypoints`` of an annotation that does not give it: its labelled keypoints. Custom COCO-format sets
    often leave it out, and COCOeval reads it (pycocotools for COCO AP, xtcocotools' ``keypoints_crowd`` for
    CrowdPose AP) with a ``KeyError`` where it is missing."""
    if "num_keypoints" not in ann:
        ann["num_keypoints"] = int(sum(1 for v in ann["keypoints"][2::3] if v > 0))


def _no_results(coco_cls: type, data: dict) -> Any:
    """An empty results set for COCOeval (``loadRes([])`` fails on its first record): scored as no detections, so
    each AP / AR with ground truth in its range is 0 and one without is -1, as with any results. A shortcut that
    returned 0 everywhere reported ``APM 0`` for a set without medium-sized people (-1 for every other results
    file) and ``AP_medium 0`` for a crowd level whose images have no one to find."""
    dt = coco_cls()
    dt.dataset = {"images": data["images"], "categories": data["categories"], "annotations": []}
    with contextlib.redirect_stdout(io.StringIO()):
        dt.createIndex()
    return dt


@contextlib.contextmanager
def _quiet(verbose: bool) -> Iterator[None]:
    """pycocotools' progress on stdout silenced unless ``verbose``, and numpy's overflow warning off: a keypoint far
    off the image (1e300) overflows OKS's squared distance to inf, whose similarity is exactly 0, as it should be."""
    with contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO()), np.errstate(over="ignore"):
        yield


def coco_keypoint_ap(
    gt: GtLike,
    results: ResultsLike,
    sigmas: Any | None = None,
    use_area: bool = True,
    verbose: bool = False,
) -> dict[str, float]:
    """COCO OKS keypoint AP with pycocotools ``COCOeval(iouType='keypoints')``.

    Args:
        gt: COCO-style ground truth: JSON path, dict, or a COCO object.
        results: COCO results list or JSON path.
        sigmas: ``(K,)`` OKS sigmas, each in :data:`SIGMA_RANGE`; ``None`` means the COCO-17 sigmas (then ``K``
            must be 17).
        use_area: OKS scale from each annotation's ``area``; ``False`` uses ``0.53 * w * h`` of its box
            instead (as xtcocotools' ``use_area=False``, for sets without segmentation areas).
        verbose: let pycocotools print its progress and summary.

    Returns:
        ``AP, AP50, AP75, APM, APL, AR, AR50, AR75, ARM, ARL`` as fractions (pycocotools' ``stats``).
        An empty results list scores as no detections: 0 for every AP / AR with ground truth in its range, -1
        (as for any results) for one without.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    check_flag(use_area, "use_area")
    check_flag(verbose, "verbose")
    sig = oks_sigmas(sigmas, COCO_SIGMAS)
    data, gt_name = load_coco_gt(gt)
    dets, res_name = load_results(results)
    k = gt_num_keypoints(data, gt_name)
    if len(sig) != k:
        raise AdaAnchorError(f"{gt_name}: {k} keypoints but {len(sig)} OKS sigmas; pass the sigmas of this dataset (adaanchor score --spec SPEC.yaml: a spec with its sigmas)")
    check_results_match_gt(dets, res_name, data, gt_name, k)
    check_num_keypoints(data, gt_name)
    # Before the renumbering: a message names the annotation by the id in the file, not its new number.
    if use_area:
        check_gt_areas_given(data, gt_name)
    else:
        check_gt_boxes_as_scale(data, gt_name)
    data = _numbered(data)  # a copy: pycocotools writes 'ignore' flags into the annotations
    for a in data["annotations"]:
        _count_keypoints(a)
        # Hand-made COCO files often leave 'iscrowd' out: COCO's default for a person is 0, and COCOeval
        # reads it unguarded (KeyError). load_coco_gt has checked any given value is 0 or 1.
        a.setdefault("iscrowd", 0)
        if not use_area:
            a["area"] = 0.53 * a["bbox"][2] * a["bbox"][3]
    with _quiet(verbose):
        coco_gt = COCO()
        coco_gt.dataset = data
        coco_gt.createIndex()
        # loadRes adds 'area', 'id' and 'bbox' to the records it gets: a caller's list is copied first.
        coco_dt = coco_gt.loadRes(dets if own_results(results) else json_copy(dets)) if dets else _no_results(COCO, data)
        ev = COCOeval(coco_gt, coco_dt, iouType="keypoints")
        ev.params.kpt_oks_sigmas = np.asarray(sig, dtype=np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return {name: float(v) for name, v in zip(COCO_STATS, ev.stats)}


def crowdpose_ap(gt: GtLike, results: ResultsLike, verbose: bool = False,
                 sigmas: Any | None = None) -> dict[str, float | None]:
    """CrowdPose AP with xtcocotools ``COCOeval(iouType='keypoints_crowd', use_area=False)``.

    Args:
        gt: CrowdPose-style ground truth (JSON path, dict or COCO object); images need ``crowdIndex``.
        results: COCO results list or JSON path (14 keypoints each, or as many as ``sigmas``).
        verbose: let xtcocotools print its progress and summary.
        sigmas: ``(K,)`` OKS sigmas for another keypoint set with ``crowdIndex`` (e.g. the crowd-faces
            benchmark); ``None`` means CrowdPose's 14.

    Returns:
        ``AP, AP50, AP75, AR, AR50, AR75, AP_easy, AP_medium, AP_hard`` as fractions. The easy / medium /
        hard split is by ``crowdIndex`` (< 0.2, < 0.8, rest); a split without images gives ``None``
        (xtcocotools 1.14 gives -1, which reads as a score). Empty results score as no detections (0, or -1
        for a split whose images have no one to find).
    """
    from xtcocotools.coco import COCO
    from xtcocotools.cocoeval import COCOeval

    check_flag(verbose, "verbose")
    sig = oks_sigmas(sigmas, CROWDPOSE_SIGMAS)
    data, gt_name = load_coco_gt(gt)
    dets, res_name = load_results(results)
    k = gt_num_keypoints(data, gt_name)
    if k != len(sig):
        raise DataError(gt_name, f"CrowdPose has 14 keypoints, found {k}" if sigmas is None
                        else f"{k} keypoints but {len(sig)} OKS sigmas", field="keypoints")
    check_crowd_index(data, gt_name)
    check_gt_boxes_as_scale(data, gt_name)  # use_area=False: the box is the OKS scale
    check_results_match_gt(dets, res_name, data, gt_name, k)
    check_num_keypoints(data, gt_name, visible_only=True)
    lo, hi = CROWD_INDEX_SPLIT
    ci = [img["crowdIndex"] for img in data["images"]]
    present = {"AP_easy": any(c < lo for c in ci), "AP_medium": any(lo <= c < hi for c in ci),
               "AP_hard": any(c >= hi for c in ci)}
    # xtcocotools re-reads the ground truth from its path for the crowdIndex split: give it a file.
    tmp = None
    if isinstance(gt, (str, os.PathLike)) or (isinstance(gt, CheckedGt) and gt.path is not None):
        path = str(gt.path if isinstance(gt, CheckedGt) else gt)
    else:
        fd, tmp = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
        path = tmp
    try:
        with _quiet(verbose):
            numbered = _numbered(data)
            for a in numbered["annotations"]:
                _count_keypoints(a)
            coco_gt = COCO(path, ann_data=numbered)
            if dets:
                coco_dt = coco_gt.loadRes(dets if own_results(results) else json_copy(dets))
            else:
                coco_dt = _no_results(COCO, data)
                coco_gt.anno_file.append(None)  # what loadRes adds: the crowdIndex split reads anno_file[0]
            ev = COCOeval(coco_gt, coco_dt, "keypoints_crowd", sigmas=sig, use_area=False)
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
    finally:
        if tmp is not None:
            os.unlink(tmp)
    return {name: (float(v) if present.get(name, True) else None) for name, v in zip(CROWDPOSE_STATS, ev.stats)}
