"""Backbones and heads: output shapes and strides, local weight loading, architecture mismatch errors."""

from __future__ import annotations

import pytest
import torch

from adaanchor.errors import AdaAnchorError
from adaanchor.models import build_backbone
from adaanchor.models.net import KeypointNet, load_weights

HEADS = {"conf": 3, "offset": 6, "local": 6, "coords": 6}


@pytest.mark.parametrize("name, kw, size", [("tiny", {"tiny_width": 8}, (72, 40)), ("resnet18", {"deconv_channels": 16}, (72, 40)),
                                            ("hrnet_w18", {}, (64, 32))])
def test_backbone_shapes_and_stride(name, kw, size):
    """Dense maps are ceil(size / 4) cells, also when the size is not a multiple of the encoder's stride."""
    net = KeypointNet(build_backbone(name, **kw), HEADS)
    out = net(torch.randn(2, 3, *size))
    assert net.stride == 4
    for head in ("conf", "offset", "local"):
        assert out[head].shape == (2, HEADS[head], -(-size[0] // 4), -(-size[1] // 4)), head
    assert out["coords"].shape == (2, 6)


def test_hrnet_input_size_must_be_a_multiple_of_32():
    from adaanchor.config import build_config
    from adaanchor.engine.run import build_system

    with pytest.raises(AdaAnchorError, match="divisible by 32"):
        build_system(build_config(None, ["model.backbone=hrnet_w18", "data.input_size=[72,96]"]))


def test_confidence_prior_and_zero_offsets_at_start():
    net = KeypointNet(build_backbone("tiny", tiny_width=8), HEADS, conf_prior=0.1).eval()
    out = net(torch.randn(1, 3, 32, 32))
    assert torch.allclose(torch.sigmoid(out["conf"]).mean(), torch.tensor(0.1), atol=0.05)
    assert out["offset"].abs().max() < 0.1


def test_load_backbone_state_dict_from_local_file(tmp_path):
    src = build_backbone("resnet18", deconv_channels=16)
    # An ImageNet checkpoint saved from timm has the backbone's own key names (no 'backbone.body.' prefix).
    torch.save(src.body.state_dict(), tmp_path / "r18.pth")
    net = KeypointNet(build_backbone("resnet18", deconv_channels=16), HEADS)
    counts = load_weights(net, tmp_path / "r18.pth")
    assert counts["loaded"] == len(src.body.state_dict())
    for k, v in src.body.state_dict().items():
        assert torch.equal(net.backbone.body.state_dict()[k], v), k


def test_weights_of_another_architecture_are_refused(tmp_path):
    torch.save({"model": KeypointNet(build_backbone("tiny", tiny_width=8), HEADS).state_dict()}, tmp_path / "t8.pt")
    other = KeypointNet(build_backbone("tiny", tiny_width=16), HEADS)
    with pytest.raises(AdaAnchorError, match=r"t8.pt: only \d+ of \d+ tensors match"):
        load_weights(other, tmp_path / "t8.pt")


@pytest.mark.parametrize("name, kw, size", [("resnet18", {"deconv_channels": 16}, (64, 48)), ("hrnet_w18", {}, (64, 64)),
                                            ("tiny", {"tiny_width": 8}, (72, 96))])
def test_channels_last_gives_the_default_layouts_results_and_gradients(name, kw, size):
    """The NHWC body (model.channels_last, on by default for every backbone) changes speed, not results."""
    torch.manual_seed(0)
    nhwc = KeypointNet(build_backbone(name, **kw, channels_last=True), HEADS)
    nchw = KeypointNet(build_backbone(name, **kw, channels_last=False), HEADS)
    nchw.load_state_dict(nhwc.state_dict())
    assert nhwc.backbone.channels_last and not nchw.backbone.channels_last
    # In float64, so that what is compared is the function computed, not float32 rounding (which a deep
    # randomly initialised net in training mode amplifies to ~0.3% in the first layer's gradient).
    nhwc, nchw = nhwc.double(), nchw.double()
    first = next(m for m in nhwc.backbone.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.weight.is_contiguous(memory_format=torch.channels_last)
    x = torch.randn(2, 3, size[1], size[0], dtype=torch.float64)
    a, b = nhwc(x), nchw(x)
    for k in a:
        if a[k].dim() == 4:  # the strategies' reshapes see the usual (NCHW) layout: rows of cells, not of channels
            assert a[k].stride(-1) == 1 and a[k].stride(1) == a[k].shape[-1] * a[k].shape[-2], k
        assert float((a[k] - b[k]).detach().abs().max()) <= 1e-9 * float(b[k].detach().abs().max()), k
    sum(v.float().pow(2).mean() for v in a.values()).backward()
    sum(v.float().pow(2).mean() for v in b.values()).backward()
    ga = dict(nhwc.named_parameters())
    for n, p in nchw.named_parameters():
        assert (p.grad is None) == (ga[n].grad is None), n
        if p.grad is None:  # a timm branch that feeds no returned map
            continue
        assert float((ga[n].grad - p.grad).abs().max()) <= 1e-7 * float(p.grad.abs().max()) + 1e-12, n


@pytest.mark.parametrize("name, kw, size", [("resnet18", {"deconv_channels": 16}, (64, 48)), ("tiny", {"tiny_width": 8}, (72, 96))])
def test_the_last_layer_of_a_channels_last_backbone_gets_its_gradient_channels_last(name, kw, size):
    """The heads read the dense map in NCHW; its gradient goes back to the NHWC layers in their own layout (a
    backward across two layouts cost the tiny CNN's last ReLU 2 ms of a 50 ms step)."""
    net = KeypointNet(build_backbone(name, **kw, channels_last=True), HEADS)
    last = [m for m in net.backbone.modules() if isinstance(m, torch.nn.ReLU)][-1]
    seen: list[torch.Tensor] = []

    def keep_grad(module, inputs, out):
        if out.requires_grad:
            out.register_hook(seen.append)

    last.register_forward_hook(keep_grad)
    out = net(torch.randn(2, 3, size[1], size[0]))
    sum(v.pow(2).mean() for v in out.values()).backward()
    assert len(seen) == 1 and seen[0].dim() == 4
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous()
    with torch.no_grad():  # inference, export: a plain copy, no autograd function in the graph
        assert net.backbone(torch.randn(1, 3, size[1], size[0]))[0].is_contiguous()


def test_channels_last_null_takes_each_backbones_faster_layout_and_true_or_false_force_it():
    """model.channels_last: null (the default) is NHWC for the timm backbones and for the tiny CNN from width 32
    (narrower ones measured slower in NHWC); true and false force either; anything else is refused."""
    from adaanchor.config import build_config
    from adaanchor.models.backbones import backbone_from_config

    assert build_config(None, []).model.channels_last is None
    for over, expected in ((["model.tiny_width=32"], True), (["model.tiny_width=24"], False),
                           (["model.backbone=resnet18"], True), (["model.tiny_width=8", "model.channels_last=true"], True),
                           (["model.channels_last=false"], False), (["model.backbone=resnet18", "model.channels_last=false"], False)):
        cfg = build_config(None, over)
        assert backbone_from_config(cfg.model).channels_last is expected, over
    assert build_backbone("tiny", tiny_width=32).channels_last and not build_backbone("tiny", tiny_width=8).channels_last
    with pytest.raises(AdaAnchorError, match=r"model.channels_last.*true or false \(or null\), got 3"):
        build_config(None, ["model.channels_last=3"])


def test_stacked_heads_equal_one_convolution_per_head_with_gradients():
    """The 1x1 heads run as one product of stacked weights: the same outputs and gradients as each head's own
    Conv2d (float64), views that reshape like the heads' outputs, and the heads' parameter names unchanged."""
    torch.manual_seed(0)
    net = KeypointNet(build_backbone("tiny", tiny_width=8), HEADS).double()
    assert {"heads.conf.weight", "heads.offset.weight", "heads.local.bias"} <= set(net.state_dict())
    x = torch.randn(2, 3, 40, 72, dtype=torch.float64)
    out = net(x)
    assert list(out) == list(HEADS)
    dense = net.backbone(x)[0][..., :10, :18]
    ref = {k: net.heads[k](dense) for k in ("conf", "offset", "local")}
    for k, v in ref.items():
        assert out[k].shape == v.shape and float((out[k] - v).abs().max().detach()) < 1e-12, k
        assert torch.allclose(out[k].view(2, -1, 180), v.reshape(2, -1, 180), rtol=0, atol=1e-12), k  # a view works
    grads = []
    for outs in (out, ref):
        net.zero_grad()
        sum((v * torch.linspace(-1, 1, v.numel(), dtype=v.dtype).view_as(v)).sum() for v in outs.values()).backward(
            retain_graph=True)
        grads.append({n: p.grad.clone() for n, p in net.named_parameters() if n.startswith("heads.") and "coords" not in n})
    for n, g in grads[0].items():
        assert float((g - grads[1][n]).abs().max()) <= 1e-10 * float(g.abs().max()), n
