"""The generic losses against numbers worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as hs

from adaanchor.strategies import Target, compute_loss
from adaanchor.strategies.losses import focal_loss, l1_loss, mse_loss

LN3 = math.log(3.0)


def t(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


# ---- focal --------------------------------------------------------------------------------------


def test_focal_by_hand():
    # logits 0, ln3, -ln3, 2  ->  p = 1/2, 3/4, 1/4, sigmoid(2)
    logits = t(0.0, LN3, -LN3, 2.0).view(1, 4)
    target = t(1, 1, 0, 0).view(1, 4)
    weight = t(1, 1, 1, 0).view(1, 4)
    # positive p=1/2:  -(1 - 1/2)^2 * ln(1/2) = 0.25 * ln 2
    # positive p=3/4:  -(1 - 3/4)^2 * ln(3/4) = 0.0625 * ln(4/3)
    # negative p=1/4:  -(1/4)^2 * ln(1 - 1/4) = 0.0625 * ln(4/3)
    # negative p=sigmoid(2): weight 0
    # two weighted positives
    expected = (0.25 * math.log(2) + 0.0625 * math.log(4 / 3) + 0.0625 * math.log(4 / 3)) / 2
    assert focal_loss(logits, target, weight).item() == pytest.approx(expected, rel=1e-6)


def test_focal_masked_positive_is_not_counted():
    logits = t(0.0, 0.0, LN3).view(3)
    target = t(1, 1, 0)
    weight = t(1, 0, 1)  # the second positive is masked: one positive left
    # 0.25 * ln 2 (positive p=1/2) + (3/4)^2 * ln 4 (negative p=3/4), over 1 positive
    expected = 0.25 * math.log(2) + 0.5625 * math.log(4)
    assert focal_loss(logits, target, weight).item() == pytest.approx(expected, rel=1e-6)


def test_focal_without_positives_divides_by_one():
    logits = t(LN3, -LN3)
    # negatives p=3/4 and p=1/4: (3/4)^2 ln 4 + (1/4)^2 ln(4/3), divided by max(1, 0)
    expected = 0.5625 * math.log(4) + 0.0625 * math.log(4 / 3)
    assert focal_loss(logits, t(0, 0), t(1, 1)).item() == pytest.approx(expected, rel=1e-6)


def test_focal_gamma_zero_is_cross_entropy():
    # gamma 0: -ln p at positives, -ln(1-p) at negatives: ln 2 + ln(4/3) + ln(4/3), over 1 positive
    logits = t(0.0, -LN3, -LN3)
    expected = math.log(2) + 2 * math.log(4 / 3)
    assert focal_loss(logits, t(1, 0, 0), t(1, 1, 1), gamma=0.0).item() == pytest.approx(expected, rel=1e-6)


def test_focal_is_stable_for_large_logits():
    # negative with logit 100: p^2 = 1, -ln(1 - p) = 100 (log-sigmoid form); positive with logit -100: 100.
    v = focal_loss(t(100.0, -100.0), t(0, 1), t(1, 1))
    assert torch.isfinite(v) and v.item() == pytest.approx(200.0 / 1, rel=1e-4)


def test_focal_confident_and_right_is_near_zero():
    v = focal_loss(t(30.0, -30.0, -30.0), t(1, 0, 0), t(1, 1, 1))
    assert 0 <= v.item() < 1e-12


def _focal_reference(logits, target, weight, gamma):
    """The focal loss as written in the docstring, differentiated by autograd (log-sigmoid form)."""
    x = logits.detach().clone().requires_grad_(True)
    pos = target > 0.5
    p = torch.sigmoid(x)
    elem = torch.where(pos, -((1 - p) ** gamma) * F.logsigmoid(x), -(p**gamma) * F.logsigmoid(-x))
    loss = (elem * weight).sum() / (pos.float() * weight).sum().clamp(min=1.0)
    loss.backward()
    return loss.detach(), x.grad


@pytest.mark.parametrize("gamma", [0.0, 1.0, 2.0, 2.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_focal_value_and_gradient_equal_the_reference(gamma, seed):
    """The hand-written pass (min(log(max(q, tiny)), z) for log q, the folded divisor) against autograd of the
    plain formula, over logits from -120 to 120: beyond -87 the sigmoid is no longer a normal float."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.cat([torch.randn(2, 3, 6, 5, generator=g) * 8, torch.linspace(-120, 120, 180).view(2, 3, 6, 5)])
    target = (torch.rand(logits.shape, generator=g) < 0.2).float()
    weight = (torch.rand(logits.shape, generator=g) < 0.8).float()
    ref, ref_grad = _focal_reference(logits, target, weight, gamma)
    x = logits.clone().requires_grad_(True)
    loss = focal_loss(x, target, weight, gamma)
    (loss * 3.0).backward()  # a non-unit upstream gradient goes through the folded divisor
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    torch.testing.assert_close(x.grad, 3.0 * ref_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("seed", [0, 1])
def test_focal_with_a_broadcast_channel_weight_equals_the_written_out_weight(seed):
    """The anchors' confidence weight is one value per map, broadcast (a view with strides 0): the focal loss
    sums each map and weighs the sums; value and gradient equal those of the same weight written out, on
    a non-contiguous logit map (a channel slice of the stacked heads, as the model hands it over)."""
    g = torch.Generator().manual_seed(seed)
    stacked = torch.randn(3, 9, 5, 6, generator=g) * 4
    logits = stacked[:, 2:6]  # (3, 4, 5, 6), not contiguous
    target = (torch.rand(logits.shape, generator=g) < 0.2).float()
    chan = (torch.rand(3, 4, generator=g) < 0.7).float()
    broadcast = chan.view(3, 4, 1, 1).expand(logits.shape)
    assert broadcast.stride()[-2:] == (0, 0)
    losses, grads = [], []
    for weight in (broadcast, broadcast.contiguous()):
        x = logits.clone().requires_grad_(True)
        loss = focal_loss(x, target, weight, 2.0)
        loss.backward()
        losses.append(loss.item())
        grads.append(x.grad)
    assert losses[0] == pytest.approx(losses[1], rel=1e-6)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-6, atol=1e-9)
    ref, ref_grad = _focal_reference(logits, target, broadcast.contiguous(), 2.0)
    assert losses[0] == pytest.approx(ref.item(), rel=1e-5)
    torch.testing.assert_close(grads[0], ref_grad, rtol=1e-5, atol=1e-7)


