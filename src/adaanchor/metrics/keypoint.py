"""Single keypoint localization metrics: error and confidence split by visibility, score AUC, PCK.

These are the extra COCO numbers of the paper (appendix A.2, Tables 1-2): the localization error and the
mean confidence of visible (``v = 2``) and invisible (``v = 1``) keypoints, reported next to the official AP.
Unlabelled keypoints (``v = 0``) are ignored everywhere (see docs/conventions.md).

Error is the mean Euclidean distance between prediction and ground truth, in the pixel units of the arrays
given (for the paper's numbers: original-image pixels). PCK and the "correct" label of the score AUC are
normalised by ``bbox_size = max(w, h)`` of the instance box, in the same units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

#: Normalised distance under which a keypoint counts as correct for the score AUC.
AUC_CORRECT_THRESHOLD = 0.05


def to_numpy(x: Any, dtype: Any = np.float64) -> np.ndarray:
    """Convert a numpy array, torch tensor or nested sequence to a numpy array of ``dtype``."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=dtype)


def check_arrays(pred: Any, gt: Any, vis: Any, per_instance: Any, name: str) -> tuple[np.ndarray, ...]:
    """``pred``/``gt`` ``(M, K, 2)``, ``vis`` ``(M, K)`` and a per-instance ``(M,)`` array (named ``name`` in
    errors) as numpy arrays, or ValueError naming what does not fit."""
    p, g = to_numpy(pred), to_numpy(gt)
    v = to_numpy(vis, np.int64)
    d = to_numpy(per_instance).reshape(-1)
    if p.shape != g.shape or p.ndim != 3 or p.shape[-1] != 2:
        raise ValueError(f"pred and gt must both be (M, K, 2), got {p.shape} and {g.shape}")
    if v.shape != p.shape[:2] or d.shape != p.shape[:1]:
        raise ValueError(f"vis must be (M, K) and {name} (M,), got {v.shape} and {d.shape}")
    return p, g, v, d


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
        ``counts``: ``{"vis": #v=2, "inv": #v=1}``.
    """
    p, g, v, size = check_arrays(pred, gt, vis, bbox_size, "bbox_size")
    s = None if scores is None else to_numpy(scores)
    if s is not None and s.shape != v.shape:
        raise ValueError(f"scores must be (M, K) like vis, got {s.shape}")

    labelled, visible, invisible = v > 0, v == 2, v == 1
    if np.any(size[labelled.any(axis=1)] <= 0):
        raise ValueError("bbox_size must be positive for instances with labelled keypoints")
    dist = np.linalg.norm(p - g, axis=-1)  # (M, K)
    norm_dist = dist / np.where(size > 0, size, 1.0)[:, None]  # (M, K)

    pck = {threshold_key(t): _mean_or_none((norm_dist[labelled] <= t).astype(np.float64)) for t in pck_thresholds}
    t0 = pck_thresholds[0] if len(pck_thresholds) else AUC_CORRECT_THRESHOLD
    out: dict[str, Any] = {
        "vis_error": _mean_or_none(dist[visible]),
        "inv_error": _mean_or_none(dist[invisible]),
        "vis_score": None if s is None else _mean_or_none(s[visible]),
        "inv_score": None if s is None else _mean_or_none(s[invisible]),
        "score_auc": None,
        "pck": pck,
        "pck_vis": _mean_or_none((norm_dist[visible] <= t0).astype(np.float64)),
        "pck_inv": _mean_or_none((norm_dist[invisible] <= t0).astype(np.float64)),
        "counts": {"vis": int(visible.sum()), "inv": int(invisible.sum())},
    }
    if s is not None:
        correct = norm_dist[labelled] <= AUC_CORRECT_THRESHOLD
        if 0 < correct.sum() < correct.size:
            out["score_auc"] = float(roc_auc_score(correct, s[labelled]))
    return out


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "N/A" if value is None else format(value * scale, spec)


def error_by_visibility_table(results: Mapping[str, Mapping[str, Any]]) -> str:
    """Markdown table of several methods' metrics in the layout of the paper's Tables 1-2.

    Args:
        results: method name -> the dict of :func:`single_keypoint_metrics`, optionally with an ``AP`` entry
            (a fraction in [0, 1], as returned by :func:`adaanchor.metrics.coco.coco_keypoint_ap`).

    Returns:
        A markdown table ``Method | Vis.Error | Vis.Score | Inv.Error | Inv.Score | Score AUC | AP | PCK@0.05``;
        AP and PCK are printed in percent, missing values as ``N/A``.
    """
    header = ["Method", "Vis.Error", "Vis.Score", "Inv.Error", "Inv.Score", "Score AUC", "AP", "PCK@0.05"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for name, m in results.items():
        row = [
            str(name),
            _fmt(m.get("vis_error"), ".2f"),
            _fmt(m.get("vis_score"), ".3f"),
            _fmt(m.get("inv_error"), ".2f"),
            _fmt(m.get("inv_score"), ".3f"),
            _fmt(m.get("score_auc"), ".3f"),
            _fmt(m.get("AP"), ".1f", 100.0),
            _fmt((m.get("pck") or {}).get("0.05"), ".1f", 100.0),
        ]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
