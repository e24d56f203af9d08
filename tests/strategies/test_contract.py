"""The Strategy contract, checked for every strategy.

- targets (value and weight) have exactly the shape of the head output;
- encoding is gradient-free and does not modify the outputs;
- padded instances and ``v = 0`` keypoints change nothing the loss can see;
- the generic loss runs on the targets and is finite (with finite gradients).
"""

from __future__ import annotations

import pytest
import torch

from adaanchor.models import KeypointNet, build_backbone
from adaanchor.strategies import STRATEGIES, STRATEGY_NAMES, build_strategy, compute_loss

K = 5
STRIDE = 4
INPUT = (32, 24)  # (W, H): an 8 x 6 map, deliberately not square
MAP_H, MAP_W = INPUT[1] // STRIDE, INPUT[0] // STRIDE

#: One config per registered strategy (small topk where a strategy reads it), plus variants.
CONFIGS = {name: {"name": name, "topk": 6} for name in STRATEGY_NAMES}
CONFIGS["adaanchor-norefine-add"] = {"name": "adaanchor", "topk": 6, "refine": False, "fusion": "add"}
CONFIGS["alignanchor"] = {"name": "alignanchor", "topk": 6, "oks_sigmas": [0.05, 0.07, 0.1, 0.05, 0.08]}
CONFIGS["adaanchor-instance-atss"] = {"name": "adaanchor", "prior": "instance", "select": "atss"}
CONFIGS["adaanchor-dynamic-aligned"] = {"name": "adaanchor", "select": "dynamic", "metric": "aligned", "soft_targets": True}
MULTI_INSTANCE = [c for c in CONFIGS if STRATEGIES[CONFIGS[c]["name"]].multi_instance]


def make_strategy(cfg_id: str):
    return build_strategy(CONFIGS[cfg_id], K, STRIDE, INPUT)


def random_outputs(strategy, b: int, gen: torch.Generator, requires_grad: bool = False) -> dict[str, torch.Tensor]:
    out = {}
    for head, ch in strategy.heads.items():
        shape = (b, ch) if head == "coords" else (b, ch, MAP_H, MAP_W)
        out[head] = torch.randn(shape, generator=gen).requires_grad_(requires_grad)
    return out


