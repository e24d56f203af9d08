"""``task=centre`` (DEKR-style person centres) through the generic pipeline: config section, ``adaanchor train``
with the per-keypoint branches, ``adaanchor eval`` and ``predict`` on the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import adaanchor
from adaanchor.cli import main
from adaanchor.config import build_config, defaults
from adaanchor.engine.checkpoint import safe_load
from adaanchor.strategies.centre import CENTRE_DEFAULTS

TINY = Path(adaanchor.__file__).parent / "configs" / "bottomup_crowd.yaml"
REPO = Path(__file__).resolve().parents[2]
PAPER = [f"crowdpose/centre_{a}_hrnet_w32_512" for a in ("heatmap", "adaanchor")]  # DEKR-style
SAMPLES = REPO / ".." / "shared" / "data" / "mmpose-testdata"




def test_centre_section_is_derived_and_range_checked():
    assert defaults()["centre"] == CENTRE_DEFAULTS
    cfg = build_config(None, ["task=centre", "centre.read_at=cell", "centre.gamma=0.2"])
    assert cfg.task == "centre" and cfg.centre.read_at == "cell"
    with pytest.raises(adaanchor.errors.AdaAnchorError, match="centre.nms_joints"):
        build_config(None, ["task=centre", "centre.nms_joints=0"])


@pytest.mark.parametrize("name", ["heatmap", "adaanchor"])
def test_train_eval_and_predict_a_centre_run(crowd, tmp_path, name, capsys):
    out = tmp_path / name
    over = ["data.format=coco", f"data.root={crowd}", "data.input_size=[64,48]", "model.tiny_width=8", "train.batch_size=4",
            "train.progress=false", "train.log_every=1", f"out_dir={out}", "task=centre", f"strategy.name={name}",
            "train.max_steps=4", "train.eval_every=1"]
    assert main(["train", str(TINY), *over]) == 0
    state = safe_load(out / "checkpoints" / "last.pt")["model"]
    assert any(k.startswith("branches.poseoff") or "poseoff" in k for k in state)
    assert main(["eval", str(out), "--json", str(tmp_path / "m.json")]) == 0
    m = json.loads((tmp_path / "m.json").read_text())
    assert {"ap", "ap50", "recall"} <= set(m)
    images = sorted((crowd / "images" / "val").glob("*.png"))[:2]
    assert images
    assert main(["predict", str(out), *map(str, images), "--out", str(tmp_path / "pred"), "--format", "coco"]) == 0
    assert list((tmp_path / "pred").glob("*.json"))



@pytest.mark.parametrize("path", PAPER)
def test_paper_centre_configs_load(path):
    """The DEKR-style CrowdPose configs carry the paper's appendix A.3 settings and DEKR's centre threshold."""
    cfg = build_config(path)
    assert cfg.task == "centre" and cfg.data.format == "crowdpose" and cfg.data.spec == "crowdpose"
    assert cfg.model.backbone == "hrnet_w32" and cfg.model.weights == "timm:hrnet_w32.ms_in1k"
    assert list(cfg.data.input_size) == [512, 512] and cfg.train.lr == 1e-3 and cfg.train.epochs == 140
    assert list(cfg.train.lr_steps) == [90, 120] and cfg.train.batch_size == 40
    aug = cfg.data.multi_aug
    assert (aug.rotation, list(aug.scale), aug.translation, aug.flip) == (30.0, [0.75, 1.5], 40.0, 0.5)
    assert cfg.centre.gamma == 0.01 and cfg.strategy.name == Path(path).stem.split("_")[1]


@pytest.mark.slow
def test_paper_centre_config_trains_on_real_crowdpose_samples(tmp_path):
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not available: {SAMPLES} is absent")
    from adaanchor.engine.train import train

    cfg = build_config(PAPER[1], [
        f"data.root={SAMPLES / 'crowdpose'}", "data.train=test_crowdpose.json", "data.val=test_crowdpose.json",
        "data.images=.", "data.input_size=[64,64]", "model.backbone=tiny", "model.weights=null", "model.tiny_width=8",
        "train.batch_size=2", "train.max_steps=2", "train.workers=0", "train.eval_every=1", "train.progress=false",
        f"out_dir={tmp_path}"])
    m = train(cfg)["metrics"]
    assert 0.0 <= m["ap"] <= 1.0 and 0.0 <= m["recall"] <= 1.0 and "crowdpose" in m
