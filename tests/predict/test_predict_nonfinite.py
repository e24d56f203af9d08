"""A diverged model's NaN or infinite keypoints in ``adaanchor predict``: left out of the COCO results (JSON has no
NaN, and ``score`` refuses one), missing points in the CSV, counted in the summary with exit code 3."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from adaanchor.cli import main
from adaanchor.predict import Predictor
from adaanchor.predict.result import Prediction
from adaanchor.predict.sources import Frame
from adaanchor.predict.write_common import finite_instances, missing_keypoints
from adaanchor.predict.writers import CocoWriter, DlcCsvWriter


def _strict_json(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def _pred(kp: np.ndarray, scores: np.ndarray) -> Prediction:
    n = len(kp)
    return Prediction(kp, scores.astype(np.float32), None, np.tile([0.0, 0.0, 64.0, 48.0], (n, 1)), np.ones(n),
                      np.zeros((n, 2, 3)), (48, 64))


@pytest.mark.parametrize("where", ["keypoint", "score"])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_writers_leave_a_non_finite_instance_out_of_coco_and_blank_its_points_in_the_csv(tmp_path, where, bad):
    kp = np.array([[[10.0, 12.0], [20.0, 22.0]], [[30.0, 5.0], [40.0, 6.0]]])
    scores = np.array([[0.8, 0.7], [0.6, 0.5]])
    (kp if where == "keypoint" else scores)[0, 1, ...] = bad
    pred = _pred(kp, scores)
    assert finite_instances(pred).tolist() == [False, True]
    assert missing_keypoints(pred).tolist() == [[False, True], [False, False]]
    img = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(img)
    frame = Frame(np.zeros((48, 64, 3), np.uint8), img)
    coco, csv = CocoWriter(tmp_path / "p.json"), DlcCsvWriter(tmp_path / "p.csv", keypoints=("a", "b"), scorer="s",
                                                                max_instances=2)
    for w in (coco, csv):
        w.write(frame, pred, 7)
        w.close()
    recs = _strict_json((tmp_path / "p.json").read_text())
    assert [r["keypoints"][:2] for r in recs] == [[30.0, 5.0]]
    row = (tmp_path / "p.csv").read_text().splitlines()[-1].split(",")
    assert row[1:7] == ["10.000", "12.000", "0.80000", "", "", ""] and "nan" not in row and "inf" not in row


def test_predict_counts_non_finite_instances_and_exits_3(pred_runs, val_images, tmp_path, monkeypatch, capsys):
    real = Predictor.predict_stream

    def diverged(self, *a, **k):
        for i, (frame, pred) in enumerate(real(self, *a, **k)):
            if i == 1:
                pred.keypoints[0, 0, 0] = np.nan
            yield frame, pred

    monkeypatch.setattr(Predictor, "predict_stream", diverged)
    out = tmp_path / "o"
    rc = main(["predict", str(pred_runs["adaanchor"]), *map(str, val_images[:3]), "--out", str(out), "--quiet",
               "--no-overlays", "--device", "cpu"])
    text = capsys.readouterr().out
    assert rc == 3
    assert "note: 1 of 3 instance(s) had NaN or infinite keypoints or scores" in text
    assert len(_strict_json((out / "predictions.json").read_text())) == 2
    monkeypatch.setattr(Predictor, "predict_stream", real)
    assert main(["predict", str(pred_runs["adaanchor"]), str(val_images[0]), "--out", str(tmp_path / "o2"),
                 "--quiet", "--no-overlays", "--device", "cpu"]) == 0
