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




def test_centre_section_is_derived_and_range_checked():
    assert defaults()["centre"] == CENTRE_DEFAULTS
    cfg = build_config(None, ["task=centre", "centre.read_at=cell", "centre.gamma=0.2"])
    assert cfg.task == "centre" and cfg.centre.read_at == "cell"
    with pytest.raises(adaanchor.errors.AdaAnchorError, match="centre.nms_joints"):
        build_config(None, ["task=centre", "centre.nms_joints=0"])


@pytest.mark.parametrize("name", ["heatmap", "adaanchor"])
def test_train_eval_and_predict_a_centre_run(crowd, tmp_path, name, capsys):
    out = tmp_path / name
    over = [f"data.root={crowd}", "data.input_size=[64,48]", "model.tiny_width=8", "train.batch_size=4",
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
