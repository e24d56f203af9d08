"""The assigner options of the adaptive assignment (strategies/assigners.py), the quality focal loss and the
EMA copy, against values worked out independently (numpy, or by hand)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hs
from omegaconf import OmegaConf

from adaanchor.config import build_config, defaults
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies import build_strategy
from adaanchor.strategies.assign_ema import AssignEMA
from adaanchor.strategies.assigners import ASSIGNER_DEFAULTS, PRESETS, instance_area
from adaanchor.strategies.losses import focal_loss, quality_focal_loss

S = 4
W, H = 32, 24  # an 8 x 6 map
MW, MH = W // S, H // S
CEN = np.array([(S * j + (S - 1) / 2, S * i + (S - 1) / 2) for i in range(MH) for j in range(MW)])
VIS = torch.full((1, 1, 1), 2)


def oracle(pred: np.ndarray, conf: np.ndarray) -> dict[str, torch.Tensor]:
    """Outputs (one type) whose cell ``A`` predicts the point ``pred[A]`` (pixels) with confidence ``conf[A]``."""
    off = ((pred - CEN) / S).T.reshape(1, 2, MH, MW)
    logit = np.log(conf / (1 - conf)).reshape(1, 1, MH, MW)
    return {"conf": torch.tensor(logit, dtype=torch.float32), "offset": torch.tensor(off, dtype=torch.float32)}


def positives(enc) -> set[int]:
    return set(torch.nonzero(enc.targets["conf"].value[0, 0].reshape(-1) > 0).view(-1).tolist())


def within(g, radius_px: float) -> set[int]:
    return set(np.nonzero(np.linalg.norm(CEN - np.asarray(g), axis=1) <= radius_px)[0].tolist())


def strat(**cfg):
    return build_strategy({"name": "adaanchor", "refine": False, **cfg}, 1, S, (W, H))


# ---- candidate prior ----------------------------------------------------------------------------


def test_instance_area_is_the_labelled_keypoint_box():
    gt = torch.tensor([[[10.0, 5.0], [0.0, 0.0]], [[30.0, 25.0], [0.0, 0.0]], [[99.0, 99.0], [2.0, 3.0]]])
    gt = gt.unsqueeze(0)  # (B=1, K=3, N=2, 2)
    valid = torch.tensor([[[True, True], [True, False], [False, True]]])  # (1, K=3, N=2)
    area = instance_area(gt, valid)
    # Instance 0: keypoints (10, 5) and (30, 25) (the third is unlabelled): 20 x 20. Instance 1: 2 x 3 px.
    assert area.shape == (1, 1, 2)
    assert float(area[0, 0, 0]) == 400.0
    assert float(area[0, 0, 1]) == 16.0  # the floor MIN_AREA


def test_instance_prior_oracle_takes_the_most_confident_inside():
    """Every cell predicts the target exactly (r = 1); the far cells are the most confident, so without the
    prior they would win. With it, the positives are the most confident cells within the radius."""
    g = np.array([13.5, 9.5])
    conf = np.where(np.linalg.norm(CEN - g, axis=1) > 8, 0.99, 0.2 + 0.001 * np.arange(MH * MW))
    out = oracle(np.tile(g, (MH * MW, 1)), conf)
    # A second labelled keypoint of the instance (another type) sets the box: 40 x 30 px -> sqrt = 34.6 px.
    kp = torch.tensor([[[g.tolist(), [g[0] + 40.0, g[1] + 30.0]]]], dtype=torch.float32)  # (1, 1, K=2, 2)
    vis = torch.full((1, 1, 2), 2)
    st = build_strategy({"name": "adaanchor", "refine": False, "prior": "instance", "prior_scale": 0.2, "topk": 3},
                        2, S, (W, H))
    out2 = {h: torch.cat([v, v], dim=1) for h, v in out.items()}
    enc = st.encode(out2, kp, vis)
    radius = 0.2 * math.sqrt(40 * 30)  # 6.93 px, above the 1.5-cell floor (6 px)
    inside = within(g, radius)
    expected = set(sorted(inside, key=lambda a: -conf[a])[:3])
    assert set(torch.nonzero(enc.targets["conf"].value[0, 0].reshape(-1) > 0).view(-1).tolist()) == expected
    free = build_strategy({"name": "adaanchor", "refine": False, "topk": 3}, 2, S, (W, H)).encode(out2, kp, vis)
    assert not set(torch.nonzero(free.targets["conf"].value[0, 0].reshape(-1) > 0).view(-1).tolist()) <= inside


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 10_000), how=hs.sampled_from(["topk", "atss", "dynamic"]),
       metric=hs.sampled_from(["paper", "aligned"]), scale=hs.floats(0.05, 0.6), n=hs.integers(1, 3))
def test_candidate_prior_never_selects_outside(seed, how, metric, scale, n):
    k = 3
    st = build_strategy({"name": "adaanchor", "prior": "instance", "prior_scale": scale, "select": how,
                         "metric": metric, "soft_targets": True}, k, S, (W, H))
    gen = torch.Generator().manual_seed(seed)
    out = {"conf": torch.randn(2, k, MH, MW, generator=gen) * 3, "offset": torch.randn(2, 2 * k, MH, MW, generator=gen) * 2,
           "local": torch.randn(2, 2 * k, MH, MW, generator=gen)}
    kp = torch.rand(2, n, k, 2, generator=gen) * torch.tensor([W + 20.0, H + 20.0]) - 10
    vis = torch.randint(0, 3, (2, n, k), generator=gen)
    enc = st.encode(out, kp, vis)
    # Positives are where the offsets are trained (a soft confidence target can be ~0 at a poor prediction).
    pos_w = enc.targets["offset"].weight[:, 0::2]
    for b in range(2):
        allowed = {t: set() for t in range(k)}
        for i in range(n):
            lab = vis[b, i] > 0
            pts = kp[b, i][lab].double().numpy()
            area = max(float(np.prod(pts.max(0) - pts.min(0))) if len(pts) else 0.0, 16.0)
            radius = max(scale * math.sqrt(area), 1.5 * S) + 1e-4
            for t in range(k):
                if lab[t]:  # measured from the target clamped onto the map
                    g = np.clip(kp[b, i, t].double().numpy(), CEN.min(0), CEN.max(0))
                    allowed[t] |= within(g, radius)
        for t in range(k):
            pos = set(torch.nonzero(pos_w[b, t].reshape(-1) > 0).view(-1).tolist())
            assert pos <= allowed[t], (b, t)
            assert bool((enc.targets["conf"].value[b, t].reshape(-1)[sorted(set(range(MH * MW)) - pos)] == 0).all())
            assert (len(pos) > 0) == bool((vis[b, :, t] > 0).any())


# ---- selection ----------------------------------------------------------------------------------


def test_atss_threshold_is_mean_plus_std_over_candidates():
    g = np.array([15.5, 11.5])
    dist = np.linalg.norm(CEN - g, axis=1)
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.05, 0.95, MH * MW)
    pred = np.tile(g, (MH * MW, 1)) + np.stack([rng.uniform(0, 6, MH * MW), np.zeros(MH * MW)], 1)
    st = strat(select="atss", candidate_radius=2.0, sigma=4.0)
    enc = st.encode(oracle(pred, conf), torch.tensor(g, dtype=torch.float32).view(1, 1, 1, 2), VIS)
    cand = np.nonzero(dist <= 2.0 * S)[0]
    score = conf * np.exp(-np.sum((pred - g) ** 2, 1) / (2 * 16.0))
    thr = score[cand].mean() + score[cand].std(ddof=1)
    expected = {int(a) for a in cand if score[a] >= thr}
    assert 0 < len(expected) < len(cand)
    assert positives(enc) == expected


def test_dynamic_k_is_the_floor_of_the_summed_best_qualities():
    """Ten cells predict at distances giving r = 0.9, 0.8, 0.5, 0.4, 0.3 and five with r = 0.1: the sum of
    the best 10 is 3.4, so k = 3, and the positives are the 3 best by c * r."""
    g = np.array([15.5, 11.5])
    sigma = 4.0
    r_vals = [0.9, 0.8, 0.5, 0.4, 0.3] + [0.1] * 5
    pred = np.tile(g + 500.0, (MH * MW, 1))  # every other cell: r = 0
    conf = np.full(MH * MW, 0.5)
    cells = [3, 9, 17, 20, 30, 33, 35, 40, 41, 44]
    for a, r in zip(cells, r_vals):
        pred[a] = g + [sigma * math.sqrt(-2 * math.log(r)), 0.0]
    conf[17] = 0.9  # c * r: cell 17 = 0.45 beats cell 9 = 0.40
    st = strat(select="dynamic", sigma=sigma, dynamic_q=10)
    enc = st.encode(oracle(pred, conf), torch.tensor(g, dtype=torch.float32).view(1, 1, 1, 2), VIS)
    assert positives(enc) == {3, 17, 9}


def test_aligned_metric_ranks_by_c_alpha_r_beta():
    """Cell A: c = 0.9, r = 0.80; cell B: c = 0.5, r = 0.95. c * r prefers A (0.72 vs 0.475); c * r^6
    prefers B (0.235 vs 0.368)."""
    g = np.array([15.5, 11.5])
    sigma = 4.0
    pred = np.tile(g + 500.0, (MH * MW, 1))
    conf = np.full(MH * MW, 0.01)
    for a, c, r in ((10, 0.9, 0.80), (30, 0.5, 0.95)):
        pred[a] = g + [0.0, sigma * math.sqrt(-2 * math.log(r))]
        conf[a] = c
    kp = torch.tensor(g, dtype=torch.float32).view(1, 1, 1, 2)
    assert positives(strat(topk=1, sigma=sigma).encode(oracle(pred, conf), kp, VIS)) == {10}
    assert positives(strat(topk=1, sigma=sigma, metric="aligned").encode(oracle(pred, conf), kp, VIS)) == {30}


# ---- quality ------------------------------------------------------------------------------------


def test_oks_quality_uses_kappa_and_area():
    """Two cells at the same pixel distance: OKS (kappa = 2 sigma, instance area) gives the soft targets
    exp(-d^2 / (2 area kappa^2)), capped by the normalisation (one cell: y = r)."""
    g = np.array([15.5, 11.5])
    d = 3.0
    pred = np.tile(g + 500.0, (MH * MW, 1))
    pred[20] = g + [d, 0.0]
    conf = np.full(MH * MW, 0.3)
    sig = [0.05, 0.1]
    # Instance: type 0 at g, type 1 20 px right and 10 px down -> area 200.
    kp = torch.tensor([[[g.tolist(), [g[0] + 20, g[1] + 10]]]], dtype=torch.float32)
    out = oracle(pred, conf)
    out2 = {h: torch.cat([v, v], dim=1) for h, v in out.items()}
    st = build_strategy({"name": "adaanchor", "refine": False, "quality": "oks", "oks_sigmas": sig, "topk": 1,
                         "soft_targets": True}, 2, S, (W, H))
    enc = st.encode(out2, kp, torch.full((1, 1, 2), 2))
    y = enc.targets["conf"].value[0, 0].reshape(-1)
    r = math.exp(-(d**2) / (2 * 200.0 * (2 * sig[0]) ** 2))
    assert positives(enc) == {20}
    assert float(y[20]) == pytest.approx(r, rel=1e-5)
    with pytest.raises(AdaAnchorError, match="oks_sigmas"):
        build_strategy({"name": "adaanchor", "quality": "oks"}, 2, S, (W, H))
    with pytest.raises(AdaAnchorError, match="2 positive"):
        build_strategy({"name": "adaanchor", "quality": "oks", "oks_sigmas": [0.1]}, 2, S, (W, H))
    assert build_strategy({"name": "adaanchor", "quality": "oks"}, 2, S, (W, H), sigmas=sig).kappa.tolist() == \
        pytest.approx([0.1, 0.2])


# ---- soft targets -------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=hs.integers(0, 10_000), metric=hs.sampled_from(["paper", "aligned"]),
       how=hs.sampled_from(["topk", "atss", "dynamic"]), quality=hs.sampled_from(["gaussian", "oks"]))
def test_soft_targets_in_unit_interval_and_one_only_when_perfect(seed, metric, how, quality):
    k = 2
    st = build_strategy({"name": "adaanchor", "metric": metric, "select": how, "quality": quality, "soft_targets": True,
                         "oks_sigmas": [0.08, 0.05], "refine_in_score": False}, k, S, (W, H))
    assert st.losses["conf"][0] == "qfocal"
    gen = torch.Generator().manual_seed(seed)
    kp = torch.rand(1, 1, k, 2, generator=gen) * torch.tensor([W - 4.0, H - 4.0]) + 2
    # Coarse points near the target; one cell (of type 0) predicts it exactly.
    cen = torch.tensor(CEN, dtype=torch.float32).T.reshape(1, 1, 2, MH, MW)
    pred = kp[0, 0].view(1, k, 2, 1, 1) + torch.randn(1, k, 2, MH, MW, generator=gen) * 3
    exact = int(torch.randint(0, MH * MW, (1,), generator=gen))
    pred[0, 0, :, exact // MW, exact % MW] = kp[0, 0, 0]
    out = {"conf": torch.randn(1, k, MH, MW, generator=gen) * 2, "offset": ((pred - cen) / S).reshape(1, 2 * k, MH, MW),
           "local": torch.randn(1, 2 * k, MH, MW, generator=gen)}
    enc = st.encode(out, kp, torch.full((1, 1, k), 2))
    y = enc.targets["conf"].value
    assert float(y.min()) >= 0.0 and float(y.max()) <= 1.0
    err = (pred - kp[0, 0].view(1, k, 2, 1, 1)).norm(dim=2)  # (1, K, MH, MW) pixel error of each cell's point
    ones = y >= 1.0 - 1e-6
    assert bool((err[ones] < 1e-3).all()), "a soft target of 1 at an imperfect prediction"


def test_soft_target_is_one_at_a_perfect_best_prediction():
    g = np.array([15.5, 11.5])
    pred = np.tile(g, (MH * MW, 1)) + np.linspace(0.5, 9.0, MH * MW)[:, None] * np.array([[1.0, 0.0]])
    pred[7] = g  # exact, and the most confident
    conf = np.full(MH * MW, 0.4)
    conf[7] = 0.8
    st = strat(topk=5, metric="aligned", soft_targets=True)
    y = st.encode(oracle(pred, conf), torch.tensor(g, dtype=torch.float32).view(1, 1, 1, 2), VIS)
    y = y.targets["conf"].value[0, 0].reshape(-1)
    assert float(y[7]) == pytest.approx(1.0, abs=1e-6)
    assert int((y > 0).sum()) == 5 and float(y[y > 0].sort().values[-2]) < 1.0


def test_soft_target_is_the_capped_normalised_alignment():
    """Two positives: A (c 0.9, r 0.6) and B (c 0.2, r 0.9); t = c r^6: t_A = 0.0420, t_B = 0.1063.
    r_max = 0.9, t_max = t_B: y_B = 0.9, y_A = min(0.6, 0.9 * t_A / t_B) = 0.3556."""
    g = np.array([15.5, 11.5])
    sigma = 4.0
    pred = np.tile(g + 500.0, (MH * MW, 1))
    conf = np.full(MH * MW, 0.01)
    for a, c, r in ((10, 0.9, 0.6), (30, 0.2, 0.9)):
        pred[a] = g + [sigma * math.sqrt(-2 * math.log(r)), 0.0]
        conf[a] = c
    st = strat(topk=2, sigma=sigma, metric="aligned", soft_targets=True)
    y = st.encode(oracle(pred, conf), torch.tensor(g, dtype=torch.float32).view(1, 1, 1, 2), VIS)
    y = y.targets["conf"].value[0, 0].reshape(-1)
    t_a, t_b = 0.9 * 0.6**6, 0.2 * 0.9**6
    assert float(y[30]) == pytest.approx(0.9, rel=1e-4)
    assert float(y[10]) == pytest.approx(min(0.6, 0.9 * t_a / t_b), rel=1e-4)
    assert float(y.sum()) == pytest.approx(float(y[10] + y[30]), rel=1e-6)


# ---- quality focal loss -------------------------------------------------------------------------


def test_qfocal_equals_focal_on_binary_targets():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 4, 5, generator=gen) * 3
    t = (torch.rand(3, 4, 5, generator=gen) < 0.3).float()
    w = (torch.rand(3, 4, 5, generator=gen) < 0.9).float()
    assert float(quality_focal_loss(x, t, w)) == pytest.approx(float(focal_loss(x, t, w)), rel=1e-5)


def test_qfocal_by_hand():
    # p = 1/2, y = 0.25: BCE = -(0.25 ln 0.5 + 0.75 ln 0.5) = ln 2; |y - p|^2 = 1/16. Over sum(y) = 0.25 (< 1 -> 1).
    x, y, w = torch.tensor([0.0]), torch.tensor([0.25]), torch.tensor([1.0])
    assert float(quality_focal_loss(x, y, w)) == pytest.approx(math.log(2) / 16, rel=1e-6)


def test_qfocal_gradients_are_sane():
    """Zero at p = y, pushing p towards y elsewhere, finite for extreme logits, and autograd-checked."""
    ys = torch.tensor([0.0, 0.2, 0.5, 0.9, 1.0], dtype=torch.float64)
    for y in ys:
        for x0 in (-6.0, -1.0, 0.0, 1.0, 6.0):
            x = torch.tensor([x0], dtype=torch.float64, requires_grad=True)
            quality_focal_loss(x, y.view(1), torch.ones(1, dtype=torch.float64)).backward()
            p = torch.sigmoid(torch.tensor(x0, dtype=torch.float64))
            gx = float(x.grad)
            if abs(float(p - y)) > 1e-6:
                assert math.copysign(1.0, gx) == math.copysign(1.0, float(p - y)), (float(y), x0, gx)
        if 0 < y < 1:  # the minimum sits at p = y
            x = torch.logit(y).view(1).clone().requires_grad_(True)
            quality_focal_loss(x, y.view(1), torch.ones(1, dtype=torch.float64)).backward()
            assert abs(float(x.grad)) < 1e-7
    x = torch.tensor([-200.0, 200.0, 0.0], requires_grad=True)
    quality_focal_loss(x, torch.tensor([1.0, 0.0, 0.3]), torch.ones(3)).backward()
    assert bool(torch.isfinite(x.grad).all())
    # Against the derivative written out: d/dx [BCE |y - p|^2] = (p - y)|y - p|^2 + 2 BCE |y - p| sgn(p - y) p (1 - p).
    gen = torch.Generator().manual_seed(1)
    xd = (torch.randn(20, dtype=torch.float64, generator=gen) * 3).requires_grad_(True)
    yd = torch.rand(20, dtype=torch.float64, generator=gen)
    quality_focal_loss(xd, yd, torch.ones(20, dtype=torch.float64)).backward()
    p = torch.sigmoid(xd.detach())
    bce = -(yd * torch.log(p) + (1 - yd) * torch.log(1 - p))
    grad = ((p - yd) * (yd - p).abs() ** 2 + 2 * bce * (yd - p).abs() * torch.sign(p - yd) * p * (1 - p)) / yd.sum()
    torch.testing.assert_close(xd.grad, grad, rtol=1e-4, atol=1e-7)


def test_focal_and_l1_gradients_match_autograd_of_their_formulas():
    """The one-pass focal and L1 losses give the gradients of their written-out formulas."""
    gen = torch.Generator().manual_seed(2)
    x = (torch.randn(2, 3, 4, 5, generator=gen) * 4).double().requires_grad_(True)
    t = (torch.rand(2, 3, 4, 5, generator=gen) < 0.2).double()
    w = (torch.rand(2, 3, 4, 5, generator=gen) < 0.8).double()
    for gamma in (2.0, 1.5):
        p = torch.sigmoid(x)
        ref = torch.where(t > 0.5, -((1 - p) ** gamma) * torch.nn.functional.logsigmoid(x),
                          -(p**gamma) * torch.nn.functional.logsigmoid(-x)) * w
        ref = ref.sum() / (t * w).sum().clamp(min=1)
        g_ref, = torch.autograd.grad(ref, x)
        got = focal_loss(x, t, w, gamma)
        g_got, = torch.autograd.grad(got, x)
        assert float(got.detach()) == pytest.approx(float(ref.detach()), rel=1e-6)  # the loss computes in float32
        torch.testing.assert_close(g_got, g_ref, rtol=1e-4, atol=1e-7)
    from adaanchor.strategies.losses import l1_loss
    tgt = torch.randn(2, 3, 4, 5, generator=gen).double()
    got = l1_loss(x, tgt, w)
    g_got, = torch.autograd.grad(got, x)
    num = (w.sum() / 2).clamp(min=1)
    assert got.item() == pytest.approx((((x - tgt).abs() * w).sum() / num).item(), rel=1e-6)
    torch.testing.assert_close(g_got, torch.sign(x.detach() - tgt) * w / num, rtol=1e-6, atol=1e-9)


# ---- presets, config, EMA -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_is_adaanchor_with_its_options_and_overrides_win(name):
    st = build_strategy({"name": name}, 3, S, (W, H))
    assert st.name == name and st.assign == "adaptive"
    for key, v in PRESETS[name].items():
        assert (st.opts[key] if key in ASSIGNER_DEFAULTS else getattr(st, key)) == v, key
    assert st.losses["conf"][0] == ("qfocal" if PRESETS[name].get("soft_targets") else "focal")
    assert build_strategy({"name": name, "select": "atss"}, 3, S, (W, H)).opts["select"] == "atss"
    assert build_strategy({"name": name, "prior": "none"}, 3, S, (W, H)).opts["prior"] == "none"  # a default wins too
    cfg = build_config(overrides=[f"strategy.name={name}"])
    assert all(cfg.strategy[key] == v for key, v in PRESETS[name].items())  # the resolved config shows the preset
    cfg = build_config(overrides=[f"strategy.name={name}", "strategy.prior=none"])
    assert cfg.strategy.prior == "none" and build_strategy(cfg.strategy, 3, S, (W, H)).opts["prior"] == "none"
    paper = build_strategy({"name": "adaanchor"}, 3, S, (W, H))
    assert paper.opts == ASSIGNER_DEFAULTS and paper.losses["conf"][0] == "focal"


def test_localanchor_keeps_border_candidates_for_a_target_outside_the_map():
    """LocalAnchor measures its 3 cells from the target clamped onto the map: a keypoint 20 px left of the
    image keeps as candidates the cells within 3 cells (12 px) of its position clamped onto the outer cell
    centres, where a fixed radius around the raw target (``candidate_radius=3``) leaves none inside it."""
    g = np.array([-20.0, 9.5])
    conf = np.where(CEN[:, 0] > 16, 0.99, 0.2 + 0.001 * np.arange(MH * MW))  # the far cells most confident
    out = oracle(np.tile(np.clip(g, 0, None), (MH * MW, 1)), conf)
    kp = torch.tensor([[[g.tolist()]]], dtype=torch.float32)  # (1, 1, K=1, 2)
    st = build_strategy(build_config(overrides=["strategy.name=localanchor", "strategy.refine=false",
                                                "strategy.topk=3"]).strategy, 1, S, (W, H))
    clamped = np.array([CEN[:, 0].min(), 9.5])  # moved onto the outer cell centres (x = 1.5 px)
    inside = within(clamped, 3 * S)
    expected = set(sorted(inside, key=lambda a: -conf[a])[:3])
    assert positives(st.encode(out, kp, torch.full((1, 1, 1), 1))) == expected
    assert not within(g, 3 * S)  # the raw radius holds no cell of the map


def test_a_config_that_replaces_preset_options_says_so(capsys):
    from adaanchor.demo import DEMO_CONFIG

    build_config(overrides=["strategy.name=localanchor", "strategy.prior_min_cells=2"])
    assert "replaces options of the localanchor preset: strategy.prior_min_cells=2 (preset: 3.0)" in capsys.readouterr().err
    build_config(overrides=["strategy.name=localanchor"])
    assert "replaces" not in capsys.readouterr().err
    # A resolved config as the base sets every key: the preset is then replaced, and the note says it.
    resolved = OmegaConf.to_container(build_config(DEMO_CONFIG), resolve=True)
    cfg = build_config(resolved, ["strategy.name=localanchor"])
    assert cfg.strategy.prior == "none" and "strategy.prior='none' (preset: 'instance')" in capsys.readouterr().err


def test_localanchor_preset_equals_its_spelled_out_options():
    """The dev runs used ``adaanchor`` with the options written out; the preset must build the same strategy."""
    named = build_config(overrides=["strategy.name=localanchor"]).strategy
    spelled = build_config(overrides=["strategy.name=adaanchor", "strategy.prior=instance", "strategy.prior_scale=0",
                                      "strategy.prior_min_cells=3"]).strategy
    a, b = build_strategy(named, 3, S, (W, H)), build_strategy(spelled, 3, S, (W, H))
    assert a.opts == b.opts and a.losses == b.losses and a.topk == b.topk and a.refine == b.refine


def test_assigner_keys_are_config_keys_with_clear_errors():
    for key, v in ASSIGNER_DEFAULTS.items():
        assert defaults()["strategy"][key] == v
    with pytest.raises(AdaAnchorError, match="strategy.prior"):
        build_config(overrides=["strategy.prior=box"])  # refused at config time, before any training
    assert build_config(overrides=["strategy.name=alignanchor"]).strategy.name == "alignanchor"
    with pytest.raises(AdaAnchorError, match="strategy.select"):
        build_strategy({"name": "adaanchor", "select": "best"}, 1, S, (W, H))
    with pytest.raises(AdaAnchorError, match="assign_ema_decay"):
        build_strategy({"name": "adaanchor", "assign_ema_decay": 1.5}, 1, S, (W, H))


def test_ema_decay_option_needs_the_ema_outputs():
    st = build_strategy({"name": "adaanchor", "assign_ema_decay": 0.99}, 1, S, (W, H))
    out = {"conf": torch.zeros(1, 1, MH, MW), "offset": torch.zeros(1, 2, MH, MW), "local": torch.zeros(1, 2, MH, MW)}
    kp = torch.full((1, 1, 1, 2), 10.0)
    with pytest.raises(AdaAnchorError, match="AssignEMA"):
        st.encode(out, kp, VIS)
    assert st.encode(out, kp, VIS, from_ema=True).stats["adaptive"] == 1.0


def test_assign_ema_averages_with_a_ramped_decay():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 1), torch.nn.BatchNorm2d(2))
    ema = AssignEMA(model, 0.9)
    assert not ema.module.training and not any(p.requires_grad for p in ema.module.parameters())
    w0 = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
    model[1].num_batches_tracked += 3
    d = ema.current_decay()
    assert d == pytest.approx(0.1)  # (1 + 0) / (10 + 0)
    ema.update(model)
    torch.testing.assert_close(ema.module[0].weight, d * w0 + (1 - d) * (w0 + 1.0))
    assert int(ema.module[1].num_batches_tracked) == 3
    for _ in range(200):
        ema.update(model)
    assert ema.current_decay() == 0.9
    torch.testing.assert_close(ema.module[0].weight, w0 + 1.0, atol=1e-6, rtol=0)
    other = AssignEMA(model, 0.9)
    other.load_state_dict(ema.state_dict())
    assert other.updates == ema.updates
    torch.testing.assert_close(other.module[0].weight, ema.module[0].weight)


def test_assign_ema_outputs_feed_the_encode():
    from adaanchor.models import KeypointNet, build_backbone

    st = build_strategy({"name": "adaanchor", "assign_ema_decay": 0.999}, 2, S, (W, H))
    torch.manual_seed(0)
    model = KeypointNet(build_backbone("tiny", tiny_width=8), st.heads)
    ema = AssignEMA(model, st.opts["assign_ema_decay"])
    images = torch.randn(2, 3, H, W)
    out = ema.outputs(images)
    assert {k: tuple(v.shape) for k, v in out.items()} == {"conf": (2, 2, MH, MW), "offset": (2, 4, MH, MW),
                                                           "local": (2, 4, MH, MW)}
    assert not any(v.requires_grad for v in out.values())
    enc = st.encode(out, torch.full((2, 1, 2, 2), 12.0), torch.full((2, 1, 2), 2), from_ema=True)
    assert int(enc.targets["conf"].value.sum()) == 2 * 2 * st.topk


def test_topk_selection_is_the_sorted_topk_set_with_ties():
    """``select`` takes the top k unsorted (faster); the set must be the sorted top k, ties included: FixAnchor's
    rank is minus the squared cell distance, which ties symmetrically around targets on a cell centre or edge."""
    from adaanchor.strategies.assign_targets import cell_distances2
    from adaanchor.strategies.assigners import select

    g = torch.Generator().manual_seed(3)
    gt = (torch.rand(8, 17, 1, 2, generator=g) * torch.tensor([72.0, 96.0])).round()
    gt[0] = 1.5  # on a cell centre
    gt[1] = 4.0  # on a cell corner: four-way ties
    for rank in (-cell_distances2(gt, 24, 18, 4), torch.randn(8, 17, 1, 432, generator=g)):
        for k in (1, 5, 20):
            want = torch.zeros(rank.shape, dtype=torch.bool).scatter_(-1, rank.topk(k, dim=-1).indices, True)
            assert torch.equal(select(rank, None, None, None, "topk", k, 1), want)
