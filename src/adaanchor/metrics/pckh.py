"""MPII PCKh, as the official evaluation computes it (``evalPCKh.m`` and its Python port in the HRNet /
mmpose MPII code).

A labelled joint is correct at threshold ``t`` when ``||pred - gt|| / head_size <= t``, where
``head_size = SC_BIAS * ||(x2, y2) - (x1, y1)||`` is 0.6 times the diagonal of the person's head box
(:data:`~adaanchor.data.headsize.SC_BIAS`). Per joint, ``PCKh = 100 * correct / labelled``. The
**total** ("Mean" in the official table) excludes pelvis and thorax and weights each joint by its number of
labelled instances: ``sum_j PCKh_j * n_j / sum_j n_j`` over the other 14 joints (so it equals the fraction
of all their labelled joints that are correct). Group columns are the official ones: Head = head top,
Shoulder / Elbow / Wrist / Hip / Knee / Ankle = the plain mean of the left and right joint's PCKh.

No pip-installable maintained tool computes PCKh (the official one is MATLAB), so this module mirrors the
formula above exactly; the tests check it against hand-built cases. Note that the HRNet code's reported
``Mean@0.1`` reads row 11 of ``np.arange(0, 0.51, 0.01)``, i.e. threshold 0.11; ``PCKh@0.1`` here is
threshold 0.1.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..data.headsize import SC_BIAS, head_size_from_box
from .keypoint import (
    check_arrays,
    check_scales,
    check_thresholds,
    nonfinite_keypoints,
    point_distance,
    threshold_key,
)

#: Joints left out of the official total.
EXCLUDED = ("pelvis", "thorax")
#: Official table columns: name -> joints (averaged).
GROUPS: dict[str, tuple[str, ...]] = {
    "Head": ("head_top",),
    "Shoulder": ("left_shoulder", "right_shoulder"),
    "Elbow": ("left_elbow", "right_elbow"),
    "Wrist": ("left_wrist", "right_wrist"),
    "Hip": ("left_hip", "right_hip"),
    "Knee": ("left_knee", "right_knee"),
    "Ankle": ("left_ankle", "right_ankle"),
}
#: MPII joint order (the ``mpii`` spec).
MPII_JOINTS = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "pelvis", "thorax",
               "upper_neck", "head_top", "right_wrist", "right_elbow", "right_shoulder", "left_shoulder",
               "left_elbow", "left_wrist")

__all__ = ["SC_BIAS", "EXCLUDED", "GROUPS", "MPII_JOINTS", "pckh", "head_size_from_box"]


def _excluded(exclude: str | Sequence[str], names: list[str]) -> set[str]:
    """The joints left out of the total. A string is one name (``set("pelvis")`` would be its letters and
    exclude nothing); a name that is not a joint is refused (a typo would silently exclude nothing), except
    in the default, which applies to the MPII names and is a no-op for other keypoint sets."""
    if isinstance(exclude, str):
        exclude = (exclude,)
    try:
        out = set(exclude)
    except TypeError:
        raise TypeError(f"exclude: expected joint names, got {exclude!r}") from None
    unknown = sorted(str(n) for n in out - set(names))
    if unknown and tuple(exclude) != EXCLUDED:
        raise ValueError(f"exclude: {unknown[0]!r} is not one of the joint names ({', '.join(names)})")
    return out


def pckh(
    pred: Any,
    gt: Any,
    vis: Any,
    head_size: Any,
    thresholds: Sequence[float] = (0.5, 0.1),
    joint_names: Sequence[str] = MPII_JOINTS,
    exclude: str | Sequence[str] = EXCLUDED,
) -> dict[str, Any]:
    """PCKh per joint, per official group and in total, in percent.

    Args:
        pred: ``(M, K, 2)`` predicted ``(x, y)`` (same pixel units and origin as ``gt``).
        gt: ``(M, K, 2)`` ground truth.
        vis: ``(M, K)``; joints with ``v > 0`` are scored (``v = 0``: not annotated, as ``jnt_missing``).
        head_size: ``(M,)`` normaliser of each person (``0.6 * head-box diagonal``), positive for every
            person with a labelled joint.
        thresholds: the ``t`` values; the first is the headline.
        joint_names: the ``K`` joint names (for the per-joint keys, the groups and the exclusions).
        exclude: joints left out of the total: names of ``joint_names`` (a single name may be given as a
            string); the default leaves out whichever of pelvis and thorax ``joint_names`` has.

    Returns:
        ``{"PCKh@0.5": total, "PCKh@0.1": total, "per_joint": {"0.5": {name: pct}}, "groups": {"0.5":
        {"Head": pct, ...}}, "counts": {name: n}, "num_instances": M, "nonfinite": n}``; a joint without
        labelled instances gives None (and is left out of the total); ``nonfinite`` counts the labelled joints
        whose prediction is not finite (misses: wrong at every threshold).
    """
    p, g, v, hs = check_arrays(pred, gt, vis, head_size, "head_size")
    thresholds = check_thresholds(thresholds, "thresholds")
    if isinstance(joint_names, (str, bytes)):  # its letters were the names
        raise ValueError(f"joint_names: expected a list of joint names, got the string {joint_names!r}")
    names = list(joint_names)
    if len(names) != p.shape[1]:
        raise ValueError(f"{len(names)} joint names for {p.shape[1]} joints")
    if len(set(names)) != len(names):  # a later joint's numbers overwrote an earlier one's in per_joint
        raise ValueError(f"joint_names: each joint needs its own name, {sorted({n for n in names if names.count(n) > 1})} "
                         "repeat")
    excluded = _excluded(exclude, names)
    labelled = v > 0
    need = labelled.any(axis=1)
    check_scales(hs, need, "head_size")
    # A non-finite prediction is a miss: NaN / inf distances compare False with every threshold below.
    bad = nonfinite_keypoints(p) & labelled
    dist = point_distance(p, g)
    scaled = dist / np.where(need, hs, 1.0)[:, None]
    count = labelled.sum(axis=0)
    keep = np.array([n not in excluded for n in names]) & (count > 0)
    out: dict[str, Any] = {}
    per_joint: dict[str, dict[str, float | None]] = {}
    groups: dict[str, dict[str, float | None]] = {}
    for t in thresholds:
        key = threshold_key(t)
        per_joint[key], out[f"PCKh@{key}"] = _pckh_at(t, scaled, labelled, count, keep, names)
        groups[key] = _group_means(per_joint[key], names)
    out["per_joint"] = per_joint
    out["groups"] = groups
    out["counts"] = {n: int(c) for n, c in zip(names, count)}
    out["num_instances"] = int(p.shape[0])
    out["nonfinite"] = int(bad.sum())
    return out


def _pckh_at(t: float, scaled: np.ndarray, labelled: np.ndarray, count: np.ndarray, keep: np.ndarray,
             names: list[str]) -> tuple[dict[str, float | None], float | None]:
    """PCKh at threshold ``t`` per joint (None for a joint without labelled instances) and in total over the joints
    ``keep`` ``(K,)`` says; ``scaled`` ``(M, K)``: distances over head sizes, ``labelled`` ``(M, K)``, ``count``
    ``(K,)``: labelled instances per joint."""
    correct = ((scaled <= t) & labelled).sum(axis=0)
    pct = np.where(count > 0, 100.0 * correct / np.maximum(count, 1), np.nan)
    per_joint = {n: (float(x) if c > 0 else None) for n, x, c in zip(names, pct, count)}
    # sum_j PCKh_j * n_j / sum_j n_j (the official weighting) == 100 * sum_j correct_j / sum_j n_j,
    # written in the second form so that a perfect prediction gives exactly 100.
    total = float(100.0 * correct[keep].sum() / count[keep].sum()) if keep.any() else None
    return per_joint, total


def _group_means(per_joint: dict[str, float | None], names: list[str]) -> dict[str, float | None]:
    """The official columns (:data:`GROUPS`) that have a joint among ``names``: the mean PCKh of their joints with
    labelled instances (None when none has)."""
    grp = {}
    for gname, members in GROUPS.items():
        vals = [per_joint[m] for m in members if m in names and per_joint[m] is not None]
        if any(m in names for m in members):
            grp[gname] = float(np.mean(vals)) if vals else None
    return grp