# ---- L1 / MSE -----------------------------------------------------------------------------------


def test_l1_by_hand():
    pred = t(1, 2, 3, 4).view(1, 4)
    target = t(0, 0, 0, 0).view(1, 4)
    # two weighted elements = one point: (|1| + |2|) / 1
    assert l1_loss(pred, target, t(1, 1, 0, 0).view(1, 4)).item() == pytest.approx(3.0)
    # four weighted elements = two points: (1 + 2 + 3 + 4) / 2
    assert l1_loss(pred, target, t(1, 1, 1, 1).view(1, 4)).item() == pytest.approx(5.0)
    # a single weighted element: half a point, the divisor is clamped to 1
    assert l1_loss(pred, target, t(0, 0, 0, 1).view(1, 4)).item() == pytest.approx(4.0)
    # nothing weighted: 0
    assert l1_loss(pred, target, torch.zeros(1, 4)).item() == 0.0


def test_l1_signs_and_fractional_weights():
    pred = t(-1.0, 0.5, 2.0, -3.0)
    target = t(1.0, 0.5, -2.0, 0.0)
    weight = t(1.0, 1.0, 0.5, 0.5)
    # |−2|*1 + 0*1 + |4|*0.5 + |−3|*0.5 = 2 + 0 + 2 + 1.5 = 5.5; weight sum 3 -> 1.5 points
    assert l1_loss(pred, target, weight).item() == pytest.approx(5.5 / 1.5)


def test_mse_by_hand():
    pred = t(1, 2, 3, 4)
    target = t(0, 0, 0, 2)
    weight = t(1, 1, 0, 1)
    # squares 1, 4, (9 masked), 4 -> sum 9 over 4 elements, times 0.5
    assert mse_loss(pred, target, weight).item() == pytest.approx(0.5 * 9 / 4)


# ---- compute_loss -------------------------------------------------------------------------------


def test_compute_loss_weights_and_sums_heads():
    outputs = {"a": t(1, 2, 3, 4).view(1, 4), "b": t(1, 2, 3, 4), "c": t(0.0, LN3)}
    targets = {
        "a": Target(torch.zeros(1, 4), torch.ones(1, 4)),  # l1 = 10 / 2 = 5
        "b": Target(t(0, 0, 0, 2), t(1, 1, 0, 1)),  # mse = 1.125
        "c": Target(t(1, 0), t(1, 1)),  # focal = 0.25 ln 2 + 0.5625 ln 4
    }
    losses = {"a": ("l1", 2.0), "b": ("mse", 0.5), "c": ("focal", 1.0)}
    out = compute_loss(outputs, targets, losses)
    focal = 0.25 * math.log(2) + 0.5625 * math.log(4)
    assert out["loss_a"].item() == pytest.approx(5.0)
    assert out["loss_b"].item() == pytest.approx(1.125)
    assert out["loss_c"].item() == pytest.approx(focal, rel=1e-6)
    assert out["loss"].item() == pytest.approx(2.0 * 5.0 + 0.5 * 1.125 + focal, rel=1e-6)