def random_batch(b: int, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints in and around the crop, visibility in {0, 1, 2} with every image having a labelled one."""
    lo = torch.tensor([-8.0, -8.0])
    hi = torch.tensor([INPUT[0] + 8.0, INPUT[1] + 8.0])
    kp = lo + (hi - lo) * torch.rand(b, n, K, 2, generator=gen)
    vis = torch.randint(0, 3, (b, n, K), generator=gen)
    vis[:, 0, 0] = 2
    return kp, vis


def assert_same_supervision(strategy, outputs, enc_a, enc_b) -> None:
    """Identical weights, identical values wherever a weight is non-zero, identical loss."""
    assert set(enc_a.targets) == set(enc_b.targets)
    for head in enc_a.targets:
        ta, tb = enc_a.targets[head], enc_b.targets[head]
        torch.testing.assert_close(ta.weight, tb.weight, rtol=0, atol=0, msg=f"weight of {head}")
        m = ta.weight > 0
        torch.testing.assert_close(ta.value[m], tb.value[m], rtol=0, atol=1e-6, msg=f"value of {head}")
    la = compute_loss(outputs, enc_a.targets, strategy.losses)
    lb = compute_loss(outputs, enc_b.targets, strategy.losses)
    for key in la:
        torch.testing.assert_close(la[key], lb[key], rtol=1e-6, atol=1e-6, msg=key)


def _n_values(cfg_id: str) -> list[int]:
    return [1, 3] if cfg_id in MULTI_INSTANCE else [1]


CASES = [(c, n) for c in CONFIGS for n in _n_values(c)]


def test_every_strategy_is_covered():
    assert {CONFIGS[c]["name"] for c in CONFIGS} == set(STRATEGY_NAMES)
    for cfg_id in CONFIGS:
        assert make_strategy(cfg_id).name == CONFIGS[cfg_id]["name"], cfg_id


@pytest.mark.parametrize("cfg_id,n", CASES)
def test_targets_have_output_shapes(cfg_id, n):
    gen = torch.Generator().manual_seed(0)
    st = make_strategy(cfg_id)
    outputs = random_outputs(st, 2, gen)
    kp, vis = random_batch(2, n, gen)
    enc = st.encode(outputs, kp, vis, step=0)
    assert set(enc.targets) == set(st.heads)
    assert set(st.losses) <= set(st.heads)
    for head, out in outputs.items():
        t = enc.targets[head]
        assert t.value.shape == out.shape, head
        assert t.weight.shape == out.shape, head
        assert torch.isfinite(t.value).all() and torch.isfinite(t.weight).all(), head
        assert (t.weight >= 0).all(), head


@pytest.mark.parametrize("cfg_id,n", CASES)
def test_encode_is_gradient_free_and_leaves_outputs_alone(cfg_id, n):
    gen = torch.Generator().manual_seed(1)
    st = make_strategy(cfg_id)
    outputs = random_outputs(st, 2, gen, requires_grad=True)
    before = {h: o.detach().clone() for h, o in outputs.items()}
    kp, vis = random_batch(2, n, gen)
    with torch.enable_grad():
        enc = st.encode(outputs, kp, vis, step=0)
    for head, t in enc.targets.items():
        for tensor in (t.value, t.weight):
            assert not tensor.requires_grad, head
            assert tensor.grad_fn is None, head
    for head, o in outputs.items():
        assert o.requires_grad and o.grad is None, head
        torch.testing.assert_close(o.detach(), before[head], rtol=0, atol=0)


@pytest.mark.parametrize("cfg_id", MULTI_INSTANCE)
@pytest.mark.parametrize("pad_xy", [(0.0, 0.0), (13.3, 7.1), (-250.0, 900.0)])
def test_padded_instance_changes_nothing(cfg_id, pad_xy):
    gen = torch.Generator().manual_seed(2)
    st = make_strategy(cfg_id)
    outputs = random_outputs(st, 2, gen)
    kp, vis = random_batch(2, 2, gen)
    base = st.encode(outputs, kp, vis, step=0)
    pad_kp = torch.tensor(pad_xy).expand(2, 1, K, 2) + torch.randn(2, 1, K, 2, generator=gen)
    kp2 = torch.cat([kp, pad_kp], dim=1)
    vis2 = torch.cat([vis, torch.zeros(2, 1, K, dtype=vis.dtype)], dim=1)
    padded = st.encode(outputs, kp2, vis2, step=0)
    assert_same_supervision(st, outputs, base, padded)
    # The padding can also go first: an instance index carries no meaning.
    padded_first = st.encode(outputs, torch.cat([pad_kp, kp], 1), torch.cat([vis2[:, 2:], vis], 1), step=0)
    assert_same_supervision(st, outputs, base, padded_first)


@pytest.mark.parametrize("cfg_id,n", CASES)
def test_unlabelled_keypoints_change_nothing(cfg_id, n):
    gen = torch.Generator().manual_seed(3)
    st = make_strategy(cfg_id)
    outputs = random_outputs(st, 2, gen)
    kp, vis = random_batch(2, n, gen)
    vis[0, 0, 1] = 0  # at least one unlabelled keypoint
    base = st.encode(outputs, kp, vis, step=0)
    moved = kp.clone()
    unl = vis == 0
    moved[unl] = torch.rand(int(unl.sum()), 2, generator=gen) * 200 - 100
    assert not torch.equal(moved, kp)
    assert_same_supervision(st, outputs, base, st.encode(outputs, moved, vis, step=0))


@pytest.mark.parametrize("cfg_id", list(CONFIGS))
def test_all_unlabelled_gives_no_positive_supervision(cfg_id):
    gen = torch.Generator().manual_seed(4)
    st = make_strategy(cfg_id)
    outputs = random_outputs(st, 2, gen)
    kp, vis = random_batch(2, 1, gen)
    vis[:, :, 2] = 0  # type 2 unlabelled in every image
    enc = st.encode(outputs, kp, vis, step=0)
    for head, t in enc.targets.items():
        if head == "coords":
            w = t.weight.view(2, K, 2)[:, 2]
        else:
            c = t.weight.shape[1] // K
            w = t.weight[:, 2 * c: 3 * c]  # channels of type 2 (x, y interleaved per type)
        assert (w == 0).all(), head
    if "conf" in enc.targets:
        assert (enc.targets["conf"].value[:, 2] == 0).all()


@pytest.mark.parametrize("cfg_id,n", CASES)
def test_compute_loss_is_finite_with_finite_gradients(cfg_id, n):
    gen = torch.Generator().manual_seed(5)
    st = make_strategy(cfg_id)
    outputs = random_outputs(st, 2, gen, requires_grad=True)
    kp, vis = random_batch(2, n, gen)
    enc = st.encode(outputs, kp, vis, step=0)
    losses = compute_loss(outputs, enc.targets, st.losses)
    assert set(losses) == {"loss"} | {f"loss_{h}" for h in st.losses}
    for key, v in losses.items():
        assert v.ndim == 0 and torch.isfinite(v), key
    expected = sum(w * losses[f"loss_{h}"] for h, (_, w) in st.losses.items())
    torch.testing.assert_close(losses["loss"], expected)
    assert losses["loss"] > 0
    losses["loss"].backward()
    for head in st.losses:
        g = outputs[head].grad
        assert g is not None and torch.isfinite(g).all() and g.abs().sum() > 0, head


@pytest.mark.parametrize("cfg_id", list(CONFIGS))
def test_model_heads_match_the_contract(cfg_id):
    """The tiny model's heads have the shapes the strategy encodes for; decode gives (B, K, 2)."""
    torch.manual_seed(0)
    st = build_strategy(CONFIGS[cfg_id], K, STRIDE, (64, 48))
    net = KeypointNet(build_backbone("tiny", tiny_width=8), st.heads)
    assert net.stride == STRIDE
    outputs = net(torch.randn(2, 3, 48, 64))
    assert set(outputs) == set(st.heads)
    for head, ch in st.heads.items():
        assert outputs[head].shape == ((2, ch) if head == "coords" else (2, ch, 12, 16)), head
    kp = torch.rand(2, 1, K, 2) * torch.tensor([64.0, 48.0])
    vis = torch.full((2, 1, K), 2)
    enc = st.encode(outputs, kp, vis)
    assert all(t.value.grad_fn is None for t in enc.targets.values())
    loss = compute_loss(outputs, enc.targets, st.losses)["loss"]
    loss.backward()
    assert torch.isfinite(loss)
    dec = st.decode({h: o.detach() for h, o in outputs.items()})
    assert dec.xy.shape == (2, K, 2)
    if st.has_confidence:
        assert dec.score.shape == (2, K) and ((dec.score >= 0) & (dec.score <= 1)).all()
    else:
        assert dec.score is None


@pytest.mark.parametrize("name", STRATEGY_NAMES)
def test_anchor_strategy_names_are_those_with_anchor_offsets(name):
    """``ANCHOR_STRATEGY_NAMES`` (which the drawings and the predictor read to show each keypoint's anchor cell)
    holds exactly the registered strategies that regress keypoints from anchor cells, presets included."""
    from adaanchor.strategies import ANCHOR_STRATEGY_NAMES

    st = build_strategy({"name": name}, 17, 4, (72, 96))
    assert ("offset" in st.heads) == (name in ANCHOR_STRATEGY_NAMES)
