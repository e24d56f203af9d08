"""A few bottom-up training steps per anchor (loss goes down), and evaluation end to end on crowd figures."""

from __future__ import annotations

import pytest
import torch

from adaanchor.bench.crowd import write_crowd_benchmark
from adaanchor.data.bottomup import BottomUpDataset, group_by_image
from adaanchor.data.readers.coco import read_coco
from adaanchor.data.spec import load_spec
from adaanchor.data.types import collate
from adaanchor.engine.bottomup import evaluate_bottomup
from adaanchor.models.backbones import build_backbone
from adaanchor.models.net import KeypointNet
from adaanchor.strategies import compute_loss
from adaanchor.strategies.tags import build_bottomup

SPEC = load_spec("coco")
pytestmark = pytest.mark.slow  # a few seconds each on a busy machine


@pytest.fixture(scope="module")
def crowd(tmp_path_factory):
    root = tmp_path_factory.mktemp("crowd")
    paths = write_crowd_benchmark(root, {"n_train": 8, "n_val": 4, "width": 64, "height": 48, "people": (2, 3)},
                                  progress=False, workers=1)
    return paths


def _system(name: str):
    torch.manual_seed(0)
    backbone = build_backbone("tiny", tiny_width=8)
    strategy = build_bottomup({"name": name}, {"lambda_tag": 1.0}, 17, backbone.stride, (64, 48))
    return KeypointNet(backbone, strategy.heads), strategy


@pytest.mark.parametrize("name", ["heatmap", "fixanchor", "adaanchor"])
def test_loss_goes_down_on_one_batch(crowd, name):
    model, strategy = _system(name)
    assert strategy.losses["tags"] == ("ae", 1.0) and "tags" in strategy.heads
    ds = BottomUpDataset(group_by_image(read_coco(crowd["train"], SPEC).instances), SPEC, (64, 48), train=False,
                         multiple=16)
    batch = collate([ds[i] for i in range(4)])
    assert batch["keypoints"].shape[1] >= 2
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    first = last = None
    for step in range(12):
        out = model(batch["image"])
        enc = strategy.encode({k: v.detach() for k, v in out.items()}, batch["keypoints"], batch["visibility"], step)
        assert enc.targets["tags"].weight.sum() > 0
        losses = compute_loss(out, enc.targets, strategy.losses)
        opt.zero_grad()
        losses["loss"].backward()
        opt.step()
        first = first if first is not None else {k: float(v.detach()) for k, v in losses.items()}
        last = {k: float(v.detach()) for k, v in losses.items()}
    assert last["loss"] < first["loss"]
    assert last["loss_tags"] < first["loss_tags"]


def test_evaluation_end_to_end(crowd):
    model, strategy = _system("adaanchor")
    ds = BottomUpDataset(group_by_image(read_coco(crowd["val"], SPEC).instances), SPEC, (64, 48), multiple=16)
    m = evaluate_bottomup(model, strategy, ds, crowd["val"], gammas=(0.05, 0.5))
    assert set(m["ap_by_gamma"]) == {"0.05", "0.5"} and 0.0 <= m["recall"] <= 1.0
    # A lower threshold keeps a superset of the keypoints: recall cannot drop.
    assert m["recall_by_gamma"]["0.05"] >= m["recall_by_gamma"]["0.5"]
