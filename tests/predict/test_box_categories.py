"""``predict`` / ``viz --box-category`` and ``Predictor.predict(boxes=load_detections(path, category=...))``: the
categories of a detections file that are used (only category 1 was, so a detector numbering its one class 0 gave
no box at all)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_detections_and_gt import _images, _predict

from adaanchor.cli import main
from adaanchor.predict import Predictor, load_detections

BOX_A, BOX_B = [10, 10, 40, 60], [20, 5, 30, 50]


def _dets(path, recs):
    path.write_text(json.dumps([{"image_id": i, "category_id": c, "bbox": b, "score": 0.9} for i, c, b in recs]))
    return str(path)


def test_a_detector_of_one_class_numbered_0_gives_the_boxes(pred_runs, val_images, tmp_path):
    folder = _images(val_images, tmp_path / "imgs")
    dets = _dets(tmp_path / "d.json", [(1, 0, BOX_A), (2, 0, BOX_B)])
    assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o"), "--boxes", dets) == 0
    res = json.loads((tmp_path / "o" / "predictions.json").read_text())
    assert sorted(r["bbox"] for r in res) == sorted([BOX_A, BOX_B])


def test_box_category_chooses_among_several(pred_runs, val_images, tmp_path, capsys):
    folder = _images(val_images, tmp_path / "imgs")
    dets = _dets(tmp_path / "d.json", [(1, 2, BOX_A), (1, 5, BOX_B), (2, 5, BOX_A)])
    run = str(pred_runs["adaanchor"])
    assert _predict(run, str(folder), "--out", str(tmp_path / "o1"), "--boxes", dets) == 2  # several, none is 1
    assert "category 5: 2, category 2: 1; choose with --box-category=ID" in capsys.readouterr().err
    assert _predict(run, str(folder), "--out", str(tmp_path / "o2"), "--boxes", dets, "--box-category", "5") == 0
    res = json.loads((tmp_path / "o2" / "predictions.json").read_text())
    assert sorted((r["image_id"], r["bbox"]) for r in res) == [(1, BOX_B), (2, BOX_A)]
    assert _predict(run, str(folder), "--out", str(tmp_path / "o3"), "--boxes", dets, "--box-category", "all") == 0
    assert len(json.loads((tmp_path / "o3" / "predictions.json").read_text())) == 3


@pytest.mark.parametrize("command", ["predict", "viz"])
def test_box_category_without_boxes_is_refused(pred_runs, val_images, tmp_path, capsys, command):
    folder = _images(val_images, tmp_path / "imgs")
    args = [command, str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o"), "--box-category", "3"]
    assert main(args) == 2
    assert "--box-category chooses among the --boxes detections; give --boxes too" in capsys.readouterr().err


def test_viz_draws_the_chosen_category(pred_runs, val_images, tmp_path):
    folder = _images(val_images, tmp_path / "imgs", n=1)
    dets = _dets(tmp_path / "d.json", [(1, 3, BOX_A), (1, 4, BOX_B)])
    assert main(["viz", str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o"), "--boxes", dets,
                 "--box-category", "4"]) == 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["1_box0_adaanchor.png"]


def test_the_api_takes_the_detections_load_detections_chose(pred_runs, val_images, tmp_path):
    folder = _images(val_images, tmp_path / "imgs")
    path = _dets(tmp_path / "d.json", [(1, 2, BOX_A), (1, 5, BOX_B)])
    p = Predictor.from_run(pred_runs["adaanchor"], device="cpu")
    paths = sorted(folder.iterdir())
    preds = p.predict(paths, boxes=load_detections(path, category=5))
    np.testing.assert_allclose(preds[0].boxes, [BOX_B])
    assert len(preds[1].boxes) == 0


def _gt_of_category(tiny_bench, tmp_path, cat: int):
    """The benchmark's val.json with its one category's id ``cat`` (its images matched to the inputs by file name)."""
    data = json.loads((tiny_bench / "val.json").read_text())
    data["categories"] = [{**data["categories"][0], "id": cat}]
    for ann in data["annotations"]:
        ann["category_id"] = cat
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    return path


def test_results_take_the_ground_truths_category_and_score(pred_runs, tiny_bench, tmp_path):
    """Results were all category 1: ``adaanchor score`` refused them against a ground truth of category 3."""
    gt = _gt_of_category(tiny_bench, tmp_path, 3)
    val = tiny_bench / "images" / "val"
    assert _predict(str(pred_runs["adaanchor"]), str(val), "--out", str(tmp_path / "o"), "--gt", str(gt)) == 0
    res = json.loads((tmp_path / "o" / "predictions.json").read_text())
    assert res and {r["category_id"] for r in res} == {3}
    assert main(["score", str(gt), str(tmp_path / "o" / "predictions.json"), "--metric", "coco"]) == 0
    assert _predict(str(pred_runs["adaanchor"]), str(val), "--out", str(tmp_path / "o2"), "--gt", str(gt),
                    "--category", "7") == 0
    assert {r["category_id"] for r in json.loads((tmp_path / "o2" / "predictions.json").read_text())} == {7}


def test_the_ground_truth_file_is_read_once(pred_runs, tiny_bench, tmp_path, monkeypatch):
    """``--gt`` was read twice: for the image ids, then for the results' category (seconds on a large file)."""
    import adaanchor.metrics.coco as coco

    gt = _gt_of_category(tiny_bench, tmp_path, 3)
    reads: list[str] = []
    real = coco.load_json
    monkeypatch.setattr(coco, "load_json", lambda path, *a, **k: reads.append(str(path)) or real(path, *a, **k))
    val = tiny_bench / "images" / "val"
    assert _predict(str(pred_runs["adaanchor"]), str(val), "--out", str(tmp_path / "o"), "--gt", str(gt)) == 0
    assert reads.count(str(gt)) == 1
    assert {r["category_id"] for r in json.loads((tmp_path / "o" / "predictions.json").read_text())} == {3}


def test_results_take_the_detections_one_category_without_a_ground_truth(pred_runs, val_images, tmp_path):
    folder = _images(val_images, tmp_path / "imgs")
    dets = _dets(tmp_path / "d.json", [(1, 0, BOX_A), (2, 0, BOX_B)])
    assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o"), "--boxes", dets) == 0
    assert {r["category_id"] for r in json.loads((tmp_path / "o" / "predictions.json").read_text())} == {0}
