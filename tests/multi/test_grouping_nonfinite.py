"""Grouping of maps with infinite or NaN tags (an fp16 overflow, diverged weights): poses, not a traceback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from adaanchor.strategies.grouping import group_poses
from adaanchor.strategies.tags import build_bottomup

K, M = 3, 2


def _two_people(tag: np.ndarray) -> tuple[np.ndarray, ...]:
    xy = np.zeros((K, M, 2))
    xy[:, 0], xy[:, 1] = (10.0, 20.0), (50.0, 20.0)
    score = np.tile([0.9, 0.8], (K, 1))
    return xy, score, np.ones((K, M), bool), tag


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_non_finite_tags_start_poses_of_their_own(bad):
    tag = np.tile([0.0, 5.0], (K, 1))
    tag[1:, 0] = bad  # person A's second and third keypoints: no tag distance to anyone (inf - inf is NaN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor a RuntimeWarning about inf - inf
        poses = group_poses(*_two_people(tag), refine=True)
    assert len(poses.score) == 4
    full = poses.keypoints[(poses.keypoints[:, :, 2] > 0).sum(1) == K]
    np.testing.assert_allclose(full[0, :, :2], [[50.0, 20.0]] * K)  # B whole
    alone = poses.keypoints[(poses.keypoints[:, :, 2] > 0).sum(1) == 1]
    np.testing.assert_allclose(alone[:, :, 2].sum(0), [0.9] * K)  # A's keypoints one pose each


def test_all_tags_infinite_on_an_overflowing_heatmap_model():
    # fp16 overflow: heatmap +inf (clamped to 1: every cell a plateau peak) and tags +inf. This was
    # "ValueError: matrix contains invalid numeric entries" from linear_sum_assignment.
    st = build_bottomup({"name": "heatmap"}, {"max_candidates": 4}, K, 4, (32, 24))
    out = {"heatmap": torch.full((1, K, 6, 8), float("inf")), "tags": torch.full((1, K, 6, 8), float("inf"))}
    poses = st.decode_poses(out)[0]
    assert poses.keypoints.shape[1:] == (K, 3) and len(poses.score) > 0
    assert np.isfinite(poses.keypoints).all()


def test_a_tag_threshold_beyond_the_refusal_cost_still_matches():
    """Tags 5e6 apart under tag_threshold=1e7 are one person: the cost of that match (5e6) passed the fixed
    refusal cost (1e6), and every keypoint became a pose of its own."""
    tag = np.tile([0.0, 3.0e7], (K, 1))
    tag[1:, 0] = 5.0e6
    poses = group_poses(*_two_people(tag), tag_threshold=1e7)
    assert len(poses.score) == 2
    assert ((poses.keypoints[:, :, 2] > 0).sum(1) == K).all()
    np.testing.assert_allclose(sorted(poses.keypoints[:, 0, 0]), [10.0, 50.0])
