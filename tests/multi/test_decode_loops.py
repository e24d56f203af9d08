"""The loops of multi-person decoding against their plain definitions, result for result: the greedy merge of
close keypoints and the mean tags of the associative-embedding grouping."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adaanchor.strategies.grouping import _mean, group_poses
from adaanchor.strategies.multi import merge_close


def greedy_merge(xy: torch.Tensor, valid: torch.Tensor, radius: float) -> torch.Tensor:
    """The merge by its definition: in slot order, a valid slot is kept unless a kept earlier slot is within
    ``radius`` (Euclidean distances from the coordinate differences, in float64)."""
    b, k, m, _ = xy.shape
    d = (xy.double().unsqueeze(3) - xy.double().unsqueeze(2)).square().sum(-1).sqrt()  # (B, K, M, M)
    kept = torch.zeros_like(valid)
    for i in range(b):
        for t in range(k):
            for j in range(m):
                kept[i, t, j] = bool(valid[i, t, j]) and not any(
                    bool(kept[i, t, p]) and float(d[i, t, p, j]) <= radius for p in range(j))
    return kept


@pytest.mark.parametrize("seed", range(6))
def test_merge_close_is_the_greedy_merge(seed):
    g = torch.Generator().manual_seed(seed)
    b, k, m = 2, 3, 30
    xy = torch.rand(b, k, m, 2, generator=g) * torch.tensor([64.0, 48.0])
    xy[:, :, 10:20] = xy[:, :, :10] + torch.rand(b, k, 10, 2, generator=g) * 6  # near-duplicates to merge
    xy[:, :, 20:25] = xy[:, :, 5:10]  # exact duplicates
    score = torch.rand(b, k, m, generator=g).sort(-1, descending=True).values
    valid = score > torch.rand(b, k, 1, generator=g)  # a prefix, as the peak candidates are
    valid[0, 0, 3] = False  # and a gap
    for radius in (0.0, 2.0, 4.0, 20.0):
        assert torch.equal(merge_close(xy, score, valid, radius), greedy_merge(xy, valid, radius))


def test_merge_close_measures_a_distance_at_the_radius_exactly():
    """Two keypoints exactly 5 px apart (a 3-4-5 step) among 30 slots at image coordinates: cdist's default
    matrix-product form measured 5.0031 px, so a radius of 5 kept both."""
    m = 30
    xy = torch.zeros(1, 1, m, 2)
    xy[0, 0, :, 0] = torch.arange(m) * 50.0 + 574.0
    xy[0, 0, :, 1] = 402.1
    xy[0, 0, 1] = xy[0, 0, 0] + torch.tensor([3.0, 4.0])
    kept = merge_close(xy, torch.ones(1, 1, m), torch.ones(1, 1, m, dtype=torch.bool), 5.0)
    assert kept[0, 0, :3].tolist() == [True, False, True]


@pytest.mark.parametrize("n", [1, 2, 7, 8, 9, 16, 17, 40, 200])
def test_mean_is_numpy_mean_bit_for_bit(n):
    rng = np.random.default_rng(n)
    for scale in (1e-3, 1.0, 1e6):
        values = [float(v) for v in rng.normal(0.0, scale, n).astype(np.float32)]
        got, want = _mean(values), np.mean(values)
        assert type(got) is type(want) and got.tobytes() == want.tobytes()


def test_grouped_pose_tags_are_the_mean_of_their_keypoints_tags():
    rng = np.random.default_rng(0)
    k, m = 17, 30
    xy = rng.uniform(0, 100, (k, m, 2))
    score = np.sort(rng.uniform(0.05, 1.0, (k, m)), axis=1)[:, ::-1].copy()
    valid = score > 0.2
    tag = rng.normal(0.0, 1.5, (k, m)).astype(np.float32).astype(np.float64)
    for refine in (False, True):
        poses = group_poses(xy, score, valid, tag, refine=refine)
        assert len(poses.score) > 5
        # Each grouped keypoint is one detection: recover its tag from its coordinates.
        for kps, mean in zip(poses.keypoints, poses.tag):
            tags = [float(tag[t, np.flatnonzero((xy[t] == kps[t, :2]).all(-1))[0]]) for t in range(k)
                    if kps[t, 2] > 0 and valid[t][(xy[t] == kps[t, :2]).all(-1)].any()]
            assert mean.tobytes() == np.mean(tags).tobytes()
