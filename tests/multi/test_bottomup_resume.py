"""Bottom-up benchmark training (``engine.bottomup.train_steps``) saved and resumed midway: a run killed after a
saved step continues with the same data order, augmentation draws and weights as a run that was not stopped."""

from __future__ import annotations

import pytest
import torch

from adaanchor.data.bottomup import BottomUpDataset, group_by_image
from adaanchor.data.readers.coco import read_coco
from adaanchor.data.spec import load_spec
from adaanchor.engine.bottomup import train_steps
from adaanchor.errors import AdaAnchorError
from adaanchor.models.backbones import build_backbone
from adaanchor.models.net import KeypointNet
from adaanchor.strategies.tags import build_bottomup

SPEC = load_spec("coco")
STEPS, BATCH = 9, 2


def _system():
    torch.manual_seed(0)
    backbone = build_backbone("tiny", tiny_width=8)
    strategy = build_bottomup({"name": "adaanchor"}, {"lambda_tag": 1.0}, 17, backbone.stride, (64, 48))
    return KeypointNet(backbone, strategy.heads), strategy


def _dataset(crowd):
    # Augmented (train=True): the random rotation, zoom, shift and flip come from numpy's global RNG.
    return BottomUpDataset(group_by_image(read_coco(crowd / "train.json", SPEC).instances), SPEC, (64, 48),
                           train=True, multiple=16)


class _Stop(Exception):
    pass


def test_a_resumed_run_equals_an_uninterrupted_one(crowd, tmp_path):
    model, strategy = _system()
    full = train_steps(model, strategy, _dataset(crowd), STEPS, BATCH, seed=3, log_every=1)
    want = {k: v.clone() for k, v in model.state_dict().items()}

    state = tmp_path / "partial.pt"
    model, strategy = _system()

    def crash(step: int) -> None:
        if step == 7:  # after the state of step 6 was written
            raise _Stop

    with pytest.raises(_Stop):
        train_steps(model, strategy, _dataset(crowd), STEPS, BATCH, seed=3, log_every=1, on_step=crash,
                    state_path=state, save_every=3)
    assert state.is_file()
    model, strategy = _system()  # a fresh process: new weights, the RNGs moved on
    torch.rand(5)
    resumed = train_steps(model, strategy, _dataset(crowd), STEPS, BATCH, seed=3, log_every=1, state_path=state,
                          save_every=3)
    assert [r["step"] for r in resumed] == [r["step"] for r in full]
    assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in full], rel=1e-5)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, want[k], rtol=1e-5, atol=1e-6, msg=k)


def test_a_partial_run_of_other_settings_is_refused(crowd, tmp_path):
    state = tmp_path / "partial.pt"
    model, strategy = _system()
    train_steps(model, strategy, _dataset(crowd), 4, BATCH, seed=3, state_path=state, save_every=2)
    assert state.is_file()
    model, strategy = _system()
    with pytest.raises(AdaAnchorError, match="partial run of other settings"):
        train_steps(model, strategy, _dataset(crowd), 6, BATCH, seed=3, state_path=state)
