"""Multi-instance decoding from oracle outputs, and the overlapping-targets rule of AnchorStrategy.encode."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adaanchor.strategies.anchor import AnchorStrategy
from adaanchor.strategies.heatmap import HeatmapStrategy
from adaanchor.strategies.multi import decode_multi, merge_close

W, H, S, K = 128, 96, 4, 3


def crowd_keypoints(seed: int, n: int, min_cells: float) -> torch.Tensor:
    """``(1, n, K, 2)`` keypoints inside the map, same-type keypoints at least ``min_cells`` cells apart."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, K, 2))
    for k in range(K):
        placed: list[np.ndarray] = []
        for _ in range(10_000):
            if len(placed) == n:
                break
            p = rng.uniform([2 * S, 2 * S], [W - 2 * S, H - 2 * S])
            if all(np.linalg.norm(p - q) >= min_cells * S for q in placed):
                placed.append(p)
        out[:, k] = placed
    return torch.tensor(out, dtype=torch.float32)[None]


def anchor_oracle(strategy: AnchorStrategy, kpts: torch.Tensor, c0: float) -> dict[str, torch.Tensor]:
    """Outputs that are the strategy's own targets: confidence ``c0`` at the positives, exact offsets."""
    h, w = H // S, W // S
    zeros = {name: torch.zeros(1, ch, h, w) for name, ch in strategy.heads.items()}
    enc = strategy.encode(zeros, kpts, torch.full(kpts.shape[:3], 2))
    conf_t = enc.targets["conf"].value
    out = {"conf": torch.where(conf_t > 0.5, torch.tensor(math.log(c0 / (1 - c0))), torch.tensor(-30.0)),
           "offset": enc.targets["offset"].value}
    if strategy.refine:
        out["local"] = enc.targets["local"].value
    return out


def match_all(dec, kpts: torch.Tensor, tol: float) -> None:
    """Each type returns exactly the ground-truth keypoints, each within ``tol`` pixels."""
    for k in range(K):
        got = dec.xy[0, k][dec.valid[0, k]]
        gt = kpts[0, :, k]
        assert got.shape[0] == gt.shape[0], f"type {k}: {got.shape[0]} keypoints for {gt.shape[0]} targets"
        d = torch.cdist(gt, got)
        assert float(d.min(dim=1).values.max()) <= tol
        assert float(d.min(dim=0).values.max()) <= tol


@pytest.mark.parametrize("assign,refine", [("fixed", True), ("adaptive", True), ("fixed", False)])
@settings(max_examples=15, deadline=None)
# frac stops at 0.999: the decoded confidence is a float32 sigmoid of the oracle's logit, so a gamma within
# float32 rounding of c0 (frac = 1 - 1e-16) may sit above it; "below the oracle confidence" means by more than that.
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), c0=st.floats(0.05, 0.99),
       frac=st.floats(1e-4, 0.999))
def test_decode_multi_recovers_every_keypoint_from_anchor_oracle(assign, refine, seed, n, c0, frac):
    strategy = AnchorStrategy(K, S, (W, H), assign=assign, topk=5, refine=refine)
    kpts = crowd_keypoints(seed, n, min_cells=5.0)
    dec = decode_multi(strategy, anchor_oracle(strategy, kpts, c0), gamma=frac * c0)
    match_all(dec, kpts, tol=1e-3)
    assert torch.allclose(dec.score[dec.valid], torch.tensor(c0), atol=1e-5)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5), c0=st.floats(0.05, 1.0),
       frac=st.floats(1e-3, 0.999))
