"""The strategies as a researcher drives them from Python, at the edges an audit found: a NaN prediction where no
target reads it, NaN placeholders of unlabelled keypoints, options that ``build_config`` would refuse, channels-last
outputs, keypoints without the instance axis, the quality focal loss at a saturated logit, bfloat16 metrics input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from adaanchor.errors import AdaAnchorError
from adaanchor.metrics.keypoint import single_keypoint_metrics
from adaanchor.strategies import build_strategy, compute_loss
from adaanchor.strategies.centre import build_centre
from adaanchor.strategies.losses import quality_focal_loss
from adaanchor.strategies.tags import build_bottomup

K, S, H, W = 3, 4, 6, 8


def _outputs(st, b: int = 2, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {h: torch.randn(b, c, H, W, generator=g) if h != "coords" else torch.randn(b, c, generator=g)
            for h, c in st.heads.items()}


def test_a_nan_local_offset_no_target_reads_does_not_pick_the_positives():
    """The ranking of a cell whose bilinear read touches a NaN was NaN, which top-k ranks highest: those cells, 6
    cells from the target, became the positives while the loss stayed finite (no skipped batch)."""
    st = build_strategy({"name": "adaanchor", "topk": 5}, 1, S, (W * S, H * S))
    outs = _outputs(st, b=1)
    kp, vis = torch.tensor([[[[5.0, 5.0]]]]), torch.full((1, 1, 1), 2)
    clean = st.encode(outs, kp, vis).targets["offset"].index.sort().values
    outs["local"][0, 0, 5, 7] = float("nan")
    assert torch.equal(st.encode(outs, kp, vis).targets["offset"].index.sort().values, clean)


@pytest.mark.parametrize("build,n", [
    (lambda: build_strategy({"name": "heatmap"}, K, S, (W * S, H * S)), 1),
    (lambda: build_strategy({"name": "regression"}, K, S, (W * S, H * S)), 1),
    (lambda: build_strategy({"name": "adaanchor"}, K, S, (W * S, H * S)), 1),
    (lambda: build_bottomup({"name": "heatmap"}, {}, K, S, (W * S, H * S)), 2),
    (lambda: build_centre({"name": "heatmap"}, {}, K, S, (W * S, H * S)), 2),
    (lambda: build_centre({"name": "adaanchor"}, {}, K, S, (W * S, H * S)), 2),
], ids=["heatmap", "regression", "adaanchor", "bottomup-heatmap", "centre-heatmap", "centre-adaanchor"])
def test_nan_placeholders_of_unlabelled_keypoints_leave_targets_and_loss_finite(build, n):
    """DeepLabCut and SLEAP exports write an unlabelled point as NaN: NaN * 0 made the heatmap's, the regression's
    and the person centres' targets NaN, and every such batch was skipped."""
    st = build()
    kp = torch.rand(2, n, K, 2) * torch.tensor([W * S, H * S], dtype=torch.float32)
    vis = torch.full((2, n, K), 2)
    kp[0, 0, 1], vis[0, 0, 1] = float("nan"), 0
    outs = _outputs(st)
    enc = st.encode(outs, kp, vis)
    for name, t in enc.targets.items():
        vals = t.value if hasattr(t, "value") else t.values
        assert torch.isfinite(vals).all(), name
    assert torch.isfinite(compute_loss(outs, enc.targets, st.losses, 2.0)["loss"])


@pytest.mark.parametrize("options,says", [
    ({"fusion": "MUL"}, "unknown strategy.fusion 'MUL'"),  # scored as add
    ({"refine": "false"}, "config key 'strategy.refine' must be true or false, got 'false'"),  # was True
    ({"ignore_unlabelled": "no"}, "config key 'strategy.ignore_unlabelled' must be true or false"),
    ({"topk": 0}, "config key 'strategy.topk': the value must be >= 1, got 0"),  # no positive at all
    ({"topk": 2.7}, "config key 'strategy.topk' must be an integer, got 2.7"),  # was 2
    ({"sigma": 0}, "config key 'strategy.sigma': the value must be > 0, got 0"),  # ZeroDivisionError
    ({"focal_gamma": -1}, "config key 'strategy.focal_gamma': the value must be >= 0"),
])
def test_build_strategy_refuses_what_build_config_refuses(options, says):
    with pytest.raises(AdaAnchorError) as e:
        build_strategy({"name": "adaanchor", **options}, K, S, (W * S, H * S))
    assert says in str(e.value)


