"""Inference from the features (strategies/anchor_decode.py): the anchor strategies' ``predict`` reads the offset
and local heads only at the anchor cell and the coarse point, and gives the keypoints, scores and anchors of
``decode(model(x))`` (up to float rounding), for every anchor strategy, map size and point outside the map."""

from __future__ import annotations

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as hs

from adaanchor.coords import cell_centers
from adaanchor.models.backbones import build_backbone
from adaanchor.models.net import KeypointNet
from adaanchor.strategies import build_strategy
from adaanchor.strategies.anchor_decode import head_matrices

K = 5


def _system(name: str, size: tuple[int, int], refine: bool = True, scale: float = 3.0, seed: int = 0):
    torch.manual_seed(seed)
    st = build_strategy({"name": name, "refine": refine}, K, 4, size)
    model = KeypointNet(build_backbone("tiny", tiny_width=8), st.heads).eval()
    with torch.no_grad():  # offsets of several cells, so that coarse points leave the map and are clamped
        for n in ("offset", "local"):
            if n in model.heads:
                model.heads[n].weight.normal_(std=scale)
                model.heads[n].bias.normal_(std=scale)
    return st, model


def _both(st, model, x):
    with torch.no_grad():
        return st.decode(model(x)), st.predict(model, x)


@pytest.mark.parametrize("name", ["adaanchor", "fixanchor", "localanchor", "alignanchor"])
@pytest.mark.parametrize("refine", [True, False])
def test_predict_equals_decode_of_the_full_outputs(name, refine):
    st, model = _system(name, (40, 52), refine)
    x = torch.randn(3, 3, 52, 40)
    full, fast = _both(st, model, x)
    assert torch.equal(fast.anchor, full.anchor)
    assert torch.allclose(fast.score, full.score, atol=1e-6)
    assert torch.allclose(fast.xy, full.xy, atol=1e-3)
    moved = (full.xy - full.anchor).abs().amax(-1)
    assert moved.max() > 4  # some points are far from their anchor: the clamp and the border are exercised


@settings(max_examples=15, deadline=None)
@given(w=hs.integers(4, 60), h=hs.integers(4, 60), scale=hs.floats(0.01, 20.0), seed=hs.integers(0, 2**16))
@example(w=4, h=6, scale=1.0, seed=0)  # a near-tie of two cells
def test_predict_equals_decode_for_any_map_size(w, h, scale, seed):
    """Input sizes that do not divide by the stride (the map is cropped), maps of a single row or column."""
    st, model = _system("adaanchor", (w, h), scale=scale, seed=seed)
    x = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        outputs = model(x)
    full, fast = st.decode(outputs), _both(st, model, x)[1]
    same = _same_anchor_but_at_near_ties(outputs["conf"], full.anchor, fast.anchor, st.stride)
    tol = 1e-5 * max(1.0, float(full.xy.abs().max()))
    assert torch.allclose(fast.xy[same], full.xy[same], atol=max(tol, 1e-3))


def _same_anchor_but_at_near_ties(conf, full_anchor, fast_anchor, stride):
    """Where the two paths pick another cell, the full map's confidence there is the maximum up to float rounding
    (a near-tie: the fast path's matrix product rounds otherwise than the convolution; seen on a 4x6 input whose
    features are 1e-7, two cells 2e-7 apart). Returns the (B, K) mask of keypoints with the same anchor."""
    b, k, h, w = conf.shape
    flat = conf.reshape(b, k, h * w)
    centres = cell_centers(h, w, stride)  # (hw, 2)
    at_fast = (fast_anchor.unsqueeze(-2) == centres).all(-1)  # (B, K, hw): the fast path's cell
    assert torch.equal(at_fast.sum(-1), torch.ones(b, k, dtype=torch.long)), "an anchor that is no cell centre"
    gap = flat.amax(-1) - flat[at_fast].view(b, k)
    assert float(gap.max()) <= 1e-5 * max(1.0, float(flat.abs().max())), gap
    return (fast_anchor == full_anchor).all(-1)


def test_nan_weights_give_nan_keypoints_not_a_crash():
    st, model = _system("adaanchor", (32, 32))
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    full, fast = _both(st, model, torch.randn(2, 3, 32, 32))
    assert torch.isnan(full.xy).all() and torch.isnan(fast.xy).all()


def test_infinite_offsets_are_clamped_as_in_the_full_decoding():
    st, model = _system("adaanchor", (32, 32))
    with torch.no_grad():
        model.heads["offset"].bias[0] = float("inf")  # type 0's x offset
        model.heads["offset"].bias[3] = float("-inf")  # type 1's y offset
    full, fast = _both(st, model, torch.randn(2, 3, 32, 32))
    assert torch.isfinite(full.xy).all() and torch.allclose(fast.xy, full.xy, atol=1e-3)


def test_a_model_without_the_interface_runs_in_full():
    """A wrapped model (no features / head_matrix) and a head that is not a 1x1 conv: decode(model(x))."""
    from adaanchor.models.net import GroupedBranches

    st, model = _system("adaanchor", (32, 32))

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner(x)

    x = torch.randn(1, 3, 32, 32)
    full, fast = _both(st, Wrapped(model), x)
    assert torch.equal(full.xy, fast.xy)
    model.heads["local"] = GroupedBranches(model.heads["local"].in_channels, 2 * K, K, 4).eval()
    assert model.head_matrix("local") is None and head_matrices(model, ("conf", "offset", "local")) is None
    full, fast = _both(st, model, x)
    assert torch.equal(full.xy, fast.xy)


def test_heatmap_predict_is_its_decode():
    torch.manual_seed(0)
    st = build_strategy({"name": "heatmap"}, K, 4, (32, 32))
    model = KeypointNet(build_backbone("tiny", tiny_width=8), st.heads).eval()
    full, fast = _both(st, model, torch.randn(2, 3, 32, 32))
    assert torch.equal(full.xy, fast.xy) and torch.equal(full.score, fast.score)
