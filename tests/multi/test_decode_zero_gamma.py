"""gamma = 0 keeps every peak with some confidence, not the zero background of a heatmap as people at (0, 0)."""

from __future__ import annotations

import torch

from adaanchor.engine.bottomup import pose_results
from adaanchor.strategies.centre import build_centre
from adaanchor.strategies.tags import build_bottomup

K, S, W, H = 3, 4, 32, 24


def _one_peak(k: int) -> torch.Tensor:
    hm = torch.zeros(1, k, H // S, W // S)
    hm[0, :, 2, 3] = 0.9
    return hm


def test_bottomup_at_gamma_zero_finds_the_one_person():
    st = build_bottomup({"name": "heatmap"}, {"gamma": 0.0}, K, S, (W, H))
    hm = _one_peak(K)
    poses = st.decode_poses({"heatmap": hm, "tags": torch.zeros_like(hm)})[0]
    assert len(poses.score) == 1  # was 15: the peak, and 14 poses of score 0 from the zero plateau
    assert len(pose_results(poses, 1, poses.keypoints[..., :2])) == 1


def test_centre_at_gamma_zero_finds_the_one_person():
    st = build_centre({"name": "heatmap"}, {"gamma": 0.0}, K, S, (W, H))
    poses = st.decode_poses({"heatmap": _one_peak(1), "poseoff": torch.zeros(1, 2 * K, H // S, W // S)})[0]
    assert len(poses.score) == 1 and float(poses.score[0]) > 0.89