def test_decode_multi_recovers_every_keypoint_from_heatmap_oracle(seed, n, c0, frac):
    strategy = HeatmapStrategy(K, S, (W, H), sigma=2.0)
    kpts = crowd_keypoints(seed, n, min_cells=4.0)
    hm = torch.zeros(1, K, H // S, W // S)
    target = strategy.encode({"heatmap": hm}, kpts, torch.full(kpts.shape[:3], 2)).targets["heatmap"].value
    dec = decode_multi(strategy, {"heatmap": c0 * target}, gamma=frac * c0)
    # The heatmap quantises to the cell grid (rounded cell, then a quarter-cell shift).
    match_all(dec, kpts, tol=0.75 * S * math.sqrt(2))


def test_gamma_above_the_oracle_confidence_returns_nothing():
    strategy = AnchorStrategy(K, S, (W, H), assign="fixed", topk=5)
    kpts = crowd_keypoints(0, 3, 5.0)
    dec = decode_multi(strategy, anchor_oracle(strategy, kpts, 0.4), gamma=0.41)
    assert not dec.valid.any()


def test_merge_keeps_the_most_confident_and_is_greedy():
    # Points on a line 1 px apart, radius 1.5: greedy keeps 0, drops 1 (absorbed by 0), keeps 2, drops 3.
    xy = torch.tensor([[[[0.0, 0], [1, 0], [2, 0], [3, 0]]]])
    score = torch.tensor([[[0.9, 0.8, 0.7, 0.6]]])
    kept = merge_close(xy, score, torch.ones(1, 1, 4, dtype=torch.bool), 1.5)
    assert kept[0, 0].tolist() == [True, False, True, False]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
# The legacy ONNX exporter traces with torch.jit.trace, which torch marks deprecated: the trace is what it reads.
@pytest.mark.filterwarnings("ignore:`torch.jit.trace` is deprecated:FutureWarning")
def test_decode_multi_traces_to_a_static_graph():
    strategy = AnchorStrategy(K, S, (W, H), assign="fixed", topk=5)
    outputs = anchor_oracle(strategy, crowd_keypoints(1, 2, 5.0), 0.8)

    def fn(conf, offset, local):
        d = decode_multi(strategy, {"conf": conf, "offset": offset, "local": local}, gamma=0.1, max_candidates=8)
        return d.xy, d.score, d.valid

    traced = torch.jit.trace(fn, (outputs["conf"], outputs["offset"], outputs["local"]))
    a, b = traced(outputs["conf"], outputs["offset"], outputs["local"]), fn(outputs["conf"], outputs["offset"], outputs["local"])
    assert all(torch.equal(x, y) for x, y in zip(a, b))


# ---- the overlapping-targets rule of AnchorStrategy.encode, on a hand-built crowded case ------------------
# A 2 x 4 map at stride 4: cell centres x = 1.5, 5.5, 9.5, 13.5 and y = 1.5, 5.5. Two instances of the one
# keypoint type at g1 = (3.5, 3.5) and g2 = (11.5, 3.5); with top-k = 8 every cell is a positive of both.
G1, G2 = (3.5, 3.5), (11.5, 3.5)


def _crowded(predicted_cols: list[tuple[float, float]]) -> tuple[AnchorStrategy, dict, torch.Tensor]:
    strategy = AnchorStrategy(1, 4, (16, 8), topk=8, sigma=4.0, refine=False, assign="adaptive")
    centres_x = torch.tensor([1.5, 5.5, 9.5, 13.5])
    centres_y = torch.tensor([1.5, 5.5])
    off = torch.zeros(1, 2, 2, 4)
    for col, (px, py) in enumerate(predicted_cols):  # every cell of a column predicts the same point
        off[0, 0, :, col] = (px - centres_x[col]) / 4
        off[0, 1, :, col] = (py - centres_y) / 4
    kpts = torch.tensor([[[G1], [G2]]])  # (1, N=2, K=1, 2)
    return strategy, {"conf": torch.zeros(1, 1, 2, 4), "offset": off}, kpts


def _owners(strategy, outputs, kpts) -> list[list[str]]:
    enc = strategy.encode(outputs, kpts, torch.full((1, 2, 1), 2))
    assert torch.all(enc.targets["conf"].value == 1)  # every cell is a positive
    off = enc.targets["offset"].value[0]  # (2, 2, 4): target - centre, in cells
    xs = torch.tensor([1.5, 5.5, 9.5, 13.5]) + 4 * off[0]
    ys = torch.tensor([[1.5], [5.5]]) + 4 * off[1]
    names = []
    for r in range(2):
        row = []
        for c in range(4):
            p = (float(xs[r, c]), float(ys[r, c]))
            row.append("g1" if np.allclose(p, G1, atol=1e-5) else "g2" if np.allclose(p, G2, atol=1e-5) else "?")
        names.append(row)
    return names


def test_adaptive_cell_claimed_by_two_instances_goes_to_the_higher_score():
    # Columns predict g1, g2, g1, g2: column 1 is nearer g1 but predicts g2 exactly, so s(g2) = 0.5 beats
    # s(g1) = 0.5 * exp(-64 / 32) there; column 2 is nearer g2 but predicts g1.
    strategy, outputs, kpts = _crowded([G1, G2, G1, G2])
    assert _owners(strategy, outputs, kpts) == [["g1", "g2", "g1", "g2"]] * 2


def test_fixed_cell_claimed_by_two_instances_goes_to_the_nearer_target():
    strategy, outputs, kpts = _crowded([G1, G2, G1, G2])
    strategy.assign = "fixed"  # same heads; the score is minus the cell distance
    assert _owners(strategy, outputs, kpts) == [["g1", "g1", "g2", "g2"]] * 2
