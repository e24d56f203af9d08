"""``task=bottomup strategy.quality=oks`` reads the keypoint spec's OKS sigmas, as top-down does: the bottom-up
builder did not pass them on, and the run stopped with 'the keypoint spec has none' on a spec that has them."""

from __future__ import annotations

import pytest
import torch

from adaanchor.config import build_config
from adaanchor.configs import config_file
from adaanchor.engine.run import build_system, data_spec


def test_bottomup_oks_quality_uses_the_spec_sigmas():
    cfg = build_config(config_file("bottomup_crowd.yaml"), ["strategy.quality=oks", "model.weights=null"])
    _, strategy = build_system(cfg, load_pretrained=False)
    sigmas = torch.as_tensor(data_spec(cfg.data).sigmas, dtype=torch.float32)
    torch.testing.assert_close(strategy.inner.kappa, 2 * sigmas)


def test_centre_with_oks_quality_asks_for_the_centres_own_sigma():
    # It said "the keypoint spec has none", though the spec has sigmas (of the keypoints, not of the centre).
    from adaanchor.config import build_config
    from adaanchor.engine.run import build_system
    from adaanchor.errors import AdaAnchorError

    base = ["task=centre", "data.format=crowd", "strategy.quality=oks"]
    with pytest.raises(AdaAnchorError, match=r"task=centre with strategy.quality=oks: .* set strategy.oks_sigmas=\[S\]"):
        build_system(build_config(None, base), load_pretrained=False)
    build_system(build_config(None, [*base, "strategy.oks_sigmas=[0.1]"]), load_pretrained=False)
