"""The evaluation's results under the ground truth's own categories: a single category of another id than 1, and
several categories sharing one keypoint set (AP-10K's species), score as the file says (metrics.checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaanchor.config import build_config
from adaanchor.data.build import build_dataset
from adaanchor.engine import evaluate as ev
from adaanchor.engine.run import build_system
from adaanchor.metrics.checked import labelled, scoring_categories
from adaanchor.metrics.coco import coco_keypoint_ap


def _recategorised(tiny_bench: Path, tmp_path: Path, ids: list[int]) -> Path:
    """A copy of the benchmark's val file whose annotations take the category ids ``ids`` in turn."""
    root = tmp_path / "data"
    root.mkdir()
    (root / "images").symlink_to(tiny_bench / "images")
    data = json.loads((tiny_bench / "val.json").read_text())
    cat = data["categories"][0]
    data["categories"] = [{**cat, "id": c, "name": f"kind{c}"} for c in ids]
    for i, ann in enumerate(data["annotations"]):
        ann["category_id"] = ids[i % len(ids)]
    for name in ("val.json", "train.json"):
        (root / name).write_text(json.dumps(data))
    return root


def _evaluate(root: Path, det: Path | None = None) -> tuple[dict, dict]:
    over = ["data.format=coco", f"data.root={root}", "data.spec=coco", "model.tiny_width=8", "eval.batch_size=12"]
    if det is not None:
        over.append(f"data.detections={det}")
    cfg = build_config(None, over)
    model, strategy = build_system(cfg)
    return ev.evaluate_dataset(model, strategy, cfg, build_dataset(cfg.data, "val"))


@pytest.mark.parametrize("ids", [[2], [0], [2, 5]], ids=["one-category-2", "one-category-0", "two-categories"])
def test_perfect_predictions_score_ap_1_under_the_files_categories(tiny_bench, tmp_path, perfect_predictions, ids):
    """All results were labelled category 1: one category of id 2 (or 0) stopped the evaluation ('category_id 1 is
    not in ...val.json'), and with two categories half the people were missed (AP 0.5 for perfect predictions)."""
    m, preds = _evaluate(_recategorised(tiny_bench, tmp_path, ids))
    assert m["ap"] == pytest.approx(1.0)
    res = ev.coco_results(preds)
    gt = json.loads((tmp_path / "data" / "val.json").read_text())
    of_ann = {a["id"]: a["category_id"] for a in gt["annotations"]}
    assert all(r["category_id"] == of_ann[r["ann_id"]] for r in res)  # what eval --predictions writes


def test_without_annotation_ids_several_categories_are_pooled():
    """Results that do not name their annotation (a multi-person model, detected boxes) are scored class-agnostic:
    the categories pooled into the first one, each result under it."""
    kp = [10.0, 10.0, 2] * 17
    ann = {"image_id": 1, "iscrowd": 0, "keypoints": kp, "num_keypoints": 17, "bbox": [0, 0, 40, 40], "area": 1600.0}
    gt = {"images": [{"id": 1, "width": 64, "height": 64}],
          "categories": [{"id": 3, "name": "a", "keypoints": [str(i) for i in range(17)]},
                         {"id": 7, "name": "b", "keypoints": [str(i) for i in range(17)]}],
          "annotations": [{**ann, "id": 1, "category_id": 3},
                          {**ann, "id": 2, "category_id": 7, "keypoints": [30.0, 30.0, 2] * 17}]}
    res = [{"image_id": 1, "category_id": 1, "keypoints": [x, x, 1.0] * 17, "score": 1.0} for x in (10.0, 30.0)]
    pooled, cat = scoring_categories(gt)
    assert cat == 3 and {a["category_id"] for a in pooled.data["annotations"]} == {3}
    assert coco_keypoint_ap(pooled, labelled(res, cat))["AP"] == pytest.approx(1.0)
    assert gt["annotations"][1]["category_id"] == 7  # the caller's ground truth is left as it was
    same, cats = scoring_categories(gt, [1, 2])  # the annotations named: their own categories, nothing pooled
    assert cats == [3, 7] and same.data is gt
    assert coco_keypoint_ap(same, [{**r, "category_id": c} for r, c in zip(res, cats)])["AP"] == pytest.approx(1.0)


def test_a_category_without_keypoints_is_no_category_of_people():
    """A "background" category listed first took the results (every person labelled category 0)."""
    kp = [str(i) for i in range(17)]
    gt = {"images": [{"id": 1, "width": 64, "height": 64}],
          "categories": [{"id": 0, "name": "background"}, {"id": 1, "name": "person", "keypoints": kp}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "keypoints": [10.0, 10.0, 2] * 17,
                           "num_keypoints": 17, "bbox": [0, 0, 40, 40], "area": 1600.0}]}
    assert scoring_categories(gt)[1] == 1
    gt["categories"].append({"id": 2, "name": "dog", "keypoints": kp})
    pooled, cat = scoring_categories(gt)
    assert cat == 1 and [c["id"] for c in pooled.data["categories"]] == [0, 1]
