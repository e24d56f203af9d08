"""The tag and detection diagnostics of bottom-up runs: the per-image measurements and the separation AUC."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from tag_diagnostics import check_runs, image_stats, separation_auc  # noqa: E402

from adaanchor.errors import AdaAnchorError  # noqa: E402


def test_image_stats_of_two_people_and_a_stray_detection():
    gt_xy = np.array([[[10.0, 10.0], [20.0, 20.0]], [[50.0, 50.0], [60.0, 60.0]]])  # (N=2, K=2, 2)
    gt_vis = np.array([[2, 2], [2, 1]])
    xy = np.array([[[10.0, 11.0], [50.0, 50.0], [90.0, 90.0]], [[20.0, 20.0], [60.0, 61.0], [0.0, 0.0]]])  # (K, M=3, 2)
    score = np.array([[0.9, 0.8, 0.3], [0.7, 0.6, 0.0]])
    valid = np.array([[True, True, True], [True, True, False]])
    tag = np.array([[0.0, 2.0, 5.0], [0.1, 2.1, 9.0]])
    s = image_stats(xy, score, valid, tag, gt_xy, gt_vis, near=6.0)
    assert s["dist"][:2] == [1.0, 0.0] and s["dist"][2] == pytest.approx(40 * np.sqrt(2)) and s["dist"][3:] == [0.0, 1.0]
    assert s["score"] == [0.9, 0.8, 0.3, 0.7, 0.6]  # the invalid slot is left out
    assert s["near_count"] == [1, 1, 1, 1]
    assert sorted(s["same"]) == pytest.approx([0.1, 0.1]) and sorted(s["diff"]) == pytest.approx([1.9, 2.0, 2.0, 2.1])
    assert s["spread"] == pytest.approx([0.05, 0.05])
    assert separation_auc(s["same"], s["diff"]) == 1.0


def test_an_unlabelled_type_has_no_near_detections():
    gt_xy = np.zeros((1, 1, 2))
    s = image_stats(np.zeros((1, 1, 2)), np.ones((1, 1)), np.ones((1, 1), bool), np.zeros((1, 1)), gt_xy,
                    np.zeros((1, 1)), near=6.0)
    assert s["dist"] == [np.inf] and s["near_count"] == [] and s["same"] == [] and s["spread"] == []


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=12), st.lists(st.integers(0, 5), min_size=1, max_size=12))
def test_separation_auc_is_the_pairwise_probability_with_ties_as_half(same, diff):
    brute = np.mean([(d > s) + 0.5 * (d == s) for s in same for d in diff])
    assert separation_auc([float(x) for x in same], [float(x) for x in diff]) == pytest.approx(brute)


def test_separation_auc_needs_both_kinds():
    assert separation_auc([], [1.0]) is None and separation_auc([1.0], []) is None


def test_no_finished_run_is_a_message_and_nothing_written(tmp_path, capsys):
    import tag_diagnostics

    out = tmp_path / "elsewhere"  # no runs/ and not even the folder: one line, exit status 2, no traceback
    argv = ["--methods", "fixanchor", "--out", str(out), "--data-cache", str(tmp_path / "cache"), "--n-train", "4",
            "--n-val", "2", "--width", "8"]
    assert tag_diagnostics.main(argv) == 2  # exit 1, on standard output, with no "error:" before
    said = capsys.readouterr().err.strip()
    assert said.startswith("error: no finished run of fixanchor") and said.endswith("nothing written")
    assert not out.exists()


def _run(tmp_path, name, **settings):
    import json

    run = tmp_path / name
    run.mkdir()
    base = {"method": "fixanchor", "seed": 0, "steps": 600, "tiny_width": 8, "task": "ae", "bench": {"n_train": 8},
            "task_cfg": {}}
    (run / "run.json").write_text(json.dumps({"settings": {**base, **settings}}))
    return run


def test_runs_of_other_options_or_mixed_budgets_are_refused(tmp_path):
    """The model is rebuilt with the given options, and the table said nothing of the budget: a run trained with
    another width failed to load with a traceback, and runs of other data, options or step counts were averaged
    into one row."""
    expected = {"tiny_width": 8, "task": "ae", "bench": {"n_train": 8}, "task_cfg": {}}
    a, b = _run(tmp_path, "a"), _run(tmp_path, "b")
    assert check_runs({("fixanchor", 0): a, ("fixanchor", 1): b, ("heatmap", 0): None}, expected) == 600
    assert check_runs({("fixanchor", 0): None}, expected) is None
    c = _run(tmp_path, "c", steps=3600)
    with pytest.raises(AdaAnchorError, match=r"different budgets.*600 steps: fixanchor seed 0; 3600 steps: heatmap seed 0"):
        check_runs({("fixanchor", 0): a, ("heatmap", 0): c}, expected)
    d = _run(tmp_path, "d", tiny_width=24, bench={"n_train": 800})
    with pytest.raises(AdaAnchorError, match=r"d was trained with other options \(tiny_width 24, not 8; bench"):
        check_runs({("fixanchor", 0): d}, expected)


def test_a_mean_over_fewer_seeds_than_the_row_says_so():
    """A seed without detections has no near fraction: the row said "2 seeds" over a mean of one seed's value."""
    from tag_diagnostics import KEYS, markdown

    full = dict.fromkeys(KEYS, 1.0)
    part = {**dict.fromkeys(KEYS, 3.0), KEYS[1]: None}
    doc = {"bench": "b", "split": "dev", "gamma": 0.1, "near": 5, "runs": {"Heatmap": [full, part]}, "commit": "c",
           "runs_dir": "x"}
    row = next(line for line in markdown(doc).splitlines() if line.startswith("| Heatmap |"))
    assert row.split(" | ")[1:4] == ["2", "2", "1 (n=1)"]
