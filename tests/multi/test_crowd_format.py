"""``data.format=crowd``: the crowd-figures benchmark written into ``data.root`` on first use, as ``synth`` is, so
that ``adaanchor train bottomup_crowd`` needs no step before it; the packaged config and ``adaanchor demo --task
bottomup`` resolve to the same options and so share one folder."""

from __future__ import annotations

import json

import pytest
from omegaconf import OmegaConf

from adaanchor.bench.crowd import CROWD_DEFAULTS, resolve_crowd_config
from adaanchor.config import build_config
from adaanchor.data.build import annotation_path, read_split
from adaanchor.data.paths import generated_options
from adaanchor.data.stats import dataset_stats
from adaanchor.demo_bottomup import DEMO_BENCH
from adaanchor.engine.run import resolve_run
from adaanchor.errors import AdaAnchorError

SMALL = ["data.format=crowd", "data.input_size=[64,48]", "data.crowd.n_train=4", "data.crowd.n_val=2",
         "data.crowd.people=[2,3]"]


def test_the_packaged_config_and_the_demo_share_the_benchmark():
    data = OmegaConf.to_container(build_config("bottomup_crowd").data, resolve=True)
    assert data["format"] == "crowd" and data["root"] == "data-cache/crowd"
    assert resolve_crowd_config(generated_options(data)) == resolve_crowd_config(DEMO_BENCH)


def test_crowd_data_is_written_on_first_use_and_reused(tmp_path, capsys):
    cfg = build_config(None, [*SMALL, f"data.root={tmp_path / 'c'}", "data.spec=coco"])
    assert not (tmp_path / "c").exists()
    val = annotation_path(cfg.data, "val")
    assert val == tmp_path / "c" / "val.json" and (tmp_path / "c" / "manifest.json").is_file()
    doc = json.loads(val.read_text())
    assert len(doc["images"]) == 2 and 4 <= len(doc["annotations"]) <= 6  # 2-3 people on each of 2 images
    assert {im["width"] for im in doc["images"]} == {64} and {im["height"] for im in doc["images"]} == {48}
    stamp = val.stat().st_mtime_ns
    res = read_split(cfg.data, "train", verbose=False)
    assert len({i.image_id for i in res.instances}) == 4 and len(res.instances) >= 8
    assert annotation_path(cfg.data, "val").stat().st_mtime_ns == stamp  # the cache is reused, not rewritten
    stats = dataset_stats(cfg.data)
    assert stats["splits"]["train"]["images"] == 4 and stats["splits"]["val"]["images"] == 2


def test_crowd_options_are_checked_when_the_config_is_built():
    with pytest.raises(AdaAnchorError, match="crowd option 'people'"):
        build_config(None, ["data.crowd.people=[0,3]"])
    with pytest.raises(AdaAnchorError, match=r"unknown config key 'data.crowd.peple'"):
        build_config(None, ["data.crowd.peple=[2,3]"])
    assert set(build_config(None).data.crowd) == set(CROWD_DEFAULTS)


def test_a_run_on_generated_crowd_data_does_not_warn_of_a_missing_root(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    cfg = build_config(None, [*SMALL, f"data.root={tmp_path / 'not-yet'}"])
    OmegaConf.save(cfg, run / "config.yaml")
    resolve_run(run)
    assert "does not exist here" not in capsys.readouterr().err
