"""Associative-embedding grouping of detected keypoints into poses (Newell et al. 2017), one image at a time.

Joints are taken in a fixed order. The detections of the first type each start a pose. For every next type,
detections are matched to the poses built so far by the Hungarian algorithm
(:func:`scipy.optimize.linear_sum_assignment`) on the cost ``|tag - pose tag| + conf_weight * (1 - score)``,
where the pose tag is the mean tag of its joints; a match whose tag distance exceeds ``tag_threshold`` is
refused. Unmatched detections start new poses. The confidence term only breaks ties between detections that
compete for one pose (the paper's AE ranks by rounded tag distance, then by score).

Tags are scalars, so ``|tag - pose tag|`` alone ties whenever the tags of two detections and two poses do not
interleave (poses 0 and 0.3, detections 0.5 and 0.6: 0.8 either way), and a float difference of 1e-7 (PyTorch
against onnxruntime, a folded BatchNorm) chose between the two matchings, crossed ones included. A term
``1e-3 * (tag - pose tag)^2 / tag_threshold`` breaks those ties towards the nearer tags (0.5 -> 0, 0.6 -> 0.3);
it is at most ``1e-3 * tag_threshold``, so it changes no matching whose distances differ by more than that.

Tag vectors: a tag may be a vector of ``D`` values per detection (``tag (K, M, D)``; the flip test's tags, the two
passes' concatenated, ``D = 2``, :mod:`adaanchor.strategies.flip_test`). Their distance is the root mean square of the
per-component differences, ``sqrt(mean_d (tag_d - pose tag_d)^2)``, the pose tag the mean vector of its joints: the
Euclidean distance HigherHRNet's flip test compares, divided by ``sqrt(D)``, so that tags whose components agree
(two passes that tag alike) are exactly as far apart as the scalars, and ``tag_threshold`` keeps its meaning.

Pose score = mean keypoint confidence over all ``K`` types, a missing type counting 0 (as AE does).
Missing keypoints are left missing (score 0, coordinates 0): the paper removes AE's refinement that fills
them for a fair comparison of the anchors; ``refine=True`` adds it back (for each missing type, the
unused candidate with the highest ``score - |tag - pose tag|`` within ``tag_threshold``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

_REFUSED = 1e6
_TIE = 1e-3  # weight of the squared tag distance that breaks the ties of |tag - pose tag| (module docstring)


@dataclass
class Poses:
    """Grouped poses of one image.

    Attributes:
        keypoints: ``(P, K, 3)`` ``(x, y, score)``; a missing keypoint is ``(0, 0, 0)``.
        score: ``(P,)`` mean keypoint confidence (missing = 0).
        tag: ``(P,)`` mean tag of the pose's keypoints (``(P, D)`` for tag vectors).
    """

    keypoints: np.ndarray
    score: np.ndarray
    tag: np.ndarray


def group_poses(
    xy: np.ndarray,
    score: np.ndarray,
    valid: np.ndarray,
    tag: np.ndarray,
    order: Sequence[int] | None = None,
    tag_threshold: float = 1.0,
    conf_weight: float = 0.01,
    refine: bool = False,
) -> Poses:
    """Group one image's detections.

    Args:
        xy: ``(K, M, 2)`` detections per type; score, valid, tag: ``(K, M)`` (valid: bool); or tag vectors
            ``(K, M, D)`` (module docstring).
        order: the joint order (default ``0..K-1``).
        tag_threshold: the largest tag distance of a match.
        conf_weight: weight of ``1 - score`` in the matching cost.
        refine: fill missing keypoints from the unused candidates (``valid`` marks the detections to
            group; every slot with score > 0 is a candidate).
    Returns:
        :class:`Poses`, sorted by descending score.
    """
    k_types = xy.shape[0]
    order = list(range(k_types)) if order is None else list(order)
    vector = np.ndim(tag) == 3
    kps: list[np.ndarray] = []  # per pose (K, 3)
    tags: list[list[Any]] = []
    means: list[Any] = []  # each pose's mean tag (a float64, or a (D,) vector), recomputed only when the pose grows
    used = np.zeros(valid.shape, bool)
    for k in order:
        det = np.flatnonzero(valid[k])
        if det.size == 0:
            continue
        matched = np.full(det.size, -1)
        if kps:
            taken = np.array([p[k, 2] > 0 for p in kps])  # a pose holds one keypoint per type
            matched = _match(tag[k, det], score[k, det], np.array(means), taken, tag_threshold, conf_weight)
        for d, p in zip(det, matched):
            if p < 0:
                kps.append(np.zeros((k_types, 3)))
                tags.append([])
                means.append(np.float64(0.0))
                p = len(kps) - 1
            kps[p][k] = (xy[k, d, 0], xy[k, d, 1], score[k, d])
            tags[p].append(tag[k, d] if vector else float(tag[k, d]))
            means[p] = _mean(tags[p])
            used[k, d] = True
    if refine and kps:
        _refine(kps, means, xy, score, tag, used, tag_threshold)
    if not kps:
        return Poses(np.zeros((0, k_types, 3)), np.zeros(0), np.zeros((0, tag.shape[-1]) if vector else 0))
    out = np.stack(kps)
    pose_score = out[:, :, 2].mean(axis=1)
    rank = np.argsort(-pose_score, kind="stable")
    return Poses(out[rank], pose_score[rank], np.array(means)[rank])


def _match(tag: np.ndarray, score: np.ndarray, means: np.ndarray, taken: np.ndarray, tag_threshold: float,
           conf_weight: float) -> np.ndarray:
    """The pose each detection of one type joins (-1: none). tag, score: ``(D,)``; means, taken: ``(P,)`` (taken:
    the pose has this type already); tag vectors: tag ``(D, V)``, means ``(P, V)``. Returns ``(D,)`` int."""
    from scipy.optimize import linear_sum_assignment  # here: importing scipy.optimize took 0.2 s of every config import

    with np.errstate(invalid="ignore"):  # an infinite tag (an fp16 overflow) against one: NaN, refused below
        dist = _distance(tag[:, None] - means[None, :], tag.ndim == 2)
    cost = dist + conf_weight * (1.0 - score)[:, None] + _TIE * dist**2 / tag_threshold
    # A NaN or infinite distance is no match: it passed "dist > tag_threshold" (NaN) into the cost, and
    # linear_sum_assignment stopped the whole prediction ("matrix contains invalid numeric entries").
    allowed = (dist <= tag_threshold) & ~taken[None, :]
    cost = np.where(allowed, cost, 0.0)
    # A refused pair costs more than any set of allowed ones (as many allowed matches as possible, then the
    # cheapest), also under a tag_threshold so wide that an allowed cost reached the fixed 1e6.
    refused = max(_REFUSED, (float(cost.max(initial=0.0)) + 1.0) * (min(cost.shape) + 1))
    rows, cols = linear_sum_assignment(np.where(allowed, cost, refused))
    ok = allowed[rows, cols]
    matched = np.full(tag.shape[0], -1)
    matched[rows[ok]] = cols[ok]
    return matched


def _distance(diff: np.ndarray, vector: bool) -> np.ndarray:
    """Tag distances of tag differences: ``|diff|`` for scalar tags, the root mean square over the last axis
    (``diff (..., D)``) for tag vectors."""
    return np.sqrt(np.mean(diff * diff, axis=-1)) if vector else np.abs(diff)


def _mean(values: list[Any]) -> Any:
    """``np.mean(values, axis=0)``, the same float64 (numpy's sum of the array divided by the count) without the
    wrapper's checks, which were half of the grouping's time: it runs once per grouped keypoint. Scalars give a
    scalar, tag vectors ``(D,)`` their mean vector."""
    return np.add.reduce(np.asarray(values, dtype=np.float64)) / len(values)


def _refine(kps: list[np.ndarray], means: list[Any], xy: np.ndarray, score: np.ndarray, tag: np.ndarray,
            used: np.ndarray, tag_threshold: float) -> None:
    """AE's refinement, in place: each missing keypoint takes the best unused candidate of its type, judged by
    the pose's mean tag (``means``)."""
    for p, pose in enumerate(kps):
        vector = tag.ndim == 3
        ref = means[p] if vector else float(means[p])
        for k in np.flatnonzero(pose[:, 2] <= 0):
            cand = np.flatnonzero((score[k] > 0) & ~used[k])
            if cand.size == 0:
                continue
            with np.errstate(invalid="ignore"):  # infinite tags: NaN, which "<=" refuses
                dist = _distance(tag[k, cand] - ref, vector)
            ok = dist <= tag_threshold
            if not ok.any():
                continue
            best = cand[ok][np.argmax((score[k, cand] - dist)[ok])]
            pose[k] = (xy[k, best, 0], xy[k, best, 1], score[k, best])
            used[k, best] = True


__all__ = ["Poses", "group_poses"]
