"""Keypoint recall of multiple keypoint localization (the paper's appendix A.2).

Per image and keypoint type: the predicted keypoints are sorted by confidence (descending); each in turn is
matched to the *closest* (pixel distance) ground-truth keypoint of that type that is not matched yet, and
the pair counts as a match only if it is close enough (below); recall = matched / labelled ground truth,
summed over all images and types.

Predictions are the keypoints of the results records (COCO results format) with a positive score: a
missing keypoint of a grouped pose has score 0. The ground truth is every labelled keypoint (``v > 0``,
hidden ones included: they are what the paper's recall is about) of the non-crowd annotations.

Cut-off: the per-keypoint OKS term ``exp(-d^2 / (2 area kappa_k^2)) >= 0.5`` with ``kappa_k = 2 sigma_k``
(COCO's sigmas and the annotation's ``area``), i.e. ``d <= kappa_k sqrt(2 area ln 2)``. The paper does not
state one, and without one every prediction "matches" something, so recall would only count predictions.
0.5 is the loosest OKS threshold of COCO AP (AP50): a keypoint beyond it can help no AP threshold, and the
cut-off scales with the person and the keypoint type exactly as AP does.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from ..errors import AdaAnchorError
from .coco import (
    COCO_SIGMAS,
    GtLike,
    ResultsLike,
    check_results_match_gt,
    gt_num_keypoints,
    load_coco_gt,
    load_results,
    oks_sigmas,
)
from .gt_checks import check_gt_areas_given
from .keypoint import point_distance

OKS_CUTOFF = 0.5


def match_keypoints(pred_xy: np.ndarray, pred_score: np.ndarray, gt_xy: np.ndarray, max_dist: np.ndarray) -> int:
    """Greedy matching of one image and type (appendix A.2); returns the number of matched ground truths.

    Args:
        pred_xy: ``(P, 2)``; pred_score: ``(P,)``; gt_xy: ``(G, 2)``; max_dist: ``(G,)`` each ground truth's cut-off.
    """
    # All distances at once (each the same subtraction and norm as one prediction's row), a taken ground truth's
    # column set to infinity: the per-prediction norms and masks were most of the recall's time.
    dist = point_distance(gt_xy[None, :, :], pred_xy[:, None, :])  # (P, G)
    free = np.ones(len(gt_xy), bool)
    left = len(gt_xy)
    matched = 0
    for p in np.argsort(-pred_score, kind="stable"):
        if left == 0:
            break
        g = int(np.argmin(dist[p]))
        if dist[p, g] <= max_dist[g]:
            left -= int(free[g])  # an infinite cut-off matches a taken one again, as it did
            free[g] = False
            dist[:, g] = np.inf
            matched += 1
    return matched


def keypoint_recall(gt: GtLike, results: ResultsLike, sigmas: Any | None = None,
                    oks_cutoff: float = OKS_CUTOFF) -> dict[str, float]:
    """Recall of the keypoints of ``results`` against ``gt`` (see the module docstring).

    Args:
        gt: COCO-style ground truth (path, dict or COCO object); results: COCO results (list or path).
        sigmas: ``(K,)`` OKS sigmas (default COCO-17).
        oks_cutoff: the per-keypoint OKS a match needs.
    Returns:
        ``recall`` (matched / labelled; 0 without ground truth), ``matched``, ``labelled``.
    """
    cut = oks_cutoff.item() if np.ndim(oks_cutoff) == 0 and hasattr(oks_cutoff, "item") else oks_cutoff  # 0-d arrays
    if isinstance(cut, bool) or not isinstance(cut, (int, float)) or not 0 < float(cut) <= 1:
        # -1, 2 and NaN gave recall 0 after a numpy warning, "0.5" a TypeError
        raise ValueError(f"oks_cutoff: expected a number in (0, 1], got {oks_cutoff!r}")
    oks_cutoff = float(cut)
    data, name = load_coco_gt(gt)
    dets, res_name = load_results(results, require_score=False)
    k = gt_num_keypoints(data, name) if data["annotations"] else len(COCO_SIGMAS)
    kappa = 2.0 * oks_sigmas(sigmas, COCO_SIGMAS)
    if data["annotations"] and len(kappa) != k:  # K is the ground truth's (COCO-17 without annotations)
        raise AdaAnchorError(f"{name}: {k} keypoints but {len(kappa)} OKS sigmas; pass the sigmas of this dataset (adaanchor score --spec SPEC.yaml: a spec with its sigmas)")
    if not data["annotations"]:  # nothing labelled: no recall to measure, whatever the results hold
        return {"recall": 0.0, "matched": 0, "labelled": 0}
    # As the AP checks them: a result of another keypoint count failed in a reshape, one of an image or category
    # the ground truth does not have was silently left out (or matched across categories).
    check_results_match_gt(dets, res_name, data, name, k)
    # The cut-off scales with the area as AP's OKS does; AP refuses a person without one, and so does recall (the
    # full box w * h was taken instead, a cut-off 1.37 times looser than the usual 0.53 * w * h stand-in).
    check_gt_areas_given(data, name)
    gts: dict[Any, list[tuple[np.ndarray, float]]] = defaultdict(list)
    for ann in data["annotations"]:
        if not ann.get("iscrowd", 0):
            area = float(ann["area"])
            gts[ann["image_id"]].append((np.asarray(ann["keypoints"], np.float64).reshape(k, 3), area))
    preds: dict[Any, list[np.ndarray]] = defaultdict(list)
    for r in dets:
        preds[r["image_id"]].append(np.asarray(r["keypoints"], np.float64).reshape(k, 3))
    scale = np.sqrt(-2.0 * np.log(oks_cutoff))  # exp(-x^2 / 2) >= c  <=>  x <= sqrt(-2 ln c)
    matched = labelled = 0
    for img, anns in gts.items():
        g = np.stack([a[0] for a in anns])  # (N, K, 3)
        area = np.array([a[1] for a in anns])
        p = np.stack(preds[img]) if preds[img] else np.zeros((0, k, 3))
        for t in range(k):
            lab = g[:, t, 2] > 0
            labelled += int(lab.sum())
            use = p[:, t, 2] > 0
            if lab.any() and use.any():
                cut = kappa[t] * np.sqrt(area[lab]) * scale
                matched += match_keypoints(p[use, t, :2], p[use, t, 2], g[lab, t, :2], cut)
    return {"recall": matched / labelled if labelled else 0.0, "matched": int(matched), "labelled": int(labelled)}


__all__ = ["OKS_CUTOFF", "keypoint_recall", "match_keypoints"]