@pytest.mark.parametrize("name", ["adaanchor", "localanchor"])
def test_channels_last_outputs_give_the_targets_of_contiguous_ones(name):
    """The labelled-rows path failed with 'view size is not compatible' on a channels-last head's outputs."""
    st = build_strategy({"name": name}, K, S, (W * S, H * S))
    outs = _outputs(st)
    kp = torch.rand(2, 1, K, 2) * 20
    vis = torch.tensor([[[2, 0, 2]], [[2, 2, 2]]])
    a = st.encode({k: v.to(memory_format=torch.channels_last) for k, v in outs.items()}, kp, vis).targets
    b = st.encode(outs, kp, vis).targets
    for head in b:
        va, vb = (a[head].value, b[head].value) if hasattr(b[head], "value") else (a[head].values, b[head].values)
        assert torch.equal(va, vb), head


@pytest.mark.parametrize("name", ["heatmap", "adaanchor"])
def test_keypoints_without_the_instance_axis_are_refused(name):
    """(B, K, 2) keypoints were broadcast into wrong heatmap targets without a word."""
    st = build_strategy({"name": name}, K, S, (W * S, H * S))
    with pytest.raises(ValueError, match=r"^keypoints must be \(B, N, K=3, 2\), got \(2, 3, 2\)$"):
        st.encode(_outputs(st), torch.rand(2, K, 2), torch.full((2, 1, K), 2))
    with pytest.raises(ValueError, match=r"^visibility must be \(B, N, K\) = \(2, 1, 3\) like the keypoints"):
        st.encode(_outputs(st), torch.rand(2, 1, K, 2), torch.full((2, K), 2))


def test_quality_focal_loss_gradient_is_finite_below_gamma_1_at_a_saturated_logit():
    x = torch.tensor([-120.0, -3.0, 0.5, 2.0], requires_grad=True)
    y = torch.tensor([0.0, 0.0, 0.6, 1.0])
    loss = quality_focal_loss(x, y, torch.ones(4), gamma=0.5)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(x.grad).all() and x.grad[0] == 0
    ref = quality_focal_loss(x.detach()[1:], y[1:], torch.ones(3), gamma=0.5)  # the saturated element adds 0
    assert loss.item() * max(1.0, y.sum().item()) == pytest.approx(ref.item() * max(1.0, y[1:].sum().item()))


def test_metrics_take_bfloat16_tensors():
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 50, (4, K, 2))
    pred = torch.tensor(gt + 1.0, dtype=torch.bfloat16)
    out = single_keypoint_metrics(pred, None, gt, np.full((4, K), 2), bbox_size=np.full(4, 60.0))
    assert out["vis_error"] == pytest.approx(np.sqrt(2), abs=0.2)


@pytest.mark.parametrize("name", ["alignanchor", "adaanchor-soft"])
def test_every_soft_positive_carries_a_tag_target(name):
    """Bottom-up tags were supervised where the confidence target exceeded 0.5: with soft targets (alignanchor) 99
    of 130 positives had no tag target."""
    from adaanchor.strategies.local_offsets import multi_person_section

    section = {"name": "alignanchor"} if name == "alignanchor" else {"name": "adaanchor", "soft_targets": True}
    st = build_bottomup(multi_person_section(section), {}, K, S, (W * S * 2, H * S * 2))
    outs = {h: torch.randn(2, c, H * 2, W * 2, generator=torch.Generator().manual_seed(1)) for h, c in st.heads.items()}
    kp = torch.rand(2, 3, K, 2, generator=torch.Generator().manual_seed(2)) * torch.tensor([W * S * 2, H * S * 2])
    enc = st.encode(outs, kp, torch.full((2, 3, K), 2), step=10**6)
    positives = enc.targets["conf"].value > 0
    assert positives.sum() > 0 and (enc.targets["tags"].weight[positives] > 0).all()