def test_compute_loss_focal_gamma_is_passed():
    outputs = {"c": t(0.0, -LN3)}
    targets = {"c": Target(t(1, 0), t(1, 1))}
    out = compute_loss(outputs, targets, {"c": ("focal", 1.0)}, focal_gamma=0.0)
    assert out["loss"].item() == pytest.approx(math.log(2) + math.log(4 / 3), rel=1e-6)


def test_compute_loss_rejects_shape_mismatch_and_unknown_kind():
    outputs = {"a": torch.zeros(1, 4)}
    with pytest.raises(ValueError, match="head 'a'"):
        compute_loss(outputs, {"a": Target(torch.zeros(1, 2), torch.zeros(1, 2))}, {"a": ("l1", 1.0)})
    with pytest.raises(ValueError, match="head 'a'"):
        compute_loss(outputs, {"a": Target(torch.zeros(1, 4), torch.zeros(4))}, {"a": ("l1", 1.0)})
    with pytest.raises(ValueError, match="unknown loss kind"):
        compute_loss(outputs, {"a": Target(torch.zeros(1, 4), torch.ones(1, 4))}, {"a": ("huber", 1.0)})


def test_gradients_only_where_weighted():
    pred = t(1.0, 2.0, 3.0).requires_grad_(True)
    l1_loss(pred, t(0, 0, 0), t(1, 0, 1)).backward()
    # d/dpred of (|p0| + |p2|) / 1 = sign, 0 where masked
    torch.testing.assert_close(pred.grad, t(1.0, 0.0, 1.0))
    logits = t(0.0, 0.0).requires_grad_(True)
    focal_loss(logits, t(1, 0), t(0, 1)).backward()
    assert logits.grad[0] == 0 and logits.grad[1] > 0


# ---------------------------------------------------------------------------------- sparse (point) targets
def _point_case(seed: int, n: int):
    from adaanchor.strategies.assign_targets import pair_map

    g = torch.Generator().manual_seed(seed)
    b, k, h, w, s = 3, 4, 5, 6, 4
    gt = torch.rand(b, k, n, 2, generator=g) * torch.tensor([w * s * 1.4, h * s * 1.4]) - 0.2 * s * torch.tensor([w, h])
    mask = torch.rand(b, k, h * w, generator=g) < 0.2
    idx = None if n == 1 else torch.randint(0, n, (b, k, 1, h * w), generator=g)
    return gt, mask, idx, (b, k, h, w, s), pair_map


@pytest.mark.parametrize("seed,n", [(0, 1), (1, 3), (2, 2)])
def test_point_offsets_are_the_dense_targets_at_their_cells(seed, n):
    """The sparse offset target's dense form is ``offsets_to`` weighted by ``pair_map`` of its cells, exactly."""
    from adaanchor.strategies.assign_targets import offsets_to, point_offsets

    gt, mask, idx, (b, k, h, w, s), pair_map = _point_case(seed, n)
    pt = point_offsets(gt, mask, idx, h, w, s)
    dense_w = pair_map(mask.float(), h, w)
    assert pt.shape == (b, 2 * k, h, w) and pt.index.unique().numel() == pt.index.numel() == 2 * int(mask.sum())
    assert torch.equal(pt.weight, dense_w)
    assert torch.equal(pt.value, offsets_to(gt, idx, h, w, s) * dense_w)


@pytest.mark.parametrize("seed", [0, 6])
def test_point_offsets_searched_at_given_cells_are_the_same_target(seed):
    """With the top-k's cells given (a superset of the mask's cells per row, as the encode passes them), the
    sparse target has the same dense form as when the whole mask is searched."""
    from adaanchor.strategies.assign_targets import point_offsets

    gt, _, idx, (b, k, h, w, s), _ = _point_case(seed, 1)
    g = torch.Generator().manual_seed(seed)
    cells = torch.rand(b, k, h * w, generator=g).topk(7, dim=-1, sorted=False).indices  # distinct per row
    mask = torch.zeros(b, k, h * w, dtype=torch.bool).scatter_(-1, cells, True)
    mask &= torch.rand(b, k, h * w, generator=g) < 0.6  # some picks are dropped (invalid, outside the prior)
    full, fast = point_offsets(gt, mask, idx, h, w, s), point_offsets(gt, mask, idx, h, w, s, cells=cells)
    assert fast.index.numel() == full.index.numel() == 2 * int(mask.sum())
    assert torch.equal(fast.weight, full.weight) and torch.equal(fast.value, full.value)


