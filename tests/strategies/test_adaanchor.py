"""AdaAnchor's adaptive assignment (paper eqs. 8-12) and the FixAnchor baseline, against brute force.

Every expected value here is computed independently with numpy loops over cells: cell centres
``(s*j + (s-1)/2, s*i + (s-1)/2)``, coarse point ``P = C + s * offset``, refined ``P_r = P + s * local(P)``
(bilinear, border-clamped), ``c = sigmoid(conf)``, ``r = exp(-|P_r - g|^2 / (2 sigma^2))`` in input pixels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import Tensor

from adaanchor.coords import cell_centers, refine_points
from adaanchor.strategies import build_strategy
from adaanchor.strategies.assign_targets import cell_distances2
from adaanchor.strategies.base import Encoded, Target
from adaanchor.strategies.positives import assigned

S = 4  # stride
W, H = 32, 24  # input (W, H): the map is 8 wide and 6 high
MW, MH = W // S, H // S


def centres_np() -> np.ndarray:
    """(MH*MW, 2) cell centres, row-major, written out cell by cell."""
    out = []
    for i in range(MH):
        for j in range(MW):
            out.append((S * j + (S - 1) / 2, S * i + (S - 1) / 2))
    return np.array(out, dtype=np.float64)


def bilinear_np(fmap: np.ndarray, x: float, y: float) -> np.ndarray:
    """Bilinear sample of ``fmap (C, MH, MW)`` at input pixel ``(x, y)``, clamped to the outer cell centres."""
    u = min(max((x - (S - 1) / 2) / S, 0.0), MW - 1.0)
    v = min(max((y - (S - 1) / 2) / S, 0.0), MH - 1.0)
    j0, i0 = min(int(math.floor(u)), MW - 2), min(int(math.floor(v)), MH - 2)
    fu, fv = u - j0, v - i0
    return ((1 - fu) * (1 - fv) * fmap[:, i0, j0] + fu * (1 - fv) * fmap[:, i0, j0 + 1]
            + (1 - fu) * fv * fmap[:, i0 + 1, j0] + fu * fv * fmap[:, i0 + 1, j0 + 1])


def scores_np(conf, offset, local, k, gt, sigma, fusion="mul", refine=True) -> np.ndarray:
    """Brute-force score of every cell for keypoint type ``k`` of image 0 and target ``gt``."""
    cen = centres_np()
    out = np.zeros(MH * MW)
    for idx in range(MH * MW):
        i, j = divmod(idx, MW)
        p = cen[idx] + S * np.array([offset[2 * k, i, j], offset[2 * k + 1, i, j]], dtype=np.float64)
        if refine:
            p = p + S * bilinear_np(local[2 * k: 2 * k + 2].astype(np.float64), p[0], p[1])
        r = math.exp(-((p[0] - gt[0]) ** 2 + (p[1] - gt[1]) ** 2) / (2 * sigma**2))
        c = 1.0 / (1.0 + math.exp(-float(conf[k, i, j])))
        out[idx] = c * r if fusion == "mul" else c + r
    return out


def topk_set(score: np.ndarray, k: int) -> set[int]:
    order = np.argsort(-score, kind="stable")
    last, first_out = score[order[k - 1]], score[order[k]]
    assert last - first_out > 1e-4 * max(abs(last), 1e-30), "near tie at the cut: float32 could order it either way"
    return set(order[:k].tolist())


def positives(enc, b: int, k: int) -> set[int]:
    return set(torch.nonzero(enc.targets["conf"].value[b, k].reshape(-1) > 0.5).view(-1).tolist())


def random_outputs(st, seed: int, b: int = 1, conf_scale=3.0, off_scale=1.5, inside=False) -> dict[str, torch.Tensor]:
    """Random logits, offsets and local offsets. ``inside``: every cell's coarse prediction lies between the
    outermost cell centres, where the bilinear sampling of ``local`` needs no border convention."""
    gen = torch.Generator().manual_seed(seed)
    k = st.num_keypoints
    out = {"conf": torch.randn(b, k, MH, MW, generator=gen) * conf_scale,
           "offset": torch.randn(b, 2 * k, MH, MW, generator=gen) * off_scale}
    if inside:
        lo = torch.tensor([(S - 1) / 2, (S - 1) / 2]).view(1, 1, 2, 1, 1)
        span = torch.tensor([S * (MW - 1.0), S * (MH - 1.0)]).view(1, 1, 2, 1, 1)
        pred = lo + span * torch.rand(b, k, 2, MH, MW, generator=gen)
        cen = torch.tensor(centres_np(), dtype=torch.float32).T.reshape(1, 1, 2, MH, MW)
        out["offset"] = ((pred - cen) / S).reshape(b, 2 * k, MH, MW)
    if "local" in st.heads:
        out["local"] = torch.randn(b, 2 * k, MH, MW, generator=gen) * 0.5
    return out


# ---- adaptive assignment against brute force ----------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"sigma": 9.0},
        {"refine_in_score": False},
        {"refine": False},
        {"fusion": "add"},
    ],
    ids=["default", "sigma9", "coarse-score", "norefine", "add"],
)
def test_adaptive_positives_are_topk_of_bruteforce_score(opts, seed):
    topk = 4
    cfg = {"name": "adaanchor", "topk": topk, **opts}
    st = build_strategy(cfg, 2, S, (W, H))
    out = random_outputs(st, seed, inside=True)
    rng = np.random.default_rng(seed)
    gt = np.stack([rng.uniform(-6, W + 6, 2), rng.uniform(-6, H + 6, 2)], axis=1)  # (K=2, 2)
    kp = torch.tensor(gt, dtype=torch.float32).view(1, 1, 2, 2)
    enc = st.encode(out, kp, torch.full((1, 1, 2), 2))
    assert enc.stats["adaptive"] == 1.0
    conf, off = out["conf"][0].numpy(), out["offset"][0].numpy()
    local = out["local"][0].numpy() if "local" in out else None
    use_refine = cfg.get("refine", True) and cfg.get("refine_in_score", True)
    cen = centres_np()
    for k in range(2):
        g = kp[0, 0, k].double().numpy()
        sc = scores_np(conf, off, local, k, g, cfg.get("sigma", 4.0), cfg.get("fusion", "mul"), use_refine)
        expected = topk_set(sc, topk)
        assert positives(enc, 0, k) == expected
        # Offsets at positives point from the cell centre to the target, in cells; weighted only there.
        offt = enc.targets["offset"].value[0, 2 * k: 2 * k + 2].reshape(2, -1).T.double().numpy()
        offw = enc.targets["offset"].weight[0, 2 * k: 2 * k + 2].reshape(2, -1).T.numpy()
        for idx in range(MH * MW):
            if idx in expected:
                np.testing.assert_allclose(offt[idx], (g - cen[idx]) / S, atol=1e-5)
                assert (offw[idx] == 1).all()
            else:
                assert (offw[idx] == 0).all()


def test_adaptive_multi_instance_union_and_owner():
    """Two targets of one type: positives are the union of each target's top-k; a cell chosen by both
    regresses to the target that scores it higher."""
    topk = 8
    st = build_strategy({"name": "adaanchor", "topk": topk, "refine": False, "sigma": 12.0}, 1, S, (W, H))
    gen = torch.Generator().manual_seed(5)
    out = {"conf": torch.randn(1, 1, MH, MW, generator=gen) * 2, "offset": torch.randn(1, 2, MH, MW, generator=gen)}
    gts = np.array([[10.3, 9.1], [14.2, 12.6]])
    kp = torch.tensor(gts, dtype=torch.float32).view(1, 2, 1, 2)
    enc = st.encode(out, kp, torch.full((1, 2, 1), 2))
    conf, off = out["conf"][0].numpy(), out["offset"][0].numpy()
    sc = [scores_np(conf, off, None, 0, kp[0, n, 0].double().numpy(), 12.0, "mul", False) for n in range(2)]
    sets = [topk_set(s, topk) for s in sc]
    assert sets[0] & sets[1], "the case should have shared cells"
    assert positives(enc, 0, 0) == sets[0] | sets[1]
    cen = centres_np()
    offt = enc.targets["offset"].value[0].reshape(2, -1).T.double().numpy()
    for idx in sets[0] | sets[1]:
        if idx in sets[0] and idx in sets[1]:
            owner = 0 if sc[0][idx] > sc[1][idx] else 1
        else:
            owner = 0 if idx in sets[0] else 1
        np.testing.assert_allclose(offt[idx], (kp[0, owner, 0].double().numpy() - cen[idx]) / S, atol=1e-5)


@pytest.mark.parametrize("name", ["adaanchor", "fixanchor"])
@pytest.mark.parametrize("topk", [1, 3, 20, 100])
def test_exactly_k_positives_per_labelled_target(name, topk):
    st = build_strategy({"name": name, "topk": topk}, 4, S, (W, H))
    out = random_outputs(st, 3, b=2)
    gen = torch.Generator().manual_seed(3)
    kp = torch.rand(2, 1, 4, 2, generator=gen) * torch.tensor([W + 30.0, H + 30.0]) - 15
    vis = torch.tensor([[[2, 1, 0, 2]], [[0, 0, 1, 2]]])
    enc = st.encode(out, kp, vis)
    conf_t = enc.targets["conf"].value
    n_expected = min(topk, MH * MW)
    for b in range(2):
        for k in range(4):
            n = int(conf_t[b, k].sum())
            assert n == (n_expected if vis[b, 0, k] > 0 else 0), (b, k)
            assert int(enc.targets["offset"].weight[b, 2 * k: 2 * k + 2].sum()) == 2 * n
            assert float(enc.targets["conf"].weight[b, k, 0, 0]) == float(vis[b, 0, k] > 0)
    assert set(conf_t.unique().tolist()) <= {0.0, 1.0}


def test_ignore_unlabelled_false_supervises_every_channel():
    st = build_strategy({"name": "adaanchor", "topk": 2, "ignore_unlabelled": False}, 2, S, (W, H))
    enc = st.encode(random_outputs(st, 0), torch.full((1, 1, 2, 2), 9.0), torch.tensor([[[2, 0]]]))
    assert (enc.targets["conf"].weight == 1).all()
    assert enc.targets["conf"].value[0, 1].sum() == 0


# ---- fusion -------------------------------------------------------------------------------------


def _two_candidate_outputs(sigma: float):
    """Cell A (row 1, col 1): confident (c = 0.99) but predicting 9.79 px off (r = 0.05).
    Cell B (row 4, col 6): unsure (c = 0.1) but predicting 1.84 px off (r = 0.9).
    add: A = 1.04 > B = 1.00; mul: A = 0.0495 < B = 0.09. Every other cell: c ~ 0 and r ~ 0."""
    gt = torch.tensor([15.0, 10.0])
    conf = torch.full((1, 1, MH, MW), -30.0)
    cen = torch.tensor(centres_np(), dtype=torch.float32).view(MH, MW, 2)
    # Other cells predict a point 200 px away.
    offset = ((gt + torch.tensor([200.0, 0.0]) - cen) / S).permute(2, 0, 1).unsqueeze(0).clone()

    def place(i, j, c, r):
        conf[0, 0, i, j] = math.log(c / (1 - c))
        d = sigma * math.sqrt(-2 * math.log(r))
        target_pt = gt + torch.tensor([d, 0.0])
        offset[0, :, i, j] = (target_pt - cen[i, j]) / S

    place(1, 1, 0.99, 0.05)
    place(4, 6, 0.1, 0.9)
    return {"conf": conf, "offset": offset}, gt.view(1, 1, 1, 2)


@pytest.mark.parametrize("fusion,winner", [("add", 1 * MW + 1), ("mul", 4 * MW + 6)])
def test_add_and_mul_pick_different_anchors(fusion, winner):
    sigma = 4.0
    st = build_strategy({"name": "adaanchor", "topk": 1, "refine": False, "fusion": fusion, "sigma": sigma},
                        1, S, (W, H))
    out, kp = _two_candidate_outputs(sigma)
    # Sanity of the construction, by hand: the two fused scores of A and B.
    c_a, r_a, c_b, r_b = 0.99, 0.05, 0.1, 0.9
    assert (c_a + r_a > c_b + r_b) and (c_a * r_a < c_b * r_b)
    enc = st.encode(out, kp, torch.full((1, 1, 1), 2))
    assert positives(enc, 0, 0) == {winner}


# ---- candidate radius, warm-up ------------------------------------------------------------------


def _cells_within(gt: np.ndarray, radius: float) -> set[int]:
    d = np.linalg.norm(centres_np() - gt, axis=1) / S
    return set(np.nonzero(d <= radius)[0].tolist())


def test_candidate_radius_restricts_positives():
    radius = 1.5
    st = build_strategy({"name": "adaanchor", "topk": 3, "candidate_radius": radius, "refine": False}, 1, S, (W, H))
    gt = np.array([13.5, 9.5])  # centre of cell (row 2, col 3)
    # Far cells are confident and predict the target exactly: without the radius they would win.
    conf = torch.full((1, 1, MH, MW), 8.0)
    cen = torch.tensor(centres_np(), dtype=torch.float32).view(MH, MW, 2)
    offset = ((torch.tensor(gt, dtype=torch.float32) - cen) / S).permute(2, 0, 1).unsqueeze(0).contiguous()
    near = _cells_within(gt, radius)
    for idx in near:
        conf[0, 0, idx // MW, idx % MW] = -1.0 + 0.1 * idx  # distinct, low
    kp = torch.tensor(gt, dtype=torch.float32).view(1, 1, 1, 2)
    enc = st.encode({"conf": conf, "offset": offset}, kp, torch.full((1, 1, 1), 2))
    pos = positives(enc, 0, 0)
    assert len(pos) == 3 and pos <= near
    # The three most confident of the near cells (all predict the target exactly, r = 1).
    assert pos == set(sorted(near, key=lambda i: -(-1.0 + 0.1 * i))[:3])
    free = build_strategy({"name": "adaanchor", "topk": 3, "refine": False}, 1, S, (W, H))
    assert not positives(free.encode({"conf": conf, "offset": offset}, kp, torch.full((1, 1, 1), 2)), 0, 0) <= near


def test_candidate_radius_holds_when_topk_exceeds_candidates():
    radius = 1.0
    st = build_strategy({"name": "adaanchor", "topk": 20, "candidate_radius": radius}, 1, S, (W, H))
    gt = np.array([13.5, 9.5])
    enc = st.encode(random_outputs(st, 0), torch.tensor(gt, dtype=torch.float32).view(1, 1, 1, 2),
                    torch.full((1, 1, 1), 2))
    assert positives(enc, 0, 0) <= _cells_within(gt, radius)


def test_warmup_is_fixanchor_then_adaptive():
    cfg = {"topk": 4, "sigma": 4.0}
    ada = build_strategy({"name": "adaanchor", "warmup_steps": 10, **cfg}, 2, S, (W, H))
    ada_now = build_strategy({"name": "adaanchor", **cfg}, 2, S, (W, H))
    fix = build_strategy({"name": "fixanchor", **cfg}, 2, S, (W, H))
    out = random_outputs(ada, 4, b=2, conf_scale=5.0, off_scale=3.0)
    gen = torch.Generator().manual_seed(4)
    kp = torch.rand(2, 1, 2, 2, generator=gen) * torch.tensor([float(W), float(H)])
    vis = torch.full((2, 1, 2), 2)
    ref_fix = fix.encode(out, kp, vis, step=9)
    ref_ada = ada_now.encode(out, kp, vis, step=10)
    for step in (0, 9):
        e = ada.encode(out, kp, vis, step=step)
        assert e.stats["adaptive"] == 0.0
        for head in ref_fix.targets:
            assert torch.equal(e.targets[head].value, ref_fix.targets[head].value), (step, head)
            assert torch.equal(e.targets[head].weight, ref_fix.targets[head].weight), (step, head)
    for step in (10, 500):
        e = ada.encode(out, kp, vis, step=step)
        assert e.stats["adaptive"] == 1.0
        for head in ref_ada.targets:
            assert torch.equal(e.targets[head].value, ref_ada.targets[head].value), (step, head)
    assert not torch.equal(ref_ada.targets["conf"].value, ref_fix.targets["conf"].value)


# ---- FixAnchor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("topk", [1, 4, 9])
def test_fixanchor_positives_are_nearest_cells_whatever_the_outputs(topk):
    st = build_strategy({"name": "fixanchor", "topk": topk}, 3, S, (W, H))
    rng = np.random.default_rng(topk)
    gt = np.stack([rng.uniform(-10, W + 10, 3), rng.uniform(-10, H + 10, 3)], axis=1)
    kp = torch.tensor(gt, dtype=torch.float32).view(1, 1, 3, 2)
    vis = torch.full((1, 1, 3), 2)
    e1 = st.encode(random_outputs(st, 1), kp, vis)
    e2 = st.encode(random_outputs(st, 2, conf_scale=20.0, off_scale=5.0), kp, vis)
    for head in e1.targets:
        assert torch.equal(e1.targets[head].value, e2.targets[head].value)
        assert torch.equal(e1.targets[head].weight, e2.targets[head].weight)
    cen = centres_np()
    for k in range(3):
        g = kp[0, 0, k].double().numpy()
        d = [math.hypot(cen[i, 0] - g[0], cen[i, 1] - g[1]) for i in range(MH * MW)]
        assert positives(e1, 0, k) == topk_set(-np.array(d), topk)
    assert e1.stats["adaptive"] == 0.0


def test_fixanchor_shared_cell_regresses_to_nearer_target():
    st = build_strategy({"name": "fixanchor", "topk": 4, "refine": False}, 1, S, (W, H))
    # Cell (row 2, col 3) has centre (13.5, 9.5); both targets have it among their 4 nearest cells.
    kp = torch.tensor([[[[12.0, 9.0]], [[16.0, 10.0]]]])  # (1, N=2, K=1, 2)
    enc = st.encode(random_outputs(st, 0), kp, torch.full((1, 2, 1), 2))
    assert enc.targets["conf"].value[0, 0, 2, 3] == 1
    # Distances to (13.5, 9.5): target 0 -> 1.58 px, target 1 -> 2.55 px: target 0 owns it.
    torch.testing.assert_close(enc.targets["offset"].value[0, :, 2, 3], torch.tensor([-1.5, -0.5]) / S)


# ---- local branch -------------------------------------------------------------------------------


def test_local_targets_near_the_target_only():
    st = build_strategy({"name": "fixanchor", "topk": 1, "local_radius": 1.2}, 1, S, (W, H))
    g = np.array([11.0, 14.0])
    kp = torch.tensor([[[g.tolist()], [[100.0, 100.0]]]], dtype=torch.float32)  # second: padding
    enc = st.encode(random_outputs(st, 0), kp, torch.tensor([[[2], [0]]]))
    t = enc.targets["local"]
    cen = centres_np()
    for idx in range(MH * MW):
        i, j = divmod(idx, MW)
        near = np.linalg.norm(cen[idx] - g) / S <= 1.2
        assert (t.weight[0, :, i, j] == float(near)).all(), idx
        if near:
            np.testing.assert_allclose(t.value[0, :, i, j].numpy(), (g - cen[idx]) / S, atol=1e-6)
    assert int(t.weight.sum()) > 0


def _decode_case(local: torch.Tensor):
    """Conf peaks at cell (row 1, col 2) of type 0; its offset moves the point to cell coords (u, v) = (4.3, 2.6)."""
    conf = torch.full((1, 1, MH, MW), -5.0)
    conf[0, 0, 1, 2] = 3.0
    offset = torch.zeros(1, 2, MH, MW)
    offset[0, 0, 1, 2] = 4.3 - 2  # cells
    offset[0, 1, 1, 2] = 2.6 - 1
    return {"conf": conf, "offset": offset, "local": local}


def test_decode_refinement_is_eq12_with_bilinear_local():
    gen = torch.Generator().manual_seed(0)
    local = torch.randn(1, 2, MH, MW, generator=gen)
    st = build_strategy({"name": "adaanchor"}, 1, S, (W, H))
    dec = st.decode(_decode_case(local))
    anchor = torch.tensor([S * 2 + 1.5, S * 1 + 1.5])  # centre of cell (row 1, col 2)
    coarse = anchor + S * torch.tensor([4.3 - 2, 2.6 - 1])  # = cell coords (4.3, 2.6) in pixels
    torch.testing.assert_close(coarse, torch.tensor([4.3 * S + 1.5, 2.6 * S + 1.5]))
    # Bilinear between cells (row 2, col 4), (2, 5), (3, 4), (3, 5) with fractions fu = 0.3, fv = 0.6.
    lv = local[0]
    interp = (0.7 * 0.4 * lv[:, 2, 4] + 0.3 * 0.4 * lv[:, 2, 5] + 0.7 * 0.6 * lv[:, 3, 4] + 0.3 * 0.6 * lv[:, 3, 5])
    torch.testing.assert_close(dec.xy[0, 0], coarse + S * interp, rtol=0, atol=1e-4)
    torch.testing.assert_close(dec.anchor[0, 0], anchor)
    torch.testing.assert_close(dec.score[0, 0], torch.sigmoid(torch.tensor(3.0)))


def test_decode_without_refine_ignores_local():
    st = build_strategy({"name": "adaanchor", "refine": False}, 1, S, (W, H))
    assert "local" not in st.heads and "local" not in st.losses
    coarse = torch.tensor([4.3 * S + 1.5, 2.6 * S + 1.5])
    gen = torch.Generator().manual_seed(1)
    for local in (torch.zeros(1, 2, MH, MW), torch.randn(1, 2, MH, MW, generator=gen) * 3):
        dec = st.decode(_decode_case(local))
        torch.testing.assert_close(dec.xy[0, 0], coarse, rtol=0, atol=1e-4)
    out = _decode_case(torch.zeros(1, 2, MH, MW))
    del out["local"]
    torch.testing.assert_close(st.decode(out).xy[0, 0], coarse, rtol=0, atol=1e-4)
    enc = st.encode(random_outputs(st, 0), torch.full((1, 1, 1, 2), 10.0), torch.full((1, 1, 1), 2))
    assert "local" not in enc.targets


def test_refined_point_enters_the_score():
    """A local map that moves one cell's coarse prediction onto the target makes that cell the positive."""
    st = build_strategy({"name": "adaanchor", "topk": 1, "sigma": 4.0}, 1, S, (W, H))
    st_coarse = build_strategy({"name": "adaanchor", "topk": 1, "sigma": 4.0, "refine_in_score": False}, 1, S, (W, H))
    gt = torch.tensor([17.5, 9.5])  # centre of cell (row 2, col 4)
    conf = torch.zeros(1, 1, MH, MW)
    offset = torch.zeros(1, 2, MH, MW)  # every cell predicts its own centre ...
    offset[0, 0, 0, 0] = (gt[0] - 1.5) / S + 0.5  # ... but cell (0, 0), which predicts (19.5, 9.5): 2 px right
    offset[0, 1, 0, 0] = (gt[1] - 1.5) / S
    conf[0, 0, 0, 0] = 0.2
    local = torch.zeros(1, 2, MH, MW)
    local[0, 0, 2, 4] = local[0, 0, 2, 5] = -0.5  # around x = 19.5 the local map pulls 2 px left
    out = {"conf": conf, "offset": offset, "local": local}
    kp = gt.view(1, 1, 1, 2)
    vis = torch.full((1, 1, 1), 2)
    # Coarse: cell (2, 4) is exact, s = 0.5 * 1; cell (0, 0): sigmoid(0.2) * exp(-4 / 32) = 0.550 * 0.882 = 0.485.
    assert positives(st_coarse.encode(out, kp, vis), 0, 0) == {2 * MW + 4}
    # Refined: (0, 0) lands on the target, s = 0.550; (2, 4) is moved 2 px away, s = 0.5 * 0.882 = 0.441.
    assert positives(st.encode(out, kp, vis), 0, 0) == {0}


