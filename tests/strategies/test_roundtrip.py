"""Round trips: decoding outputs equal to the encoded targets recovers the ground truth.

- every registered strategy: within half a cell per axis, for keypoints between the outermost cell centres;
- heatmap: within the quantisation of the map (the target peak sits on the rounded cell);
- regression: exactly (float precision), also for points outside the crop;
- anchors: "perfect" outputs (large logits at the positives, offsets equal to their targets) recover the
  keypoint to 1e-3 px, also outside the crop.
"""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

from adaanchor.coords import cell_to_input, input_to_cell
from adaanchor.strategies import STRATEGY_NAMES, build_strategy
from adaanchor.strategies.assign_targets import offsets_to

W, H = 32, 24
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def dense_outputs(st, b: int, seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    h, w = H // st.stride, W // st.stride
    return {hd: torch.randn(b, ch, h, w, generator=gen) for hd, ch in st.heads.items()}


def perfect_outputs(targets) -> dict[str, torch.Tensor]:
    """Outputs a perfectly trained anchor model would give: targets at every cell, confident positives."""
    out = {"conf": torch.where(targets["conf"].value > 0.5, 30.0, -30.0)}
    for head in ("offset", "local"):
        if head in targets:
            out[head] = targets[head].value.clone()
    return out


def perfect_from_targets(st, targets) -> dict[str, torch.Tensor]:
    """Outputs equal to the targets, for any strategy: focal-loss heads are logits, so their 0/1 targets become
    confident logits (+-30); every other head is its target value."""
    return {head: torch.where(t.value > 0.5, 30.0, -30.0) if st.losses.get(head, ("",))[0] == "focal"
            else t.value.clone() for head, t in targets.items()}


def xy_lists(k: int, lo_x: float, hi_x: float, lo_y: float, hi_y: float):
    pt = hst.tuples(
        hst.floats(lo_x, hi_x, allow_nan=False, allow_infinity=False),
        hst.floats(lo_y, hi_y, allow_nan=False, allow_infinity=False),
    )
    return hst.lists(pt, min_size=k, max_size=k)


# ---- every registered strategy ------------------------------------------------------------------


@pytest.mark.parametrize("name", STRATEGY_NAMES)
@SETTINGS
@given(xy=xy_lists(3, 1.5, W - 2.5, 1.5, H - 2.5), seed=hst.integers(0, 2**16))
def test_registered_strategy_roundtrip_within_half_a_cell(name, xy, seed):
    """Encode, take outputs equal to the targets, decode: each keypoint comes back within half a cell per axis
    (the heatmap's quantisation; the other strategies are exact)."""
    stride = 4
    kp = torch.tensor(xy, dtype=torch.float32).view(1, 1, 3, 2)
    st = build_strategy({"name": name, "topk": 5}, 3, stride, (W, H))
    outputs = dense_outputs(st, 1, seed) if "coords" not in st.heads else {"coords": torch.zeros(1, 6)}
    enc = st.encode(outputs, kp, torch.full((1, 1, 3), 2))
    dec = st.decode(perfect_from_targets(st, enc.targets))
    assert (dec.xy - kp[:, 0]).abs().max() <= stride / 2 + 1e-3


# ---- heatmap ------------------------------------------------------------------------------------


@SETTINGS
@given(stride=hst.sampled_from([2, 4, 8]), data=hst.data())
def test_heatmap_roundtrip_within_quantisation(stride, data):
    k = 3
    w, h = W // stride, H // stride
    # Continuous cell coordinates whose rounded cell lies on the map.
    uv = data.draw(xy_lists(k, -0.49, w - 1 + 0.49, -0.49, h - 1 + 0.49))
    uv = torch.tensor(uv, dtype=torch.float32)
    kp = cell_to_input(uv, stride).view(1, 1, k, 2)
    st = build_strategy({"name": "heatmap"}, k, stride, (W, H))
    enc = st.encode(dense_outputs(st, 1, 0), kp, torch.full((1, 1, k), 2))
    dec = st.decode({"heatmap": enc.targets["heatmap"].value})
    err = dec.xy[0] - kp[0, 0]
    # The Gaussian peaks at the rounded cell and is symmetric there, so the quarter-cell shift is zero and the
    # decoded point is that cell's centre: at most half a cell off per axis, stride * sqrt(2) / 2 in all.
    assert (err.abs() <= stride / 2 + 1e-4).all()
    assert (err.norm(dim=-1) <= stride * math.sqrt(2) / 2 + 1e-4).all()
    expected = cell_to_input(torch.round(input_to_cell(kp[0, 0], stride)), stride)
    torch.testing.assert_close(dec.xy[0], expected, rtol=0, atol=1e-4)
    torch.testing.assert_close(dec.score[0], torch.ones(k))


def test_heatmap_quantisation_bound_is_reached():
    """A keypoint halfway between cells is decoded half a cell away on each axis (bound is tight)."""
    stride = 4
    uv = torch.tensor([[2.5, 1.5]])
    kp = cell_to_input(uv, stride).view(1, 1, 1, 2)
    st = build_strategy({"name": "heatmap"}, 1, stride, (W, H))
    enc = st.encode(dense_outputs(st, 1, 0), kp, torch.full((1, 1, 1), 2))
    dec = st.decode({"heatmap": enc.targets["heatmap"].value})
    torch.testing.assert_close((dec.xy[0, 0] - kp[0, 0, 0]).abs(), torch.tensor([2.0, 2.0]))


def test_heatmap_quarter_shift_towards_higher_neighbour():
    st = build_strategy({"name": "heatmap"}, 2, 4, (W, H))
    hm = torch.zeros(1, 2, H // 4, W // 4)
    hm[0, 0, 3, 4] = 1.0
    hm[0, 0, 3, 5] = 0.6  # right neighbour higher than left (0) -> +0.25 cell in x
    hm[0, 0, 2, 4] = 0.2  # upper neighbour higher than lower (0) -> -0.25 cell in y
    hm[0, 1, 0, 0] = 0.9  # a peak on the border gets no shift
    hm[0, 1, 0, 1] = 0.5
    dec = st.decode({"heatmap": hm})
    # cell (row 3, col 4) centre = (4 * 4 + 1.5, 3 * 4 + 1.5) = (17.5, 13.5); a quarter cell is 1 px.
    torch.testing.assert_close(dec.xy[0, 0], torch.tensor([18.5, 12.5]))
    torch.testing.assert_close(dec.xy[0, 1], torch.tensor([1.5, 1.5]))
    torch.testing.assert_close(dec.score[0], torch.tensor([1.0, 0.9]))
    torch.testing.assert_close(dec.anchor[0], torch.tensor([[17.5, 13.5], [1.5, 1.5]]))


def test_heatmap_keypoint_far_outside_gets_zero_weight():
    st = build_strategy({"name": "heatmap"}, 2, 4, (W, H))
    kp = torch.tensor([[[[10.0, 10.0], [-200.0, 10.0]]]])
    enc = st.encode(dense_outputs(st, 1, 0), kp, torch.full((1, 1, 2), 2))
    t = enc.targets["heatmap"]
    assert (t.weight[0, 0] == 1).all() and (t.weight[0, 1] == 0).all()
    assert (t.value[0, 1] == 0).all()


# ---- regression ---------------------------------------------------------------------------------


@SETTINGS
@given(xy=xy_lists(4, -2.0 * W, 3.0 * W, -2.0 * H, 3.0 * H))
def test_regression_roundtrip_is_exact(xy):
    st = build_strategy({"name": "regression"}, 4, 4, (W, H))
    kp = torch.tensor(xy, dtype=torch.float32).view(1, 1, 4, 2)
    enc = st.encode({"coords": torch.zeros(1, 8)}, kp, torch.full((1, 1, 4), 2))
    dec = st.decode({"coords": enc.targets["coords"].value})
    torch.testing.assert_close(dec.xy, kp[:, 0], rtol=1e-6, atol=1e-4)
    assert dec.score is None and dec.anchor is None
    # Normalised by the input size: the crop's far corner is 1.
    torch.testing.assert_close(enc.targets["coords"].value.view(4, 2), kp[0, 0] / torch.tensor([W, H]))


# ---- anchors ------------------------------------------------------------------------------------

ANCHOR_CFGS = {
    "fixanchor": {"name": "fixanchor", "topk": 5, "refine": False},
    "adaanchor": {"name": "adaanchor", "topk": 5, "refine": False},
    "adaanchor-add": {"name": "adaanchor", "topk": 1, "refine": False, "fusion": "add"},
    "fixanchor-refine": {"name": "fixanchor", "topk": 5},
    "adaanchor-refine": {"name": "adaanchor", "topk": 5},
}


def _anchor_roundtrip(cfg: dict, kp: torch.Tensor, seed: int, stride: int = 4) -> torch.Tensor:
    """Encode, then decode the outputs of a model that is right everywhere: confident at the positives and, at
    every cell, the offsets to the target. The offset targets are sparse (the supervised cells only): they must
    equal those offsets where they are given."""
    k = kp.shape[2]
    st = build_strategy(cfg, k, stride, (W, H))
    enc = st.encode(dense_outputs(st, kp.shape[0], seed), kp, torch.full(kp.shape[:3], 2))
    out = perfect_outputs(enc.targets)
    h, w = out["conf"].shape[-2:]
    everywhere = offsets_to(kp.float().permute(0, 2, 1, 3), None, h, w, stride)  # (B, 2K, h, w) cells
    for head in ("offset", "local"):
        if head in enc.targets:
            t = enc.targets[head]
            torch.testing.assert_close(torch.take(everywhere, t.index), t.values, rtol=0, atol=0)
            out[head] = everywhere.clone()
    dec = st.decode(out)
    assert (dec.score > 0.999).all()
    return dec.xy


@pytest.mark.parametrize("cfg_id", [c for c in ANCHOR_CFGS if "refine" not in c])
@SETTINGS
@given(xy=xy_lists(3, -40.0, W + 40.0, -40.0, H + 40.0), seed=hst.integers(0, 2**16))
def test_anchor_roundtrip_anywhere(cfg_id, xy, seed):
    kp = torch.tensor(xy, dtype=torch.float32).view(1, 1, 3, 2)
    xy_dec = _anchor_roundtrip(ANCHOR_CFGS[cfg_id], kp, seed)
    torch.testing.assert_close(xy_dec, kp[:, 0], rtol=0, atol=1e-3)


@pytest.mark.parametrize("cfg_id", [c for c in ANCHOR_CFGS if "refine" in c])
@SETTINGS
@given(xy=xy_lists(3, 1.5, 29.5, 1.5, 21.5), seed=hst.integers(0, 2**16))
def test_anchor_refine_roundtrip_between_cell_centres(cfg_id, xy, seed):
    """With local refinement the round trip is exact for keypoints between the outermost cell centres."""
    kp = torch.tensor(xy, dtype=torch.float32).view(1, 1, 3, 2)
    xy_dec = _anchor_roundtrip(ANCHOR_CFGS[cfg_id], kp, seed)
    torch.testing.assert_close(xy_dec, kp[:, 0], rtol=0, atol=1e-3)


@pytest.mark.parametrize("x", [0.0, 31.0, -3.0, 45.0])
def test_anchor_refine_roundtrip_near_and_outside_border(x):
    """x = 0 and x = 31 are pixel centres inside the 32-px crop; -3 and 45 are outside it."""
    kp = torch.tensor([[[[x, 11.0]]]])
    xy_dec = _anchor_roundtrip(ANCHOR_CFGS["adaanchor-refine"], kp, 0)
    torch.testing.assert_close(xy_dec, kp[:, 0], rtol=0, atol=1e-3)


@pytest.mark.parametrize("name", ["fixanchor", "adaanchor"])
@pytest.mark.parametrize("x, y", [(-12.0, 11.0), (-3.0, 11.0), (45.0, 11.0), (60.0, -20.0), (16.0, 40.0), (10.0, 12.0)])
def test_refinement_trained_on_its_own_targets_reaches_keypoints_off_the_map(name, x, y):
    """Outputs equal to the targets, the local map only where it is supervised (as a trained model has it): the
    decoding reads the local map at the coarse point clamped onto the outer cell centres, so it must be supervised
    there. Supervised around the target itself (``local_about=target``), a keypoint more than ``local_radius``
    cells off the map came back at the map's edge (13.6 px off, and 0.7-1.2 px worse Inv.Out on the demo)."""
    kp = torch.tensor([[[[x, y]]]])
    for about in ("clamped", "target"):
        st = build_strategy({"name": name, "topk": 5, "local_about": about}, 1, 4, (W, H))
        enc = st.encode(dense_outputs(st, 1, 0), kp, torch.full((1, 1, 1), 2))
        dec = st.decode({h: v.value if h != "conf" else v for h, v in
                         {**enc.targets, "conf": perfect_outputs(enc.targets)["conf"]}.items()})
        err = float((dec.xy - kp[:, 0]).abs().max())
        far = x < 1.5 - 8 or x > 29.5 + 8 or y < 1.5 - 8 or y > 21.5 + 8  # beyond local_radius = 2 cells
        assert err < 1e-3 if about == "clamped" or not far else err > 4.0, (about, err)


@pytest.mark.parametrize("cfg_id", list(ANCHOR_CFGS))
def test_anchor_roundtrip_batched_multi_instance_first_valid(cfg_id):
    """B=2 with padding: the valid instance is recovered whatever the padded one holds."""
    kp = torch.tensor([[[[7.0, 9.0], [20.0, 3.0]], [[100.0, -50.0], [0.0, 0.0]]],
                       [[[25.0, 17.0], [4.0, 20.0]], [[3.0, 3.0], [3.0, 3.0]]]])  # (B=2, N=2, K=2, 2)
    vis = torch.tensor([[[2, 1], [0, 0]], [[1, 2], [0, 0]]])
    st = build_strategy(ANCHOR_CFGS[cfg_id], 2, 4, (W, H))
    enc = st.encode(dense_outputs(st, 2, 7), kp, vis)
    dec = st.decode(perfect_outputs(enc.targets))
    torch.testing.assert_close(dec.xy, kp[:, 0], rtol=0, atol=1e-3)


@pytest.mark.parametrize(
    "cfg",
    [{"name": n} for n in STRATEGY_NAMES] + list(ANCHOR_CFGS.values()),
    ids=list(STRATEGY_NAMES) + list(ANCHOR_CFGS),
)
def test_invisible_keypoints_are_targets_like_visible_ones(cfg):
    gen = torch.Generator().manual_seed(11)
    k = 4
    st = build_strategy(cfg, k, 4, (W, H))
    outputs = dense_outputs(st, 2, 3) if "coords" not in st.heads else {"coords": torch.randn(2, 2 * k)}
    kp = torch.rand(2, 1, k, 2, generator=gen) * torch.tensor([W + 20.0, H + 20.0]) - 10
    enc2 = st.encode(outputs, kp, torch.full((2, 1, k), 2))
    enc1 = st.encode(outputs, kp, torch.full((2, 1, k), 1))
    for head in enc2.targets:
        torch.testing.assert_close(enc1.targets[head].value, enc2.targets[head].value, rtol=0, atol=0)
        torch.testing.assert_close(enc1.targets[head].weight, enc2.targets[head].weight, rtol=0, atol=0)
    assert any(t.weight.sum() > 0 for t in enc1.targets.values())
