"""Associative embedding: the pull/push loss by hand, grouping from perfect maps and separated tags."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adaanchor.strategies import Target, compute_loss
from adaanchor.strategies.ae_loss import ae_loss
from adaanchor.strategies.anchor import AnchorStrategy
from adaanchor.strategies.grouping import group_poses
from adaanchor.strategies.heatmap import HeatmapStrategy
from adaanchor.strategies.tags import BottomUpStrategy

K = 17


def test_ae_loss_by_hand():
    # Image 0: instance 1 has tags 1 and 3 (mean 2, pull 1), instance 2 has tag 5 (pull 0): pull 0.5;
    # push over the two ordered pairs: 2 exp(-(5 - 2)^2 / 2) / (2 * 1). Image 1: one instance, tags 0 and 2:
    # pull 1, no push. Loss = mean pull (0.5 + 1) / 2 + push (image 0 only).
    tags = torch.tensor([[1.0, 3.0, 5.0, 9.0], [0.0, 2.0, 7.0, 7.0]], requires_grad=True)
    ids = torch.tensor([[1.0, 1.0, 2.0, 0.0], [1.0, 1.0, 0.0, 0.0]])
    weight = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 1.0]])
    loss = ae_loss(tags, ids, weight)
    assert float(loss.detach()) == pytest.approx(0.75 + math.exp(-4.5), rel=1e-6)
    loss.backward()
    assert tags.grad[0, 3] == 0 and tags.grad[1, 2] == 0  # id 0 / weight 0 do not take part
    out = compute_loss({"tags": tags.view(2, 1, 2, 2)}, {"tags": Target(ids.view(2, 1, 2, 2), weight.view(2, 1, 2, 2))},
                       {"tags": ("ae", 0.5)})
    assert float(out["loss"].detach()) == pytest.approx(0.5 * (0.75 + math.exp(-4.5)), rel=1e-6)


def test_ae_loss_without_instances_is_zero_with_a_graph():
    tags = torch.zeros(2, 3, requires_grad=True)
    loss = ae_loss(tags, torch.zeros(2, 3), torch.ones(2, 3))
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()


def test_hinge_push_by_hand():
    # Image 0 of test_ae_loss_by_hand with the hinge push: reference tags 2 and 5 are 3 apart, beyond the margin
    # (push 0); moved to 2 and 2.4, the two ordered pairs give 2 (1 - 0.4) / 2.
    tags = torch.tensor([[1.0, 3.0, 5.0]])
    ids = torch.tensor([[1.0, 1.0, 2.0]])
    assert float(ae_loss(tags, ids, torch.ones(1, 3), push="hinge")) == pytest.approx(0.5)
    near = torch.tensor([[1.0, 3.0, 2.4]])
    assert float(ae_loss(near, ids, torch.ones(1, 3), push="hinge")) == pytest.approx(0.5 + 0.6)
    out = compute_loss({"tags": near.view(1, 1, 1, 3)}, {"tags": Target(ids.view(1, 1, 1, 3), torch.ones(1, 1, 1, 3))},
                       {"tags": ("ae_hinge", 2.0)})  # the loss kind a strategy with push=hinge names
    assert float(out["loss"]) == pytest.approx(2 * (0.5 + 0.6))
    with pytest.raises(ValueError, match="unknown push kind 'gauss'"):
        ae_loss(tags, ids, torch.ones(1, 3), push="gauss")


@pytest.mark.parametrize("push", ["exp", "hinge"])
def test_collapsed_tags_are_pushed_apart_only_by_the_hinge(push):
    # Two instances whose tags have collapsed to one value (1e-4 apart, no pull): the paper's Gaussian push
    # has a vanishing slope there, the hinge a slope of 1 / (N (N - 1)) per pair, away from the other instance.
    tags = torch.tensor([[0.5, 0.5, 0.5001, 0.5001]], requires_grad=True)
    ids = torch.tensor([[1.0, 1.0, 2.0, 2.0]])
    ae_loss(tags, ids, torch.ones(1, 4), push=push).backward()
    g = tags.grad[0]
    if push == "exp":
        assert g.abs().max() < 1e-4
    else:  # d loss / d t = (1 / |E_n|) * (-sign(h_n - h_n')) * 2 / (N (N - 1)): 0.5 per tag, apart
        assert torch.allclose(g, torch.tensor([0.5, 0.5, -0.5, -0.5]))


def test_bottomup_push_option_selects_the_loss_kind():
    inner = HeatmapStrategy(K, 4, (48, 64))
    assert BottomUpStrategy(inner, 1.0).losses["tags"] == ("ae", 1.0)
    assert BottomUpStrategy(inner, 1.0, push="hinge").losses["tags"] == ("ae_hinge", 1.0)
    with pytest.raises(ValueError, match="unknown push kind"):
        BottomUpStrategy(inner, 1.0, push="gauss")


def _poses_equal(got: np.ndarray, gt: np.ndarray, labelled: np.ndarray, tol: float) -> None:
    """Every ground-truth pose is one predicted pose, keypoint for keypoint (missing where unlabelled)."""
    assert got.shape[0] == gt.shape[0]
    for n in range(gt.shape[0]):
        d = np.where(labelled[n][None], np.linalg.norm(got[:, :, :2] - gt[n][None], axis=-1), 0.0).max(axis=1)
        p = int(np.argmin(d))
        assert d[p] <= tol
        assert np.array_equal(got[p, :, 2] > 0, labelled[n])


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 100_000), n=st.integers(1, 6), drop=st.floats(0.0, 0.6))
def test_grouping_recovers_poses_from_perfect_detections(seed, n, drop):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 200, (n, K, 2))
    labelled = rng.random((n, K)) >= drop
    labelled[:, rng.integers(K)] = True  # every pose has at least one keypoint
    labelled[np.arange(n), rng.integers(K, size=n)] = True
    m = n + 2
    xy, score, valid, tag = np.zeros((K, m, 2)), np.zeros((K, m)), np.zeros((K, m), bool), np.zeros((K, m))
    for k in range(K):
        slots = rng.permutation(m)
        for i in range(n):
            if labelled[i, k]:
                s = slots[i]
                xy[k, s], score[k, s], valid[k, s] = gt[i, k], rng.uniform(0.2, 1), True
                tag[k, s] = 3.0 * i + rng.uniform(-0.2, 0.2)  # perfectly separated: spread 0.4, gap 2.6
    poses = group_poses(xy, score, valid, tag)
    _poses_equal(poses.keypoints, gt, labelled, 1e-9)
    assert np.allclose(poses.score, poses.keypoints[:, :, 2].mean(axis=1))
    assert np.all(np.diff(poses.score) <= 0)


def test_tied_matchings_take_the_nearer_tags_whatever_the_float_noise():
    # Poses of tags 0 (at x 10) and 0.3 (at x 50); the next type's detections have tags 0.5 (x 12) and 0.6 (x 52).
    # |tag - pose tag| sums to 0.8 either way, so the matching was left to float noise, and it crossed them (the
    # keypoint at x 52 joined the pose at x 10). The squared distance breaks the tie: 0.5 -> 0, 0.6 -> 0.3.
    xy = np.array([[(10, 10), (50, 10)], [(12, 12), (52, 12)]], float)
    score, valid = np.full((2, 2), 0.9), np.ones((2, 2), bool)
    for noise in (0.0, 1e-9, -1e-9):
        poses = group_poses(xy, score, valid, np.array([[0.0, 0.3], [0.5 + noise, 0.6]]))
        assert sorted((p[0, 0], p[1, 0]) for p in poses.keypoints) == [(10, 12), (50, 52)]


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_grouping_does_not_turn_on_float_noise(seed):
    # Tags within the threshold of several poses, as a barely trained tag head gives them: the same detections with
    # tags 1e-7 apart (PyTorch against onnxruntime, a folded BatchNorm) group into the same poses.
    rng = np.random.default_rng(seed)
    k, m = 5, 6
    xy, score = rng.uniform(0, 100, (k, m, 2)), rng.uniform(0.2, 1.0, (k, m))
    valid, tag = rng.random((k, m)) < 0.8, rng.uniform(0.0, 0.8, (k, m))
    a = group_poses(xy, score, valid, tag)
    b = group_poses(xy, score, valid, tag + rng.uniform(-1e-7, 1e-7, tag.shape))
    key = lambda p: sorted(map(tuple, p.keypoints[..., :2].reshape(len(p.keypoints), -1).round(9)))  # noqa: E731
    assert key(a) == key(b)


def test_refinement_is_off_by_default_and_fills_when_on():
    xy = np.zeros((2, 2, 2))
    xy[0, 0], xy[1, 0], xy[1, 1] = (1, 1), (2, 2), (9, 9)
    score = np.array([[0.9, 0.0], [0.05, 0.8]])
    tag = np.array([[0.0, 0.0], [0.1, 5.0]])
    valid = score >= 0.1  # the second type's matching detection is below gamma
    off = group_poses(xy, score, valid, tag)
    assert off.keypoints.shape[0] == 2  # (1, 1) alone and (9, 9) alone: nothing filled
    on = group_poses(xy, score, valid, tag, refine=True)
    first = on.keypoints[np.argmax(on.keypoints[:, 0, 2])]
    assert np.allclose(first[1], (2, 2, 0.05))


W, H, S = 128, 96, 4


def _gt(seed: int, n: int) -> torch.Tensor:
    """``(1, n, K, 2)`` keypoints with same-type keypoints at least 6 cells apart."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, K, 2))
    for k in range(K):
        pts: list[np.ndarray] = []
        while len(pts) < n:
            p = rng.uniform([2 * S, 2 * S], [W - 2 * S, H - 2 * S])
            if all(np.linalg.norm(p - q) >= 6 * S for q in pts):
                pts.append(p)
        out[:, k] = pts
    return torch.tensor(out, dtype=torch.float32)[None]