# ---- the fast encode against the implementation it replaced ---------------------------------------
# The encode as it was first written (cdist over expanded cell centres, points as (x, y) pairs, exponentials
# everywhere), kept verbatim apart from being a function of the strategy: the reference that the fast encode in
# strategies/assign_targets.py must match.

def _ref_points(self, outputs: dict[str, Tensor], refine: bool) -> tuple[Tensor, Tensor]:
    """Every cell's prediction for every type.

    Returns:
        ``points (B, K, h*w, 2)`` in input pixels (refined if ``refine``) and ``centres (h*w, 2)``.
    """
    off = outputs["offset"]
    b, _, h, w = off.shape
    k, s = self.num_keypoints, self.stride
    centres = cell_centers(h, w, s, off.device)
    pts = centres + s * off.float().view(b, k, 2, h * w).transpose(2, 3)
    if refine:
        local = outputs["local"].float().reshape(b * k, 2, h, w)
        pts = refine_points(local, pts.reshape(b * k, h * w, 2), s).view(b, k, h * w, 2)
    return pts, centres


@torch.no_grad()
def reference_encode(self, outputs: dict[str, Tensor], keypoints: Tensor, visibility: Tensor, step: int = 0) -> Encoded:
    conf = outputs["conf"]
    b, k, h, w = conf.shape
    s, hw = self.stride, h * w
    centres = cell_centers(h, w, s, conf.device)  # (hw, 2)
    gt = keypoints.float().permute(0, 2, 1, 3)  # (B, K, N, 2)
    valid = (visibility > 0).permute(0, 2, 1)  # (B, K, N)
    n = gt.shape[2]
    # Distance (in cells) of every cell centre to every target: (B, K, N, hw).
    cell_d = torch.cdist(gt.reshape(b * k, n, 2), centres.expand(b * k, hw, 2)).view(b, k, n, hw) / s

    adaptive = self.assign == "adaptive" and step >= self.warmup_steps
    if adaptive:
        pts, _ = _ref_points(self, outputs, refine=self.refine and self.refine_in_score)
        d2 = ((pts.unsqueeze(2) - gt.unsqueeze(3)) ** 2).sum(-1)  # (B, K, N, hw)
        r = torch.exp(-d2 / (2 * self.sigma**2))
        c = torch.sigmoid(conf.float()).view(b, k, 1, hw)
        score = c * r if self.fusion == "mul" else c + r
        if self.candidate_radius is not None:
            score = score.masked_fill(cell_d > float(self.candidate_radius), float("-inf"))
    else:
        score = -cell_d
    kk = min(self.topk, hw)
    idx = score.topk(kk, dim=-1).indices  # (B, K, N, kk)
    selected = torch.zeros(b, k, n, hw, dtype=torch.bool, device=conf.device)
    selected.scatter_(-1, idx, True)
    selected &= valid.unsqueeze(-1)
    if adaptive and self.candidate_radius is not None:  # topk also returns masked cells when too few remain
        selected &= cell_d <= float(self.candidate_radius)
    # A cell chosen by several instances of one type regresses to the one that scored it highest.
    owner = score.masked_fill(~selected, float("-inf")).argmax(dim=2)  # (B, K, hw)
    positive = selected.any(dim=2)  # (B, K, hw)
    owner_xy = torch.gather(gt, 2, owner.unsqueeze(-1).expand(b, k, hw, 2))  # (B, K, hw, 2)
    offset_t = (owner_xy - centres) / s  # (B, K, hw, 2)

    chan_w = valid.any(dim=2).float() if self.ignore_unlabelled else torch.ones(b, k, device=conf.device)
    conf_t = positive.float().view(b, k, h, w)
    conf_w = chan_w.view(b, k, 1, 1).expand(b, k, h, w).contiguous()
    pos_w = positive.float().unsqueeze(-1).expand(b, k, hw, 2)
    targets = {
        "conf": Target(conf_t, conf_w),
        "offset": Target(_to_map(offset_t, h, w), _to_map(pos_w, h, w)),
    }
    if self.refine:
        # Local offsets: at cells within local_radius cells of a target (clamped onto the outer cell centres with
        # local_about=clamped), point to the nearest target.
        lo, hi = (s - 1) / 2, torch.tensor([s * (w - 1) + (s - 1) / 2, s * (h - 1) + (s - 1) / 2])
        about = torch.maximum(torch.minimum(gt, hi), torch.tensor(lo)) if self.local_about == "clamped" else gt
        cell_d_loc = torch.cdist(about.reshape(b * k, n, 2), centres.expand(b * k, hw, 2)).view(b, k, n, hw) / s
        d_loc = cell_d_loc.masked_fill(~valid.unsqueeze(-1), float("inf"))
        near_d, near_n = d_loc.min(dim=2)  # (B, K, hw)
        near_xy = torch.gather(gt, 2, near_n.unsqueeze(-1).expand(b, k, hw, 2))
        local_t = (near_xy - centres) / s
        local_w = (near_d <= self.local_radius).float().unsqueeze(-1).expand(b, k, hw, 2)
        targets["local"] = Target(_to_map(local_t, h, w), _to_map(local_w, h, w))

    stats = {}
    npos = positive.sum()
    if npos > 0:  # each positive cell's distance to the target it regresses to
        stats["pos_dist_cells"] = float((offset_t.norm(dim=-1) * positive).sum() / npos)
    stats["adaptive"] = float(adaptive)
    return Encoded(targets, stats)


