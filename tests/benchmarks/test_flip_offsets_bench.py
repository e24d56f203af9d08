"""benchmarks/flip_offsets.py: the multi-person flip test's offset rules on finished anchor runs, paired run by run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from flip_offsets import SETTINGS, main, paired, to_markdown  # noqa: E402

from adaanchor.cli import main as cli  # noqa: E402


def _row(task: str, run: str, values: dict[str, float]) -> dict:
    key = "oracle_ap" if task == "bottomup" else "ap"
    return {"task": task, "run": run, "seed": 0, **{s: {"ap": 0.0, key: v} for s, v in values.items()}}


def test_each_task_is_read_in_its_lead_metric_and_paired():
    bu = _row("bottomup", "/r/bottomup_adaanchor_dev_s0", {"plain": 0.10, "mean": 0.12, "weighted": 0.13, "max": 0.11})
    ce = _row("centre", "/r/centre_adaanchor_dev_s0", {"plain": 0.20, "mean": 0.19, "weighted": 0.21, "max": 0.19})
    mean, se, n = paired([bu, ce], "weighted", "mean")
    assert n == 2 and mean == pytest.approx(1.5) and se == pytest.approx(0.5)
    assert paired([bu], "mean", "plain") == (pytest.approx(2.0), None, 1)
    md = to_markdown({"name": "x", "methods": {"bottomup adaanchor": [bu], "centre adaanchor": [ce]}, "commit": "c",
                      "machine": "m", "wall_seconds": 1})
    assert "| weighted − mean | max − mean | mean − no flip | weighted − no flip | max − no flip |" in md
    assert "| bottomup adaanchor | 1 | +1.00 | -1.00 | +2.00 | +3.00 | +1.00 |" in md
    assert "| all runs | 2 | +1.50 ± 0.50 |" in md
    assert "| bottomup_adaanchor_dev_s0 | 10.00 | 12.00 | 13.00 | 11.00 |" in md


def test_a_run_that_is_not_a_multi_person_anchor_run_is_refused(tiny_overrides, tmp_path, capsys):
    from adaanchor.demo import DEMO_CONFIG

    run = tmp_path / "FixAnchor_dev_s0"
    ov = [o for o in tiny_overrides if not o.startswith("out_dir=")] + [f"out_dir={run}"]
    assert cli(["train", str(DEMO_CONFIG), *ov, "strategy.name=fixanchor", "train.max_steps=1"]) == 0
    assert main([str(run), "--name", "t", "--out", str(tmp_path)]) == 2
    assert "a topdown run of fixanchor; the rules merge the anchor offsets" in capsys.readouterr().err
    assert not (tmp_path / "flip_offsets_t.json").exists()


@pytest.mark.slow  # a two-step bottom-up training run (a few seconds)
def test_a_bottomup_anchor_run_under_every_rule(tmp_path, monkeypatch):
    from test_inference_options import tiny_bottomup_run

    from adaanchor.strategies import anchor_decode

    run = tiny_bottomup_run(tmp_path, "adaanchor", 2)

    rules: list[str] = []  # the rules the evaluations' strategy merged by (mean never calls weighted_offsets)
    real = anchor_decode.weighted_offsets
    monkeypatch.setattr(anchor_decode, "weighted_offsets", lambda *a: rules.append(a[-1]) or real(*a))
    assert main([str(run), "--name", "b", "--out", str(tmp_path)]) == 0
    assert sorted(set(rules)) == ["max", "weighted"] and rules.index("max") > rules.index("weighted")
    (row,) = json.loads((tmp_path / "flip_offsets_b.json").read_text())["methods"]["bottomup adaanchor"]
    assert row["seed"] == 2 and all(row[s]["oracle_ap"] is not None for s in SETTINGS)
    assert "| all runs | 1 |" in (tmp_path / "flip_offsets_b.md").read_text()
