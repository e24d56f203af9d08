"""Single keypoint localization metrics: error and confidence split by visibility, score AUC, PCK.

These are the extra COCO numbers of the paper (appendix A.2, Tables 1-2): the localization error and the
mean confidence of visible (``v = 2``) and invisible (``v = 1``) keypoints, reported next to the official AP.
Unlabelled keypoints (``v = 0``) are ignored everywhere (see docs/conventions.md).

Error is the mean Euclidean distance between prediction and ground truth (the paper's "mean squared localization
error" read as a distance: its values are pixel distances), in the pixel units of the arrays given: the evaluation
passes input-crop pixels for the paper's table and original-image pixels for its ``*_orig`` numbers
(:func:`adaanchor.engine.evaluate.evaluate_predictions`). PCK and the "correct" label of the score AUC are
normalised by ``bbox_size = max(w, h)`` of the instance box, in the same units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .arguments import (  # noqa: F401 - re-exported: the other metrics and callers import them from here
    as_float_array,
    check_arrays,
    check_flag,
    check_outside,
    check_pred_gt,
    check_scales,
    check_thresholds,
    check_vis,
    describe,
    nonfinite_keypoints,
    point_distance,
    to_numpy,
)

#: Normalised distance under which a keypoint counts as correct for the score AUC.
AUC_CORRECT_THRESHOLD = 0.05


def _mean_or_none(values: np.ndarray) -> float | None:
    """Mean of a 1-D array as a float, ``None`` when it is empty."""
    return float(values.mean()) if values.size else None


def threshold_key(t: float) -> str:
    """Dictionary key of a threshold: ``0.05 -> "0.05"``, ``0.1 -> "0.1"``."""
    return f"{float(t):g}"


def single_keypoint_metrics(
    pred: Any,
    scores: Any | None,
    gt: Any,
    vis: Any,
    bbox_size: Any,
    pck_thresholds: Sequence[float] = (0.05, 0.1),
) -> dict[str, Any]:
    """Error, confidence, score AUC and PCK of single keypoint localization, split by visibility.

    Args:
        pred: ``(M, K, 2)`` predicted ``(x, y)``; numpy array or torch tensor.
        scores: ``(M, K)`` predicted confidences, or ``None`` for methods without one (regression).
        gt: ``(M, K, 2)`` ground-truth ``(x, y)`` in the same units as ``pred``.
        vis: ``(M, K)`` visibility in {0, 1, 2}; ``v = 0`` keypoints are ignored.
        bbox_size: ``(M,)`` ``max(w, h)`` of each instance box, same units as ``pred``.
        pck_thresholds: thresholds ``t``; a keypoint is correct when ``distance <= t * bbox_size``.

    Returns:
        ``vis_error`` / ``inv_error``: mean distance over ``v = 2`` / ``v = 1`` keypoints (None if none);
        ``vis_score`` / ``inv_score``: mean confidence over them (None if ``scores`` is None or none);
        ``score_auc``: ROC AUC of the confidences separating correct (``<= 0.05 * bbox_size``) from wrong
        labelled keypoints (None without scores or when only one class occurs);
        ``pck``: ``{"0.05": fraction, "0.1": fraction}`` over all labelled keypoints;
        ``pck_vis`` / ``pck_inv``: PCK at the first threshold over ``v = 2`` / ``v = 1`` keypoints;
        ``counts``: ``{"vis": #v=2, "inv": #v=1}``;
        ``nonfinite``: ``{"vis", "inv"}`` labelled keypoints whose prediction (or confidence) is not finite,
        and ``"instances"`` with at least one: misses, left out of the errors and mean confidences, wrong in
        PCK and the score AUC.
    """
    p, g, v, size = check_arrays(pred, gt, vis, bbox_size, "bbox_size")
    pck_thresholds = check_thresholds(pck_thresholds, "pck_thresholds")
    if not pck_thresholds:  # pck_vis / pck_inv were then computed at 0.05 while pck was empty (eval.pck needs one too)
        raise ValueError("pck_thresholds: expected at least one threshold, such as (0.05, 0.1)")
    s = None if scores is None else as_float_array(scores, "scores")
    if s is not None and s.shape != v.shape:
        raise ValueError(f"scores must be (M, K) like vis, got {s.shape}")

    labelled, visible, invisible = v > 0, v == 2, v == 1
    check_scales(size, labelled.any(axis=1), "bbox_size")
    bad, dist, norm_dist = _distances(p, s, g, labelled, size)
    ok = ~bad

    pck = {threshold_key(t): _mean_or_none((norm_dist[labelled] <= t).astype(np.float64)) for t in pck_thresholds}
    t0 = pck_thresholds[0]
    out: dict[str, Any] = {
        "vis_error": _mean_or_none(dist[visible & ok]),
        "inv_error": _mean_or_none(dist[invisible & ok]),
        "vis_score": None if s is None else _mean_or_none(s[visible & ok]),
        "inv_score": None if s is None else _mean_or_none(s[invisible & ok]),
        "score_auc": None,
        "pck": pck,
        "pck_vis": _mean_or_none((norm_dist[visible] <= t0).astype(np.float64)),
        "pck_inv": _mean_or_none((norm_dist[invisible] <= t0).astype(np.float64)),
        "counts": {"vis": int(visible.sum()), "inv": int(invisible.sum())},
        "nonfinite": {"vis": int((visible & bad).sum()), "inv": int((invisible & bad).sum()),
                      "instances": int((bad & labelled).any(axis=1).sum())},
    }
    if s is not None:
        out["score_auc"] = _score_auc(s[labelled], norm_dist[labelled])
    return out


def _distances(p: np.ndarray, s: np.ndarray | None, g: np.ndarray, labelled: np.ndarray,
               size: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(bad, dist, norm_dist)``, each ``(M, K)``: where the prediction ``p`` ``(M, K, 2)`` or its confidence ``s``
    ``(M, K)`` is not finite, the distance to ``g`` ``(M, K, 2)`` and that distance over the instance's ``size``
    ``(M,)`` (over 1 for an instance without a ``labelled`` ``(M, K)`` keypoint)."""
    # A non-finite prediction or confidence is a miss: infinitely far (wrong in PCK and in the score AUC),
    # left out of the mean errors and confidences, and counted in "nonfinite".
    bad = nonfinite_keypoints(p, s)
    dist = np.where(bad, np.inf, point_distance(np.where(bad[..., None], 0.0, p), g))  # (M, K)
    norm_dist = dist / np.where(labelled.any(axis=1), size, 1.0)[:, None]  # (M, K)
    return bad, dist, norm_dist


def _score_auc(conf: np.ndarray, norm_dist: np.ndarray) -> float | None:
    """ROC AUC of the confidences ``conf`` ``(N,)`` of labelled keypoints separating the correct ones (``norm_dist``
    ``(N,)`` at most :data:`AUC_CORRECT_THRESHOLD`) from the wrong; None when only one class occurs."""
    correct = norm_dist <= AUC_CORRECT_THRESHOLD
    finite = np.isfinite(conf)
    # A non-finite confidence ranks below every finite one (its keypoint is a miss anyway).
    low = (conf[finite].min() - 1.0) if finite.any() else 0.0
    conf = np.where(finite, conf, low)
    if 0 < correct.sum() < correct.size:
        from sklearn.metrics import roc_auc_score  # here: importing sklearn.metrics takes about 0.9 s

        return float(roc_auc_score(correct, conf))
    return None


def _miss_distances(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distance (M, K), finite (M, K))``; a non-finite prediction has no distance (a counted miss)."""
    ok = np.isfinite(pred).all(axis=-1)
    return point_distance(np.where(ok[..., None], pred, 0.0), gt), ok


def errors_by_visibility(pred: Any, gt: Any, vis: Any, outside: Any | None = None) -> dict[str, Any]:
    """Mean errors of visible and invisible keypoints, the invisible ones split by where they lie.

    Args:
        pred, gt: ``(M, K, 2)`` in any one pixel frame; vis: ``(M, K)``.
        outside: ``(M, K)`` bool, True where the labelled location lies outside the image the model sees;
            None leaves the split out.

    Returns:
        ``vis_error`` / ``inv_error`` (as :func:`single_keypoint_metrics`); ``inv_error_in``: mean distance
        over ``v = 1`` keypoints inside the image (occluded by something); ``inv_error_out``: over those
        outside it (cut off by the image border or the crop); None when there are none; ``counts_inv``:
        ``{"in": n, "out": n}``. Non-finite predictions are left out of the means (counted misses).
    """
    p, g, v = check_pred_gt(pred, gt, vis)
    dist, ok = _miss_distances(p, g)
    out: dict[str, Any] = {"vis_error": _mean_or_none(dist[(v == 2) & ok]),
                           "inv_error": _mean_or_none(dist[(v == 1) & ok])}
    if outside is not None:
        o = check_outside(outside, v.shape)
        inv_in, inv_out = (v == 1) & ~o, (v == 1) & o
        out.update({"inv_error_in": _mean_or_none(dist[inv_in & ok]), "inv_error_out": _mean_or_none(dist[inv_out & ok]),
                    "counts_inv": {"in": int(inv_in.sum()), "out": int(inv_out.sum())}})
    return out


def errors_by_keypoint(pred: Any, gt: Any, vis: Any, names: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per keypoint type: ``{name: {"vis_error", "inv_error", "vis", "inv"}}``: mean distance over its
    visible / invisible labelled instances (None when there are none; non-finite predictions left out) and
    their counts. ``pred``, ``gt`` ``(M, K, 2)``, ``vis`` ``(M, K)``, ``K == len(names)``."""
    p, g, v = check_pred_gt(pred, gt, vis)
    if isinstance(names, (str, bytes)):  # its letters would be the names
        raise ValueError(f"names: expected a list of keypoint names, got the string {names!r}")
    if names is None or not hasattr(names, "__iter__"):  # None: "'NoneType' object is not iterable"
        raise TypeError(f"names: expected a list of keypoint names, got {names!r}")
    names = [str(n) for n in names]
    if p.shape[1] != len(names):
        raise ValueError(f"{len(names)} keypoint names for {p.shape[1]} keypoints")
    if len(set(names)) != len(names):  # one row would hide the other
        raise ValueError(f"names: each keypoint needs its own name, {sorted({n for n in names if names.count(n) > 1})} repeat")
    dist, ok = _miss_distances(p, g)
    out = {}
    for k, name in enumerate(names):
        vk, dk, okk = v[:, k], dist[:, k], ok[:, k]
        out[str(name)] = {"vis_error": _mean_or_none(dk[(vk == 2) & okk]), "inv_error": _mean_or_none(dk[(vk == 1) & okk]),
                          "vis": int((vk == 2).sum()), "inv": int((vk == 1).sum())}
    return out


def per_keypoint_table(input_px: Mapping[str, Mapping[str, Any]], orig_px: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table of :func:`errors_by_keypoint` in input pixels and in original-image pixels."""
    header = ["Keypoint", "n vis", "Vis.Error", "Vis.Error (orig px)", "n inv", "Inv.Error", "Inv.Error (orig px)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for name, row in input_px.items():
        o = orig_px.get(name, {})
        cells = [name, str(row["vis"]), _fmt(row["vis_error"], ".2f"), _fmt(o.get("vis_error"), ".2f"), str(row["inv"]),
                 _fmt(row["inv_error"], ".2f"), _fmt(o.get("inv_error"), ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "N/A" if value is None else format(value * scale, spec)


def error_by_visibility_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table of several methods' metrics in the layout of the paper's Tables 1-2.

    Args:
        results: method name -> the dict of :func:`single_keypoint_metrics`, optionally with an ``AP`` entry
            (a fraction in [0, 1], as returned by :func:`adaanchor.metrics.coco.coco_keypoint_ap`).

    Returns:
        A markdown table ``Method | Vis.Error | Vis.Score | Inv.Error | Inv.Score | Score AUC | AP | PCK@0.05``;
        AP and PCK are printed in percent, missing values as ``N/A``. The PCK column is at 0.05 when a result has
        it, else at the first threshold the results have (``eval.pck=[0.1, 0.2]`` gave N/A under a PCK@0.05
        header for a PCK that was computed). When any result has the split of the
        invisible error (``inv_error_in``: occluded inside the image, ``inv_error_out``: outside it, as
        :func:`errors_by_visibility` gives them), two columns ``Inv.In`` and ``Inv.Out`` follow Inv.Error.
    """
    split = any("inv_error_in" in m for m in results.values())
    keys = [t for m in results.values() for t in (m.get("pck") or {})]
    t_pck = "0.05" if "0.05" in keys or not keys else keys[0]
    header = ["Method", "Vis.Error", "Vis.Score", "Inv.Error", *(["Inv.In", "Inv.Out"] if split else []),
              "Inv.Score", "Score AUC", "AP", f"PCK@{t_pck}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for name, m in results.items():
        row = [
            str(name),
            _fmt(m.get("vis_error"), ".2f"),
            _fmt(m.get("vis_score"), ".3f"),
            _fmt(m.get("inv_error"), ".2f"),
            *([_fmt(m.get("inv_error_in"), ".2f"), _fmt(m.get("inv_error_out"), ".2f")] if split else []),
            _fmt(m.get("inv_score"), ".3f"),
            _fmt(m.get("score_auc"), ".3f"),
            _fmt(m.get("AP"), ".1f", 100.0),
            _fmt((m.get("pck") or {}).get(t_pck), ".1f", 100.0),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


__all__ = ["AUC_CORRECT_THRESHOLD", "threshold_key", "single_keypoint_metrics", "errors_by_visibility",
           "errors_by_keypoint", "per_keypoint_table", "error_by_visibility_table"]