def _to_map(x: Tensor, h: int, w: int) -> Tensor:
    """``(B, K, h*w, 2)`` to the head layout ``(B, 2K, h, w)``."""
    b, k = x.shape[:2]
    return x.transpose(2, 3).reshape(b, 2 * k, h, w).contiguous()


def _crowded_batch(seed: int, b: int, n: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` instances per image whose keypoints crowd one region of the map (shared cells), some outside
    the crop, some unlabelled."""
    gen = torch.Generator().manual_seed(seed)
    centre = torch.rand(b, 1, 1, 2, generator=gen) * torch.tensor([W, H]) * 0.6 + torch.tensor([W, H]) * 0.2
    kp = centre + torch.randn(b, n, k, 2, generator=gen) * 5.0
    kp[:, :, 0] += torch.tensor([W * 0.7, 0.0])  # type 0 of every instance near or past the right border
    vis = torch.randint(0, 3, (b, n, k), generator=gen)
    vis[:, 0, :] = torch.maximum(vis[:, 0, :], torch.ones_like(vis[:, 0, :]))
    return kp, vis


def _assert_same_encoding(fast, ref, atol=1e-5):
    """Same positives and weights; values equal to float tolerance wherever a weight is non-zero."""
    assert set(fast.targets) == set(ref.targets)
    for head in ref.targets:
        tf, tr = fast.targets[head], ref.targets[head]
        assert torch.equal(tf.weight, tr.weight), head
        m = tr.weight > 0
        torch.testing.assert_close(tf.value[m], tr.value[m], rtol=0, atol=atol, msg=head)
    assert fast.stats.keys() == ref.stats.keys()
    for key in ref.stats:
        assert float(fast.stats[key]) == pytest.approx(float(ref.stats[key]), rel=1e-5, abs=1e-6), key


REFERENCE_CASES = [
    {"name": "adaanchor"},
    {"name": "adaanchor", "refine": False},
    {"name": "adaanchor", "refine_in_score": False},
    {"name": "adaanchor", "fusion": "add"},
    {"name": "adaanchor", "topk": 1},
    {"name": "adaanchor", "candidate_radius": 2.5},
    {"name": "adaanchor", "sigma": 12.0, "topk": 7},
    {"name": "adaanchor", "warmup_steps": 5},
    {"name": "fixanchor"},
    {"name": "fixanchor", "topk": 3, "local_radius": 1.3},
    {"name": "fixanchor", "local_about": "target"},
    {"name": "adaanchor", "local_about": "target"},
]


@pytest.mark.parametrize("cfg", REFERENCE_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("n", [1, 3])
def test_encode_matches_reference(cfg, n):
    """The fast encode gives the targets of the implementation it replaced, on random outputs and crowded
    targets (several instances of a type sharing cells), for every option of the paper's method."""
    k = 4
    st = build_strategy(cfg, k, S, (W, H))
    for seed in range(4):
        out = random_outputs(st, 10 + seed, b=3)
        kp, vis = _crowded_batch(seed, 3, n, k)
        for step in (0, 10):
            fast = st.encode(out, kp, vis, step=step)
            ref = reference_encode(st, out, kp, vis, step=step)
            _assert_same_encoding(fast, ref)


def _unlabelled_batch(seed: int, b: int, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One instance per image, some targets unlabelled, one image with none labelled."""
    kp, _ = _crowded_batch(seed, b, 1, k)
    vis = torch.randint(0, 3, (b, 1, k), generator=torch.Generator().manual_seed(seed))
    vis[0] = 0
    vis[1, 0, 0] = 2
    return kp, vis


def _ranked(st, monkeypatch) -> list[int]:
    """Counts of the rows each encode ranked alone (``_rank_rows``)."""
    seen: list[int] = []
    orig = st._rank_rows
    monkeypatch.setattr(st, "_rank_rows", lambda out, gt, valid, rows, adaptive: seen.append(len(rows))
                        or orig(out, gt, valid, rows, adaptive))
    return seen


@pytest.mark.parametrize("cfg", REFERENCE_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_encode_of_one_instance_with_unlabelled_targets_matches_reference(cfg, monkeypatch):
    """One instance with unlabelled targets: the encode ranks the labelled targets' rows only, and gives the
    reference's targets."""
    k = 5
    st = build_strategy(cfg, k, S, (W, H))
    seen = _ranked(st, monkeypatch)
    for seed in range(4):
        out = random_outputs(st, 20 + seed, b=4)
        kp, vis = _unlabelled_batch(seed, 4, k)
        for step in (0, 10):
            _assert_same_encoding(st.encode(out, kp, vis, step=step), reference_encode(st, out, kp, vis, step=step))
            assert seen.pop() == int((vis > 0).sum())


ONE_INSTANCE_CASES = [
    {"name": "localanchor"},
    {"name": "localanchor", "topk": 40},  # more picks than candidates near a corner
    {"name": "adaanchor", "prior": "instance", "prior_scale": 0.5},
    {"name": "adaanchor", "quality": "oks", "oks_sigmas": [0.3, 0.5, 0.7, 0.9, 1.1]},
    {"name": "adaanchor", "metric": "aligned"},
    {"name": "adaanchor", "candidate_radius": 1.5, "topk": 9},
]


@pytest.mark.parametrize("cfg", ONE_INSTANCE_CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("unlabelled", [True, False])
def test_one_instance_topk_gives_the_dense_selections_targets(cfg, unlabelled, monkeypatch):
    """The options the reference does not cover (instance prior, OKS quality, aligned metric, candidates): the
    one-instance top-k path, with the labelled rows ranked alone or every row, gives the targets of the dense
    selection (``positives.assigned``: the top-k mask and the candidate mask, as several instances are encoded)."""
    k = 5
    st = build_strategy(cfg, k, S, (W, H))
    seen = _ranked(st, monkeypatch)
    for seed in range(3):
        out = random_outputs(st, 30 + seed, b=4)
        kp, vis = _unlabelled_batch(seed, 4, k) if unlabelled else (_crowded_batch(seed, 4, 1, k)[0], torch.ones(4, 1, k))
        enc = st.encode(out, kp, vis)
        assert seen.pop() == int((vis > 0).sum()) if unlabelled else not seen
        gt, valid = kp.float().permute(0, 2, 1, 3), (vis > 0).permute(0, 2, 1)
        h, w = out["conf"].shape[-2:]
        d2 = cell_distances2(gt, h, w, S)
        rank, _, cand, _ = st._adaptive_rank(out, gt, valid, d2)
        conf_t, offset_t = assigned(rank, None, None, cand, "topk", gt, valid, False, h, w, st.topk,
                                    int(st.opts["dynamic_q"]), S)
        assert torch.equal(enc.targets["conf"].value, conf_t.view_as(enc.targets["conf"].value))
        assert torch.equal(enc.targets["offset"].weight, offset_t.weight)
        torch.testing.assert_close(enc.targets["offset"].value, offset_t.value, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", ["adaanchor", "fixanchor", "localanchor"])
def test_encode_reads_no_scalar_back_from_the_device(name, monkeypatch):
    """Its diagnostics stay 0-d tensors, read only when a step is logged: on a GPU a scalar read waits for the
    device every step (the sparse targets' ``nonzero`` still does). The labels' check reads two scalars on the CPU
    only (``base._check_labels``), so it is left out here, where the encode stands for its GPU self."""
    from torch.utils._python_dispatch import TorchDispatchMode

    from adaanchor.strategies import base

    monkeypatch.setattr(base, "_check_labels", lambda *args: None)

    class Reads(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.__name__.startswith("_local_scalar_dense"):
                Reads.n += 1
            return func(*args, **(kwargs or {}))

    st = build_strategy({"name": name}, 3, S, (W, H))
    out = random_outputs(st, 0, b=2)
    kp = torch.tensor([[[[3.0, 4.0], [20.0, 9.0], [-5.0, 30.0]]], [[[30.0, 2.0], [8.0, 8.0], [16.0, 12.0]]]])
    with Reads():
        enc = st.encode(out, kp, torch.tensor([[[2, 1, 0]], [[2, 2, 1]]]))
    assert Reads.n == 0
    assert float(enc.stats["pos_dist_cells"]) > 0


@pytest.mark.parametrize("name", ["adaanchor", "fixanchor", "localanchor"])
def test_a_batch_with_no_labelled_target_has_no_positives(name):
    """No labelled row to rank (an empty ranking, ``grid_sample`` of none included): no positive, no offset target."""
    st = build_strategy({"name": name}, 3, S, (W, H))
    enc = st.encode(random_outputs(st, 0, b=2), torch.rand(2, 1, 3, 2) * W, torch.zeros(2, 1, 3, dtype=torch.long))
    assert float(enc.targets["conf"].value.sum()) == 0 and enc.targets["offset"].index.numel() == 0
    assert "pos_dist_cells" not in enc.stats


def test_local_about_auto_is_clamped_for_one_person_and_target_for_several():
    """``strategy.local_about=auto`` (the default): the clamped supervision top-down, the target's for the
    multi-person tasks (bottomup and centre); a value given is kept by every task."""
    from adaanchor.strategies.centre import build_centre
    from adaanchor.strategies.local_offsets import local_about_for
    from adaanchor.strategies.tags import build_bottomup

    assert [local_about_for(v, False) for v in ("auto", "clamped", "target")] == ["clamped", "clamped", "target"]
    assert [local_about_for(v, True) for v in ("auto", "clamped", "target")] == ["target", "clamped", "target"]
    with pytest.raises(ValueError, match="local_about must be one of"):
        local_about_for("nearest", True)
    assert build_strategy({"name": "localanchor"}, 3, S, (W, H)).local_about == "clamped"
    for given, want in ((None, "target"), ("clamped", "clamped"), ("target", "target")):
        cfg = {"name": "fixanchor", **({"local_about": given} if given else {})}
        assert build_bottomup(cfg, {}, 3, S, (W, H)).inner.local_about == want
        assert build_centre(cfg, {}, 3, S, (W, H)).centre.local_about == want
    assert build_bottomup({"name": "heatmap"}, {}, 3, S, (W, H)).inner.name == "heatmap"  # reads no local_about
