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