def test_no_instance_slot_is_a_clear_error():
    st = build_strategy({"name": "adaanchor"}, K, S, (W * S, H * S))
    with pytest.raises(ValueError, match=r"^keypoints have no instance slot \(N = 0\)"):
        st.encode(_outputs(st), torch.zeros(2, 0, K, 2), torch.zeros(2, 0, K))


@pytest.mark.parametrize("cfg, args, error, says", [
    ({"name": "adaanchor", "topkk": 5}, (K, S, (32, 24)), AdaAnchorError,
     r"unknown config key 'strategy.topkk'. Did you mean 'strategy.topk'\?"),
    ({"name": "heatmap"}, (K, 0, (32, 24)), ValueError, r"stride: expected an integer >= 1, got 0"),
    ({"name": "heatmap"}, (0, S, (32, 24)), ValueError, r"num_keypoints: expected an integer >= 1, got 0"),
    ({"name": "heatmap"}, (K, S, (32,)), ValueError, r"input_size: expected \(W, H\), two integers >= 1"),
    ({"name": "heatmap"}, (K, 2.5, (32, 24)), ValueError, r"stride: expected an integer >= 1, got 2.5"),
    (5, (K, S, (32, 24)), TypeError, r"cfg: expected the strategy config section \(a mapping\) or a strategy name"),
])
def test_build_strategy_refuses_unknown_keys_and_impossible_geometry(cfg, args, error, says):
    """``topkk=5`` was ignored (the run used topk 20); a stride of 0 decoded every keypoint at (-0.5, -0.5); a
    string section was an AttributeError."""
    with pytest.raises(error, match=says):
        build_strategy(cfg, *args)


def test_build_strategy_takes_a_name_alone_and_another_strategys_key():
    st = build_strategy("adaanchor", K, S, (W * S, H * S))
    assert st.name == "adaanchor" and st.topk == build_strategy({"name": "adaanchor"}, K, S, (W * S, H * S)).topk
    assert build_strategy({"name": "heatmap", "topk": 3}, K, S, (W * S, H * S)).name == "heatmap"  # a flat section


@pytest.mark.parametrize("name", ["heatmap", "regression", "adaanchor"])
def test_encode_refuses_arrays_non_finite_labelled_points_and_unknown_visibilities(name):
    """NaN targets came out of a NaN labelled point and a visibility 3 passed; numpy keypoints were an
    AttributeError ('numpy.ndarray' object has no attribute 'dim')."""
    st = build_strategy({"name": name}, K, S, (W * S, H * S))
    outs = _outputs(st, b=1)
    kp, vis = torch.full((1, 1, K, 2), 10.0), torch.tensor([[[2, 1, 0]]])
    st.encode(outs, kp, vis)  # the baseline passes
    with pytest.raises(TypeError, match=r"keypoints: expected a torch.Tensor, got ndarray"):
        st.encode(outs, kp.numpy(), vis)
    bad = kp.clone()
    bad[0, 0, 1, 0] = float("nan")
    with pytest.raises(ValueError, match=r"keypoints: labelled point \(b, n, k\) = \(0, 0, 1\) is not finite"):
        st.encode(outs, bad, vis)
    bad[0, 0, 1] = 10.0
    bad[0, 0, 2] = float("nan")  # unlabelled (v = 0): a placeholder, as DeepLabCut and SLEAP write it
    st.encode(outs, bad, vis)
    with pytest.raises(ValueError, match=r"visibility: expected 0, 1 or 2, got 3 at \(b, n, k\) = \(0, 0, 0\)"):
        st.encode(outs, kp, torch.tensor([[[3, 1, 0]]]))
