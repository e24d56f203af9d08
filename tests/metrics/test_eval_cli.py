"""``adaanchor eval`` end to end: a NaN-weights checkpoint scores as misses (never AP 100), the error
breakdown (original-image pixels, per keypoint, invisible inside / outside the image) is printed and in the
JSON, and ``--predictions`` writes COCO results that ``adaanchor score`` accepts with the same AP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from adaanchor.cli import main
from root_helpers import one_step_demo_run

pytestmark = pytest.mark.slow  # a one-step training run (about 6 s) feeds both tests


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A one-step run of the tiny model on a small benchmark (a real checkpoint)."""
    return one_step_demo_run(tmp_path_factory.mktemp("evalrun"))


def _checkpoint(run: Path) -> Path:
    return sorted((run / "checkpoints").glob("*.pt"))[-1]


def test_nan_weights_checkpoint_scores_zero_not_a_hundred(run, tmp_path, capsys):
    state = torch.load(_checkpoint(run), map_location="cpu", weights_only=False)
    sd = state["model"]
    for k, v in sd.items():
        if v.is_floating_point():
            sd[k] = torch.full_like(v, float("nan"))
    bad = tmp_path / "nan.pt"
    torch.save(state, bad)
    out_json, preds = tmp_path / "m.json", tmp_path / "p.json"
    assert main(["eval", str(run), f"ckpt={bad}", "--json", str(out_json), "--predictions", str(preds)]) == 0
    cap = capsys.readouterr()
    m = json.loads(out_json.read_text())
    n = 6
    assert m["ap"] == 0.0 and m["coco"]["AR"] == 0.0
    assert m["nonfinite"]["instances"] == n and m["pck"]["0.05"] == 0.0 and m["vis_error"] is None
    assert "6 of 6 instances have non-finite predictions" in cap.err
    assert "non-finite predictions: 6 instance(s)" in cap.out and "6 non-finite left out" in cap.out
    assert json.loads(preds.read_text()) == []


def test_eval_breakdown_and_predictions_round_trip_through_score(run, tmp_path, capsys):
    out_json, preds = tmp_path / "m.json", tmp_path / "p.json"
    assert main(["eval", str(run), "--json", str(out_json), "--predictions", str(preds)]) == 0
    text = capsys.readouterr().out
    m = json.loads(out_json.read_text())
    for key in ("vis_error_orig", "inv_error_orig", "inv_error_in", "inv_error_out", "inv_error_in_orig",
                "inv_error_out_orig", "per_keypoint", "per_keypoint_orig", "counts_inv"):
        assert key in m, key
    assert set(m["per_keypoint"]) == set(m["per_keypoint_orig"]) and len(m["per_keypoint"]) == 17
    assert m["counts_inv"]["in"] + m["counts_inv"]["out"] == m["counts"]["inv"]
    assert sum(r["vis"] for r in m["per_keypoint"].values()) == m["counts"]["vis"]
    assert "errors in original-image px" in text and "| Keypoint |" in text and "occluded in image" in text
    # The crop of the benchmark is the whole image at input size: both frames agree up to the affine.
    assert m["vis_error_orig"] == pytest.approx(m["vis_error"], rel=1e-4)
    res = json.loads(preds.read_text())
    assert len(res) == 6 and all("ann_id" in r for r in res)
    gt = run.parent / "bench"
    gt_file = next(gt.rglob("val.json"))
    score_json = tmp_path / "s.json"
    assert main(["score", str(gt_file), str(preds), "--metric", "coco", "--json", str(score_json)]) == 0
    s = json.loads(score_json.read_text())
    assert s["AP"] == pytest.approx(m["ap"]) and s["num_results"] == 6
