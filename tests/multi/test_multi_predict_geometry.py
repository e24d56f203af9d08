"""A multi-person prediction worked out by hand: a stand-in network that reads its maps off the image, two people
drawn far apart, and the poses that must come back (grouped per person, in original-image pixels, best first)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from adaanchor.data.types import IMAGENET_MEAN, IMAGENET_STD
from adaanchor.predict.multi import MultiPersonRunner
from adaanchor.strategies.tags import build_bottomup

K, S = 3, 4
# Each person's keypoint of type k is a block of one output cell, drawn in colour channel k: person A bright
# (255), person B at half (128). Cells (column, row) on the 64x48 input.
PEOPLE = {"A": ([(2, 2), (5, 3), (3, 8)], 255), "B": ([(12, 6), (10, 9), (13, 10)], 128)}


def _heads(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The heatmap of type k is channel k averaged over each cell; the tag is 4x that: A's tags 4, B's 2."""
    mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    hm = F.avg_pool2d((x * std + mean).clamp(0, 1), S)
    return {"heatmap": hm, "tags": 4 * hm}


def _scene(scale: int, left: int, width: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The people drawn at ``scale`` times the input's resolution, ``left`` pixels of black added on the left."""
    img = np.zeros((48 * scale, width, 3), np.uint8)
    truth = {}
    for name, (cells, value) in PEOPLE.items():
        pts = []
        for k, (i, j) in enumerate(cells):
            x0, y0, n = left + i * S * scale, j * S * scale, S * scale
            img[y0:y0 + n, x0:x0 + n, k] = value
            pts.append((x0 + (n - 1) / 2, y0 + (n - 1) / 2))  # the block's centre, pixel centres at integers
        truth[name] = np.array(pts)
    return img, truth


@pytest.mark.parametrize("scale,left,width", [(1, 0, 64), (1, 16, 80), (1, 0, 70), (2, 0, 128), (2, 32, 160)])
def test_two_people_come_back_whole_in_image_pixels(scale, left, width):
    runner = MultiPersonRunner(_heads, build_bottomup({"name": "heatmap"}, {}, K, S, (64, 48)), 48, 8)
    img, truth = _scene(scale, left, width)
    pred = runner(img)
    assert pred.image_hw == img.shape[:2] and pred.keypoints.shape == (2, K, 2)
    # Best pose first: A (confidence 1), then B (128 / 255); each keypoint of a pose is its person's.
    np.testing.assert_allclose(pred.pose_scores, [1.0, 128 / 255], atol=1e-6)
    np.testing.assert_allclose(pred.keypoints[0], truth["A"], atol=1e-6)
    np.testing.assert_allclose(pred.keypoints[1], truth["B"], atol=1e-6)
    assert ((pred.scores >= 0) & (pred.scores <= 1)).all() and pred.anchors is None
    np.testing.assert_allclose(pred.instance_scores(), pred.pose_scores)
    lo, hi = truth["A"].min(axis=0), truth["A"].max(axis=0)
    np.testing.assert_allclose(pred.boxes[0], [*lo, *(hi - lo)], atol=1e-6)


def test_a_missing_keypoint_is_zero_and_the_pose_score_counts_it_as_zero():
    runner = MultiPersonRunner(_heads, build_bottomup({"name": "heatmap"}, {}, K, S, (64, 48)), 48, 8)
    img, truth = _scene(1, 16, 80)
    img[..., 2] = 0  # nobody's third keypoint
    pred = runner(img)
    assert pred.keypoints.shape == (2, K, 2)
    np.testing.assert_allclose(pred.keypoints[:, 2], 0.0)
    np.testing.assert_allclose(pred.scores[:, 2], 0.0)
    np.testing.assert_allclose(pred.keypoints[0, :2], truth["A"][:2], atol=1e-6)
    np.testing.assert_allclose(pred.pose_scores, [2 / 3, 2 / 3 * 128 / 255], atol=1e-6)
    assert runner(np.zeros((48, 64, 3), np.uint8)).keypoints.shape == (0, K, 2)  # no one
