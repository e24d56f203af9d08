"""The contract of every entry of ``BACKBONES`` (a backbone added to the registry is checked as the built-in ones
are): the class attributes the config and the model read, and the dense and deep maps it hands over, with the
channel counts it states. Built on the meta device: shapes only, no weights allocated."""

from __future__ import annotations

import math

import pytest
import torch

from adaanchor.models.backbones import BACKBONES, backbone_from_config, model_defaults


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_every_backbone_states_what_it_hands_over(name):
    cls = BACKBONES[name]
    assert callable(getattr(cls, "from_config", None)) and isinstance(cls.DEFAULTS, dict)
    assert set(cls.RANGES) <= set(cls.DEFAULTS), name  # a range for an option it does not have would be dead
    with torch.device("meta"):
        net = backbone_from_config({**model_defaults(), "backbone": name}).eval()
        stride, multiple = net.stride, net.input_multiple
        assert isinstance(stride, int) and isinstance(multiple, int) and stride >= 1 and multiple >= 1, name
        h, w = 2 * max(multiple, 32), 3 * max(multiple, 32)
        assert h % multiple == 0 and w % multiple == 0
        dense, deep = net(torch.zeros(1, 3, h, w))
    assert tuple(dense.shape) == (1, net.out_channels, math.ceil(h / stride), math.ceil(w / stride)), name
    assert deep.dim() == 4 and deep.shape[:2] == (1, net.deep_channels), name
