"""``adaanchor demo --task bottomup``: a bad option is one line and exit 2; a tiny run writes every output."""

from __future__ import annotations

import json

import pytest

from adaanchor.cli import main
from adaanchor.demo_bottomup import run_bottomup_demo


def test_bottomup_demo_refuses_config_overrides(capsys):
    assert main(["demo", "--task", "bottomup", "strategy.topk=5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bottomup" in err[0]


@pytest.mark.slow
def test_tiny_bottomup_demo_writes_results(tmp_path):
    r = run_bottomup_demo(tmp_path / "out", steps=3, batch_size=2, tiny_width=8, data_root=tmp_path / "data",
                          bench={"n_train": 6, "n_val": 3, "width": 64, "height": 48}, methods=("heatmap", "adaanchor"),
                          progress=False)
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(saved["methods"]) == {"heatmap", "adaanchor"} == set(r["methods"])
    for m in saved["methods"].values():
        assert {"ap", "ap50", "ap75", "recall", "ap_by_gamma", "recall_by_gamma"} <= set(m)
    for name in ("results.md", "gamma_sweep.png", "poses.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
