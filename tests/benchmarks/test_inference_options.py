"""benchmarks/inference_options.py: runs evaluated without and with an inference option, paired run by run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from inference_options import main, paired, to_markdown  # noqa: E402

from adaanchor.cli import main as cli  # noqa: E402
from adaanchor.demo import DEMO_CONFIG  # noqa: E402


def test_paired_differences_and_the_table():
    rows = [{"off": {"ap": 0.5, "vis_error": 3.0}, "on": {"ap": 0.52, "vis_error": 2.8}, "off_s": 1.0, "on_s": 2.0},
            {"off": {"ap": 0.6, "vis_error": 3.2}, "on": {"ap": 0.61, "vis_error": 3.1}, "off_s": 1.0, "on_s": 1.8}]
    mean, se, n = paired(rows, "ap")
    assert n == 2 and mean == pytest.approx(0.015) and se == pytest.approx(0.005)
    assert paired(rows, "nme") is None
    md = to_markdown({"name": "x", "methods": {"FixAnchor": rows}, "commit": "c", "threads": 1, "wall_seconds": 1})
    assert md.startswith("# flip_test: x") and "| FixAnchor | 2 | -0.150 ± 0.050 |" in md and "+1.50 ± 0.50" in md and "| 1.90 |" in md and "NME" not in md


def test_a_run_evaluated_both_ways(tiny_overrides, tmp_path):
    run = tmp_path / "FixAnchor_dev_s3"
    ov = [o for o in tiny_overrides if not o.startswith("out_dir=")] + [f"out_dir={run}"]
    assert cli(["train", str(DEMO_CONFIG), *ov, "strategy.name=fixanchor", "train.max_steps=2"]) == 0
    for option in ("flip_test", "bf16"):
        assert main([str(run), "--option", option, "--name", "t", "--out", str(tmp_path)]) == 0
        doc = json.loads((tmp_path / f"{option}_t.json").read_text())
        (row,) = doc["methods"]["FixAnchor"]
        assert row["seed"] == 3 and row["off"]["vis_error"] != row["on"]["vis_error"] and row["on_s"] > 0


def test_multi_person_rows_have_their_columns():
    rows = [{"off": {"ap": 0.30, "ap50": 0.6, "ap75": 0.2, "recall": 0.5},
             "on": {"ap": 0.32, "ap50": 0.61, "ap75": 0.25, "recall": 0.52}, "off_s": 1.0, "on_s": 2.1}]
    md = to_markdown({"name": "m", "methods": {"bottomup adaanchor": rows}, "commit": "c", "threads": 1,
                      "wall_seconds": 1})
    assert "| Method | runs | AP | AP50 | AP75 | Recall | time with / without |" in md
    assert "| bottomup adaanchor | 1 | +2.00 | +1.00 | +5.00 | +0.0200 | 2.10 |" in md
    assert "| bottomup adaanchor | 1 | 30.00 → 32.00 | 60.00 → 61.00 |" in md and "Vis.Error" not in md


def tiny_bottomup_run(tmp_path: Path, strategy: str, seed: int) -> Path:
    """A two-step bottom-up run of ``strategy`` on a 4-image crowd benchmark, ``bottomup_<strategy>_test_s<seed>``."""
    import adaanchor
    from adaanchor.bench.crowd import write_crowd_benchmark

    crowd = tmp_path / "crowd"
    write_crowd_benchmark(crowd, {"n_train": 4, "n_val": 3, "width": 64, "height": 48, "people": (2, 3)},
                          progress=False, workers=1)
    run = tmp_path / f"bottomup_{strategy}_test_s{seed}"
    tiny = Path(adaanchor.__file__).parent / "configs" / "bottomup_crowd.yaml"
    assert cli(["train", str(tiny), "data.format=coco", f"data.root={crowd}", "data.input_size=[64,48]",
                "model.tiny_width=8", "train.batch_size=2", "train.progress=false", f"out_dir={run}",
                f"strategy.name={strategy}", "train.max_steps=2", "train.eval_every=0", "bottomup.gamma=0.01"]) == 0
    return run


@pytest.mark.slow  # a two-step multi-person training run (a few seconds)
def test_a_multi_person_run_evaluated_both_ways(tmp_path):
    run = tiny_bottomup_run(tmp_path, "heatmap", 1)
    assert main([str(run), "--option", "flip_test", "--name", "m", "--out", str(tmp_path)]) == 0
    (row,) = json.loads((tmp_path / "flip_test_m.json").read_text())["methods"]["bottomup heatmap"]
    assert row["seed"] == 1 and set(row["off"]) == {"ap", "ap50", "ap75", "recall", "oracle_ap", "oracle_ap50"}
    assert row["on_s"] > 0 and row["on"]["oracle_ap"] is not None
    assert "| AP | AP50 | AP75 | Recall |" in (tmp_path / "flip_test_m.md").read_text()
