"""benchmarks/anchor_reach.py: the anchor's distance to the true point, its excess over the nearest cell, the
border share and the error, by the input's edge; worked by hand, then on a trained truncated-faces run."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import anchor_reach  # noqa: E402
import paper_tables  # noqa: E402


def test_reach_worked_by_hand():
    # Stride 4 on a 4x4 map: cell (i, j) has its centre at (1.5 + 4i, 1.5 + 4j) input pixels.
    gt = np.array([[[5.5, 5.5], [-6.5, 5.5], [9.5, 9.5]]])
    anchor = np.array([[[9.5, 5.5], [1.5, 5.5], [9.5, 9.5]]])
    preds = {"gt": gt, "anchor": anchor, "pred": gt + np.array([3.0, 4.0]), "vis": np.array([[2, 1, 0]]),
             "vis_labelled": np.array([[2, 2, 0]]), "outside": np.array([[False, True, False]])}
    r = anchor_reach.reach(preds, 4, (4, 4))
    # Inside: the anchor is the next cell to the right of the true point's own cell: 1 cell, all of it excess.
    assert r["inside"] == {"n": 1, "dist_cells": 1.0, "excess_cells": 1.0, "border": 0.0, "error_px": 5.0}
    # Cut off: 2 cells left of the map; the anchor is the nearest cell (the edge): 2 cells, no excess, on the border.
    assert r["cut_off"] == {"n": 1, "dist_cells": 2.0, "excess_cells": 0.0, "border": 1.0, "error_px": 5.0}


def test_a_folder_that_is_not_a_run_is_one_line(tmp_path, capsys):
    assert anchor_reach.main([str(tmp_path / "nothing"), "--name", "x", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nothing'}: no such run directory or config file"
    assert not (tmp_path / "r").exists()


def test_method_of_reads_the_table_run_names():
    assert anchor_reach.method_of(Path("AdaAnchor_(paper)_dev_s2")) == ("AdaAnchor (paper)", 2)
    assert anchor_reach.method_of(Path("FixAnchor_test_s0")) == ("FixAnchor", 0)


@pytest.mark.slow
def test_anchor_reach_of_a_truncated_faces_run(tmp_path, capsys):
    from root_helpers import write_face_csv

    write_face_csv(tmp_path / "faces", {f"P_{i}": 2 for i in range(10)}, name="training_frames_keypoints.csv",
                   images="training")
    over = [f"data.root={tmp_path / 'faces'}", "data.input_size=[32,32]", "model.tiny_width=8", "train.batch_size=4",
            "data.truncation.val=1.0"]
    assert paper_tables.main(["truncation", "--split", "test", "--seeds", "0", "--steps", "1", "--only", "FixAnchor",
                              "Heatmap-anchor", "--out", str(tmp_path / "out"), *over]) == 0
    runs = tmp_path / "out" / "runs" / "truncation"
    glob = [str(runs / "FixAnchor_test_s0"), str(runs / "Heatmap-anchor_test_s0")]
    assert anchor_reach.main([*glob, "--name", "t", "--out", str(tmp_path / "r")]) == 0
    assert "Heatmap-anchor_test_s0: its strategy has no anchors: skipped" in capsys.readouterr().err
    doc = json.loads((tmp_path / "r" / "anchor_reach_t.json").read_text())
    row = doc["methods"]["FixAnchor"][0]
    assert row["cut_off"]["n"] > 0 and row["inside"]["n"] > 0 and row["seed"] == 0
    assert 0.0 <= row["cut_off"]["border"] <= 1.0 and row["cut_off"]["excess_cells"] >= -1e-9
    assert "| FixAnchor | 1 | cut off |" in (tmp_path / "r" / "anchor_reach_t.md").read_text()
    assert set(doc["methods"]) == {"FixAnchor"}
    capsys.readouterr()
    assert anchor_reach.main([str(runs / "Heatmap-anchor_test_s0"), "--name", "h", "--out", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.strip().endswith("error: no run of an anchor strategy among the runs given")
    # The budget is in the header; an unfinished run and runs of different budgets are refused (a run stopped at step
    # 70 of 400 was measured as finished; runs of 3 and 8 steps were averaged into one row).
    assert doc["steps"] == 1 and "1 steps per run" in (tmp_path / "r" / "anchor_reach_t.md").read_text()
    import shutil

    import yaml

    longer = runs / "FixAnchor_test_s1"
    shutil.copytree(runs / "FixAnchor_test_s0", longer)
    cfg = yaml.safe_load((longer / "config.yaml").read_text())
    cfg["train"]["max_steps"], cfg["out_dir"] = 5, str(longer)
    (longer / "config.yaml").write_text(yaml.safe_dump(cfg))
    capsys.readouterr()
    assert anchor_reach.main([str(longer), "--name", "u", "--out", str(tmp_path / "r")]) == 2
    assert f"{longer}: not finished (5 steps in its config, its training log ends before)" in capsys.readouterr().err
    log = longer / "train_log.csv"
    log.write_text(log.read_text().rstrip("\n") + "\n" + "\n".join(f"{s}" + "," * log.read_text().splitlines()[0].count(",")
                                                              for s in (5,)) + "\n")
    assert anchor_reach.main([str(runs / "FixAnchor_test_s0"), str(longer), "--name", "m", "--out", str(tmp_path / "r")]) == 2
    assert "the runs were trained for different budgets (1, 5 steps): give the runs of one budget" in \
        capsys.readouterr().err
