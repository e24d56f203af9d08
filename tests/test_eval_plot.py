"""``adaanchor eval --plot``: the error of each keypoint type and the error by confidence, drawn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adaanchor.cli import main
from adaanchor.demo import DEMO_CONFIG
from adaanchor.errors import AdaAnchorError
from adaanchor.eval_plot import confidence_bins, plot_eval


def test_confidence_bins_are_tenths_by_confidence_with_their_means():
    score = np.arange(100, dtype=float) / 100
    err = 10 - np.arange(100, dtype=float) / 10  # falls as confidence rises
    conf, mean_err, n = confidence_bins(score, err)
    assert n.sum() == 100 and len(n) == 10 and n.min() >= 9
    assert np.all(np.diff(conf) > 0) and np.all(np.diff(mean_err) < 0)
    assert conf[0] == pytest.approx(score[: n[0]].mean()) and mean_err[0] == pytest.approx(err[: n[0]].mean())


def test_confidence_bins_keep_ties_together_and_leave_non_finite_out():
    score = np.array([0.5] * 30 + [0.9] * 10 + [np.nan])
    err = np.array([1.0] * 30 + [3.0] * 10 + [5.0])
    conf, mean_err, n = confidence_bins(score, err)
    assert n.tolist() == [30, 10] and mean_err.tolist() == [1.0, 3.0]
    assert all(a.size == 0 for a in confidence_bins(np.zeros(0), np.zeros(0)))


def _preds(score):
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 50, (20, 3, 2))
    return {"pred_orig": gt + rng.normal(0, 2, gt.shape), "gt_orig": gt, "vis": rng.integers(1, 3, (20, 3)),
            "score": score}


def test_plot_eval_draws_one_panel_without_confidence_and_two_with(tmp_path):
    m = {"per_keypoint_orig": {n: {"vis_error": 1.0, "inv_error": None if n == "c" else 2.0, "vis": 3, "inv": 1}
                               for n in "abc"}}
    two = Image.open(plot_eval(m, _preds(np.random.default_rng(1).uniform(0, 1, (20, 3))), tmp_path / "two.png"))
    one = Image.open(plot_eval(m, _preds(None), tmp_path / "one.png"))  # a regression model has no confidence
    assert two.size[0] > 1.5 * one.size[0]
    with pytest.raises(AdaAnchorError, match=r"x\.nosuch: cannot write the plot"):
        plot_eval(m, _preds(None), tmp_path / "x.nosuch")
    assert not (tmp_path / "x.nosuch").exists()


def test_eval_plot_from_the_command_line(tiny_overrides, tmp_path, capsys):
    assert main(["train", str(DEMO_CONFIG), *tiny_overrides, "train.max_steps=2"]) == 0
    run = next(o.split("=", 1)[1] for o in tiny_overrides if o.startswith("out_dir="))
    assert main(["eval", run, "--plot", str(tmp_path / "e.png")]) == 0
    assert f"wrote {tmp_path / 'e.png'}" in capsys.readouterr().out
    assert Image.open(tmp_path / "e.png").size[0] > 800


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.1, 0.2, 0.5, 0.7, 0.9, 1.0, float("nan")]), st.floats(0, 100)),
                min_size=1, max_size=60))
def test_confidence_bins_partition_the_finite_keypoints(pairs):
    score, err = (np.array(x, dtype=float) for x in zip(*pairs))
    conf, mean_err, n = confidence_bins(score, err)
    ok = np.isfinite(score)
    assert n.sum() == ok.sum() and len(n) <= 10
    if ok.any():
        assert np.all(np.diff(conf) > 0)  # one group per run of confidences, in order
        assert (conf * n).sum() == pytest.approx(score[ok].sum()) and (mean_err * n).sum() == pytest.approx(err[ok].sum())
