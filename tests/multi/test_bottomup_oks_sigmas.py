"""``task=bottomup strategy.quality=oks`` reads the keypoint spec's OKS sigmas, as top-down does: the bottom-up
builder did not pass them on, and the run stopped with 'the keypoint spec has none' on a spec that has them."""

from __future__ import annotations

import torch

from adaanchor.config import build_config
from adaanchor.configs import config_file
from adaanchor.engine.run import build_system, data_spec


def test_bottomup_oks_quality_uses_the_spec_sigmas():
    cfg = build_config(config_file("bottomup_crowd.yaml"), ["strategy.quality=oks", "model.weights=null"])
    _, strategy = build_system(cfg, load_pretrained=False)
    sigmas = torch.as_tensor(data_spec(cfg.data).sigmas, dtype=torch.float32)
    torch.testing.assert_close(strategy.inner.kappa, 2 * sigmas)
