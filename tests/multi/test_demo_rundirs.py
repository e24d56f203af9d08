"""The multi-person demos write each model as a run directory that ``eval``, ``predict`` and ``viz`` take: the config
there builds the demo's model and reads its held-out images, so ``adaanchor eval`` gives the demo's own numbers."""

from __future__ import annotations

import json

import pytest
import yaml

from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.demo_bottomup import run_bottomup_demo
from adaanchor.demo_centre import run_centre_demo
from adaanchor.demo_rundir import DEMO_LR
from adaanchor.engine.bottomup import LR_FACTOR, lr_milestones

TINY = {"n_train": 6, "n_val": 3, "width": 64, "height": 48, "people": (2, 3)}


def _by_gamma(d: dict) -> dict[float, float]:
    return {float(g): round(float(v), 9) for g, v in d.items()}


@pytest.mark.slow
@pytest.mark.parametrize("task, demo", [("bottomup", run_bottomup_demo), ("centre", run_centre_demo)])
def test_demo_models_are_run_directories_that_eval_predict_viz_and_export_take(tmp_path, task, demo, capsys):
    out, steps = tmp_path / "out", 3
    r = demo(out, steps=steps, batch_size=2, tiny_width=8, data_root=tmp_path / "data", bench=TINY,
             methods=("heatmap", "adaanchor"), progress=False)
    said = capsys.readouterr().out
    assert f"each model is a run directory ({out / 'heatmap'}, {out / 'adaanchor'})" in said
    assert f"adaanchor predict {out / 'heatmap'} IMAGES_OR_VIDEO" in said
    for name, m in r["methods"].items():
        run = out / name
        assert (run / "checkpoints" / "last.pt").is_file() and (run / "spec.yaml").is_file()
        cfg = build_config(run / "config.yaml")
        assert (cfg.task, cfg.strategy.name, cfg.model.tiny_width, cfg.train.max_steps) == (task, name, 8, steps)
        assert list(cfg.data.input_size) == [64, 48] and list(cfg.data.crowd.people) == [2, 3]
        assert list(cfg.train.lr_steps) == lr_milestones(steps) and cfg.train.batch_size == 2
        assert (cfg.train.lr, cfg.train.lr_factor) == (DEMO_LR, LR_FACTOR)
        history = yaml.safe_load((run / "config_history.yaml").read_text())
        assert [(h["start_step"], h["resumed_from"]) for h in history] == [(0, None)]  # one training, from step 0
        # The same model on the same held-out images: the demo's recall and AP at every gamma.
        assert main(["eval", str(run), "--json", str(tmp_path / f"{name}.json")]) == 0
        ev = json.loads((tmp_path / f"{name}.json").read_text())
        assert _by_gamma(ev["recall_by_gamma"]) == _by_gamma(m["recall_by_gamma"])
        assert _by_gamma(ev["ap_by_gamma"]) == _by_gamma(m["ap_by_gamma"])
    image = sorted((tmp_path / "data" / "images" / "val").glob("*.png"))[0]
    assert main(["predict", str(out / "adaanchor"), str(image), "--out", str(tmp_path / "pred")]) == 0
    preds = json.loads((tmp_path / "pred" / "predictions.json").read_text())
    assert preds and all(len(p["keypoints"]) == 3 * 17 for p in preds)
    assert main(["viz", str(out / "adaanchor"), str(image), "--out", str(tmp_path / "viz")]) == 0
    assert list((tmp_path / "viz").glob("*.png"))
    assert main(["export", str(out / "adaanchor"), str(tmp_path / "demo.onnx")]) == 0  # checked in onnxruntime
    assert (tmp_path / "demo.onnx").is_file()
    capsys.readouterr()


def test_lr_milestones_are_the_schedule_of_the_demo_loop():
    """90/140 and 120/140 of the run, once each (a run too short to tell them apart has one)."""
    assert lr_milestones(1400) == [900, 1200]
    assert lr_milestones(2880) == [1851, 2469]
    assert lr_milestones(1) == [1]


def test_a_file_where_a_run_directory_goes_is_one_line(tmp_path):
    from adaanchor.demo_rundir import write_demo_run
    from adaanchor.errors import AdaAnchorError

    (tmp_path / "adaanchor").write_text("not a folder")
    with pytest.raises(AdaAnchorError, match=rf"^{tmp_path / 'adaanchor'}: cannot create the run directory of this "
                                             r"model \(Not a directory\)$"):
        write_demo_run(tmp_path / "adaanchor", None, None, 1)
