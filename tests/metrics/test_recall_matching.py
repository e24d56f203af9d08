"""The greedy matching of keypoint recall against its per-prediction definition, on random cases with ties, NaN and
infinite coordinates and infinite cut-offs."""

from __future__ import annotations

import numpy as np
import pytest

from adaanchor.metrics.recall import match_keypoints


def greedy_by_definition(pred_xy: np.ndarray, pred_score: np.ndarray, gt_xy: np.ndarray, max_dist: np.ndarray) -> int:
    """Appendix A.2 one prediction at a time: the closest free ground truth, matched when within its cut-off."""
    free = np.ones(len(gt_xy), bool)
    matched = 0
    for p in np.argsort(-pred_score, kind="stable"):
        if not free.any():
            break
        d = np.linalg.norm(gt_xy - pred_xy[p], axis=1)
        d[~free] = np.inf
        g = int(np.argmin(d))
        if d[g] <= max_dist[g]:
            free[g] = False
            matched += 1
    return matched


@pytest.mark.parametrize("seed", range(4))
def test_match_keypoints_is_the_greedy_definition(seed):
    rng = np.random.default_rng(seed)
    for i in range(500):
        n_pred, n_gt = rng.integers(0, 12), rng.integers(0, 8)
        pred = rng.integers(0, 6, (n_pred, 2)).astype(float)  # integer grid: equal distances, ties in argmin
        gt = rng.integers(0, 6, (n_gt, 2)).astype(float)
        if i % 7 == 0 and n_pred:
            pred[rng.integers(n_pred)] = np.nan
        if i % 11 == 0 and n_pred:
            pred[rng.integers(n_pred)] = np.inf
        score = rng.integers(0, 3, n_pred).astype(float)  # tied scores: the stable order decides
        cut = rng.uniform(0, 3, n_gt)
        if i % 13 == 0 and n_gt:
            cut[rng.integers(n_gt)] = np.inf
        assert match_keypoints(pred, score, gt, cut) == greedy_by_definition(pred, score, gt, cut)
