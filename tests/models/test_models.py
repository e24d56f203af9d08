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