@settings(max_examples=25, deadline=None)
@given(w=hs.integers(2, 30), h=hs.integers(2, 30), radius=hs.floats(0.0, 4.0), seed=hs.integers(0, 2**16))
def test_local_targets_searched_in_a_window_are_the_same_target(w, h, radius, seed):
    """The window around each target holds every cell within ``radius`` cells of it: the local target found there
    equals the one found over the whole map, for targets on, beside and far outside the map, NaN and infinite."""
    from adaanchor.strategies.assign_targets import cell_distances2, point_offsets, window_cells, window_close

    g = torch.Generator().manual_seed(seed)
    b, k, s = 2, 6, 4
    gt = (torch.rand(b, k, 1, 2, generator=g) * 1.6 - 0.3) * torch.tensor([w * s, h * s])
    gt[0, 0, 0] = torch.tensor([float("nan"), 3.0])
    gt[0, 1, 0] = torch.tensor([float("inf"), -float("inf")])
    gt[1, 0, 0] = torch.tensor([-1e6, 1e6])
    gt[1, 1, 0] = torch.tensor([(w - 1) * s + 1.5, 1.5])  # on a corner cell's centre, the window's edge case
    close = cell_distances2(gt, h, w, s)[:, :, 0] <= (radius * s) ** 2
    full = point_offsets(gt, close, None, h, w, s)
    win = window_cells(gt, radius, h, w, s)
    if win is None:  # the window is not smaller than the map: the whole mask is searched
        assert (2 * (2 * int(radius + 0.5) + 3) ** 2) >= h * w
        assert window_close(gt, torch.ones(b, k, 1, dtype=torch.bool), radius, h, w, s) is None
        return
    cells, ok = win
    assert int(cells.max()) < h * w and int(cells.min()) >= 0
    fast = point_offsets(gt, close, None, h, w, s, cells, ok)
    assert torch.equal(fast.weight, full.weight) and torch.equal(fast.value, full.value)
    # The window's own distances (no map-wide distance): the same mask at its cells, labelled targets only.
    valid = torch.rand(b, k, 1, generator=g) < 0.8
    cells_c, near = window_close(gt, valid, radius, h, w, s)
    assert torch.equal(cells_c, cells)
    assert torch.equal(near, close.gather(-1, cells) & ok & valid)
    labelled = point_offsets(gt, close & valid, None, h, w, s)
    fast = point_offsets(gt, None, None, h, w, s, cells=cells_c, cells_ok=near)
    assert torch.equal(fast.weight, labelled.weight) and torch.equal(fast.value, labelled.value)


@pytest.mark.parametrize("seed,n", [(3, 1), (4, 3)])
def test_point_l1_equals_the_dense_l1_in_value_and_gradient(seed, n):
    from adaanchor.strategies.assign_targets import point_offsets
    from adaanchor.strategies.base import Target
    from adaanchor.strategies.losses import compute_loss

    gt, mask, idx, (b, k, h, w, s), _ = _point_case(seed, n)
    pt = point_offsets(gt, mask, idx, h, w, s)
    # A channel slice of a larger map, as the model's stacked heads hand it over.
    base = torch.randn(b, 3 * k, h, w, generator=torch.Generator().manual_seed(seed), requires_grad=True)
    losses = {"offset": ("l1", 1.0)}
    sparse = compute_loss({"offset": base[:, k:]}, {"offset": pt}, losses)["loss"]
    (g_sparse,) = torch.autograd.grad(sparse, base)
    dense = compute_loss({"offset": base[:, k:]}, {"offset": Target(pt.value, pt.weight)}, losses)["loss"]
    (g_dense,) = torch.autograd.grad(dense, base)
    assert sparse.item() == pytest.approx(dense.item(), rel=1e-6)
    torch.testing.assert_close(g_sparse, g_dense, rtol=0, atol=1e-7)
    assert (g_sparse[:, k:] != 0).sum() <= pt.index.numel() and float(g_sparse[:, :k].abs().sum()) == 0.0


def test_point_target_refuses_another_shape_or_loss():
    from adaanchor.strategies.assign_targets import point_offsets
    from adaanchor.strategies.losses import compute_loss

    gt, mask, idx, (b, k, h, w, s), _ = _point_case(5, 1)
    pt = point_offsets(gt, mask, idx, h, w, s)
    with pytest.raises(ValueError, match="point target"):
        compute_loss({"offset": torch.zeros(b, 2 * k, h, w + 1)}, {"offset": pt}, {"offset": ("l1", 1.0)})
    with pytest.raises(ValueError, match="mse loss"):
        compute_loss({"offset": torch.zeros(b, 2 * k, h, w)}, {"offset": pt}, {"offset": ("mse", 1.0)})
