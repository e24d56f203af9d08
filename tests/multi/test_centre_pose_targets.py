"""The centre task's pose-offset targets by value (docs/centre.md): supervised at the cells within ``pose_radius``
(2) cells of the person centre (the mean of the labelled keypoints), each cell's target the offset from its centre to
every keypoint in cells, weighted ``stride / sqrt(area)`` (DEKR's ``1 / sqrt(area)`` on pixels; ``area``: the box
of the labelled keypoints), 0 for an unlabelled keypoint."""

from __future__ import annotations

import math

import pytest
import torch

from adaanchor.strategies.centre import build_centre


@pytest.mark.parametrize("name", ["heatmap", "adaanchor"])
def test_pose_offsets_at_the_cells_near_the_centre_by_value(name):
    st = build_centre({"name": name}, {}, 3, 4, (64, 48))  # map 16 x 12, stride 4
    kp = torch.tensor([[[[10.0, 10.0], [30.0, 30.0], [50.0, 5.0]]]])  # (B=1, N=1, K=3, 2)
    vis = torch.tensor([[[2, 1, 0]]])  # the third keypoint unlabelled
    outputs = {k: torch.zeros(1, c, 12, 16) for k, c in st.heads.items()}
    t = st.encode(outputs, kp, vis).targets["poseoff"]
    centre = torch.tensor([20.0, 20.0])  # the mean of the two labelled keypoints
    scale = 4 / math.sqrt(20.0 * 20.0)  # stride / sqrt(area of their box)
    ys, xs = torch.meshgrid(torch.arange(12) * 4 + 1.5, torch.arange(16) * 4 + 1.5, indexing="ij")
    near = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= (2 * 4) ** 2  # within 2 cells, centre to cell centre
    assert near.sum() > 1
    for k in range(3):
        want_w = near.float() * (scale if k < 2 else 0.0)
        for c in (2 * k, 2 * k + 1):
            torch.testing.assert_close(t.weight[0, c], want_w)
        if k < 2:  # x and y: from each supervised cell's centre to the keypoint, in cells
            torch.testing.assert_close(t.value[0, 2 * k][near], ((kp[0, 0, k, 0] - xs) / 4)[near])
            torch.testing.assert_close(t.value[0, 2 * k + 1][near], ((kp[0, 0, k, 1] - ys) / 4)[near])
