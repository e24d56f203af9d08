"""A result whose ``file_name`` is another ground-truth image than its ``image_id`` is refused by ``adaanchor
score``: ``adaanchor predict`` without ``--gt`` numbers images by their file stems (``000001.png`` -> 1) or their
input order, while a ground truth may number them otherwise (the generated benchmarks: ``000001.png`` is image 2).
Before, such results were scored against the wrong image's people without a word."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from adaanchor.cli import main
from adaanchor.errors import DataError
from adaanchor.metrics.score import match_results

K = 17


def _gt() -> dict:
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(3):  # files 000000.png .. 000002.png are images 1 .. 3
        images.append({"id": i + 1, "file_name": f"images/val/{i:06d}.png", "width": 100, "height": 80})
        kp = [float(v) for x, y in zip(rng.uniform(20, 60, K), rng.uniform(10, 70, K)) for v in (x, y, 2)]
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "keypoints": kp, "num_keypoints": K,
                     "bbox": [20.0, 10.0, 40.0, 60.0], "area": 2400.0, "iscrowd": 0})
    return {"images": images, "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": [f"k{j}" for j in range(K)]}]}


def _results(gt: dict, id_of_file) -> list[dict]:
    """The ground truth's people as predictions, each with the file name predict writes (absolute path)."""
    out = []
    for img, a in zip(gt["images"], gt["annotations"]):
        kp = [1.0 if j % 3 == 2 else v for j, v in enumerate(a["keypoints"])]
        out.append({"image_id": id_of_file(img), "category_id": 1, "keypoints": kp, "score": 1.0,
                    "file_name": f"/data/bench/{img['file_name']}"})
    return out


def _run(tmp_path, capsys, results: list[dict]) -> tuple[int, str, str]:
    g, r = tmp_path / "val.json", tmp_path / "preds.json"
    g.write_text(json.dumps(_gt()))
    r.write_text(json.dumps(results))
    capsys.readouterr()
    rc = main(["score", str(g), str(r), "--metric", "coco"])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_results_numbered_by_file_stem_are_refused_not_scored_against_other_images(tmp_path, capsys):
    gt = _gt()
    stem_ids = [r for r in _results(gt, lambda img: int(re.search(r"(\d+)\.png", img["file_name"]).group(1)))
                if r["image_id"] >= 1]  # 000000.png (id 0) left out: every id is one of the ground truth's
    rc, out, err = _run(tmp_path, capsys, stem_ids)
    assert rc == 2 and "AP:" not in out and "Traceback" not in err
    assert "[record 0] field 'image_id'" in err and "000001.png' is image_id 2" in err and "names image_id 1" in err


def test_results_with_the_right_ids_still_score(tmp_path, capsys):
    gt = _gt()
    rc, out, _ = _run(tmp_path, capsys, _results(gt, lambda img: img["id"]))
    assert rc == 0 and re.search(r"^AP: 1\.0000$", out, re.M), out


def test_video_frames_and_unknown_file_names_are_not_matched_by_name(tmp_path, capsys):
    gt = _gt()
    res = _results(gt, lambda img: img["id"])
    res[0]["file_name"] = "/elsewhere/other.png"  # not a ground-truth file: the id is taken as given
    res[1]["frame"] = 1  # a video frame's file_name is the video
    rc, out, _ = _run(tmp_path, capsys, res)
    assert rc == 0 and "AP:" in out


def test_pck_style_matching_by_image_id_checks_file_names_too():
    class Inst:
        def __init__(self, image_id, path):
            self.image_id, self.image_path, self.ann_id = image_id, path, image_id

    insts = [Inst(0, "imgs/a.jpg"), Inst(1, "imgs/b.jpg")]
    res = [{"image_id": 0, "keypoints": [0.0] * 3 * K, "file_name": "b.jpg"},
           {"image_id": 1, "keypoints": [0.0] * 3 * K, "file_name": "a.jpg"}]
    with pytest.raises(DataError, match="'b.jpg' is image_id 1 in the ground truth"):
        match_results(insts, res, "preds.json", K)
    for r, name in zip(res, ("a.jpg", "b.jpg")):
        r["file_name"] = name
    pred, unmatched = match_results(insts, res, "preds.json", K)
    assert pred.shape == (2, K, 2) and unmatched == 0


@pytest.mark.parametrize("gt_name, advice", [
    ("gt.json", "adaanchor predict --gt gt.json gives each image its id"),
    ("held.csv", "adaanchor eval RUN data.csv=held.csv scores a run on this file directly"),
], ids=["coco-json", "landmark-csv"])
def test_the_advice_works_for_the_ground_truth_given(gt_name, advice):
    """``predict --gt`` reads COCO JSON: a landmark CSV's user was sent to it and got 'invalid JSON'."""
    from adaanchor.metrics.results import check_result_file

    with pytest.raises(DataError) as e:
        check_result_file({"image_id": 1, "file_name": "/x/a.jpg"}, 0, "preds.json", {"a.jpg": 0}, gt_name)
    assert advice in str(e.value)
