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
def test_tiny_bottomup_demo_writes_results(tmp_path, capsys):
    r = run_bottomup_demo(tmp_path / "out", steps=3, batch_size=2, tiny_width=8, data_root=tmp_path / "data",
                          bench={"n_train": 6, "n_val": 3, "width": 64, "height": 48}, methods=("heatmap", "adaanchor"),
                          progress=False)
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert set(saved["methods"]) == {"heatmap", "adaanchor"} == set(r["methods"])
    # The commit, as the single-person demo and the table scripts record it (the README says every results file does).
    from adaanchor.versions import source_commit

    assert saved["commit"] == (source_commit() or "unknown (not a git checkout)")
    assert f"commit {saved['commit']}" in (tmp_path / "out" / "results.md").read_text()
    for m in saved["methods"].values():
        assert {"ap", "ap50", "ap75", "recall", "ap_by_gamma", "recall_by_gamma"} <= set(m)
    for name in ("results.md", "gamma_sweep.png", "poses.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    # The table and the files are said at the end (the demo ended after minutes without a word).
    printed = capsys.readouterr().out
    assert (tmp_path / "out" / "results.md").read_text().rstrip() in printed
    assert f"wrote {tmp_path / 'out' / 'results.json'}" in printed


def test_poses_drawing_keeps_the_best_poses_one_per_person(tmp_path, monkeypatch):
    """poses.png draws, per image, the highest-scoring poses, as many as the image has labelled people."""
    import matplotlib.axes
    import numpy as np
    import torch

    from adaanchor.demo_bottomup import draw_poses

    class Data:
        def __getitem__(self, i):
            vis = torch.tensor([[2, 2, 0], [1, 0, 0], [0, 0, 0]])  # two labelled people, one empty slot
            return {"visibility": vis}

    from PIL import Image

    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(img)
    # Pose i sits at x = i; scores 0.1, 0.9, 0.5, 0.2: the best two are poses 1 and 2.
    res = [{"image_id": 1, "score": s, "keypoints": [i, 1, 1] * 3} for i, s in enumerate((0.1, 0.9, 0.5, 0.2))]
    titles, drawn = [], []
    monkeypatch.setattr(matplotlib.axes.Axes, "set_title", lambda self, t, **k: titles.append(t))
    monkeypatch.setattr(matplotlib.axes.Axes, "scatter", lambda self, x, y, **k: drawn.append(int(x[0])))
    spec = type("S", (), {"skeleton": [(0, 1)]})()
    draw_poses({"m": ([(None, {"image_id": 1, "image_path": str(img)})], res)}, Data(), spec, tmp_path / "p.png")
    assert titles == ["m: best 2 of 4 poses (2 people)"] and drawn == [1, 2]
    assert (tmp_path / "p.png").stat().st_size > 0


def test_results_table_prints_no_ground_truth_in_a_range_as_na():
    """pycocotools' -1 (no large person among the ground truth) was printed as APL -100.0 for some methods."""
    from adaanchor.demo_bottomup import results_table

    m = {"recall": 0.5, "ap": 0.2, "ap50": 0.4, "ap75": 0.1, "apm": 0.2, "apl": -1.0, "ar": 0.3, "gamma": 1.0,
         "ap_by_gamma": {1.0: 0.2, 2.0: -1.0}}
    text = results_table({"methods": {"adaanchor": m}, "steps": 2, "seed": 0, "machine": "cpu", "wall_s": 1.0})
    row = next(line for line in text.splitlines() if line.startswith("| adaanchor |"))
    assert row == "| adaanchor | 0.500 | 20.0 | 40.0 | 10.0 | 20.0 | N/A | 30.0 | 20.0 | N/A |"
    one = results_table({"methods": {"adaanchor": m}, "steps": 1, "seed": 0, "machine": "cpu", "wall_s": 1.0})
    assert ": 1 step, seed 0" in one.splitlines()[0] and ": 2 steps, seed 0" in text.splitlines()[0]  # was "1 steps"


@pytest.mark.slow
def test_the_evaluation_after_each_training_is_said_with_a_bar(tmp_path, capsys):
    """The demo was silent for minutes after a method's last training line (the threshold sweep's decoding,
    grouping and scoring of a barely trained model)."""
    run_bottomup_demo(tmp_path / "out", steps=2, batch_size=2, tiny_width=8, data_root=tmp_path / "data",
                      bench={"n_train": 6, "n_val": 3, "width": 64, "height": 48}, methods=("heatmap",), progress=True)
    got = capsys.readouterr()
    assert "heatmap: evaluating on 3 held-out images ..." in got.out and "heatmap: evaluated in " in got.out
    assert "evaluating: thresholds" in got.err and "/12 " in got.err  # 6 thresholds, learned and oracle tags