@pytest.mark.parametrize("inner", ["fixanchor", "adaanchor", "heatmap"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bottomup_decodes_ground_truth_poses_from_oracle_maps(inner, seed):
    if inner == "heatmap":
        dense = HeatmapStrategy(K, S, (W, H))
    else:
        dense = AnchorStrategy(K, S, (W, H), assign="adaptive" if inner == "adaanchor" else "fixed", topk=5)
    strategy = BottomUpStrategy(dense)
    kpts = _gt(seed, 4)
    vis = torch.full(kpts.shape[:3], 2)
    zeros = {name: torch.zeros(1, c, H // S, W // S) for name, c in strategy.heads.items()}
    enc = strategy.encode(zeros, kpts, vis)
    ids = enc.targets["tags"].value
    out = {"tags": 3.0 * ids}  # perfectly separated tags: 3 x (instance id + 1)
    if inner == "heatmap":
        out["heatmap"] = 0.9 * enc.targets["heatmap"].value
    else:
        out["conf"] = torch.where(enc.targets["conf"].value > 0.5, torch.tensor(3.0), torch.tensor(-30.0))
        out["offset"], out["local"] = enc.targets["offset"].value, enc.targets["local"].value
    poses = strategy.decode_poses(out, gamma=0.1)[0]
    tol = 1e-3 if inner != "heatmap" else 0.75 * S * math.sqrt(2)
    _poses_equal(poses.keypoints, kpts[0].numpy(), np.ones((4, K), bool), tol)
    # Grouping keypoints decoded once gives decode_poses' poses (the diagnostics decode once and group that).
    again = strategy.group_decoded(*strategy.decode_multi(out, 0.1), 0.1)[0]
    np.testing.assert_array_equal(again.keypoints, poses.keypoints)
    np.testing.assert_array_equal(again.score, poses.score)
