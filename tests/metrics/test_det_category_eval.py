"""Evaluation on detected boxes (``data.detections``) keeps the detections of the ground truth's keypoint categories
(``data.det_category: auto``), not category 1 alone: a file of one category of id 3 stopped with "no detection above
data.det_score_thr" (every detection left out, for its category)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_ap_categories import _recategorised

from adaanchor.config import build_config
from adaanchor.data.build import build_dataset
from adaanchor.errors import AdaAnchorError


def _detections(root: Path, cat: int) -> Path:
    """One detection per val annotation (its box), of category ``cat``."""
    gt = json.loads((root / "val.json").read_text())
    dets = [{"image_id": a["image_id"], "category_id": cat, "bbox": a["bbox"], "score": 0.9} for a in gt["annotations"]]
    path = root / f"dets_{cat}.json"
    path.write_text(json.dumps(dets))
    return path


def _val(root: Path, det: Path, *more: str):
    cfg = build_config(None, ["data.format=coco", f"data.root={root}", "data.spec=coco", f"data.detections={det.name}",
                              *more])
    return build_dataset(cfg.data, "val")


def test_detections_of_the_files_own_category_are_evaluated(tiny_bench, tmp_path):
    root = _recategorised(tiny_bench, tmp_path, [3])
    det = _detections(root, 3)
    assert len(_val(root, det)) == len(json.loads(det.read_text()))


def test_detections_of_another_category_than_the_annotations_say_how_to_choose(tiny_bench, tmp_path):
    root = _recategorised(tiny_bench, tmp_path, [1])
    det = _detections(root, 0)  # a detector numbering its one class 0
    with pytest.raises(AdaAnchorError, match=r"none of the detections is of the annotations' keypoint categories \[1\]: "
                                             r"the file has category 0: \d+; choose the category with "
                                             r"data.det_category=ID \(or all\)"):
        _val(root, det)
    n = len(json.loads(det.read_text()))
    assert len(_val(root, det, "data.det_category=0")) == n == len(_val(root, det, "data.det_category=all"))


def test_a_category_id_that_is_no_integer_is_a_bad_record(tiny_bench, tmp_path):
    root = _recategorised(tiny_bench, tmp_path, [1])
    det = _detections(root, 1)
    dets = json.loads(det.read_text())
    dets[0]["category_id"] = 1.0  # was counted as another category and left out
    det.write_text(json.dumps(dets))
    with pytest.raises(AdaAnchorError, match=r"\[record 0\] field 'category_id': expected an integer category id"):
        _val(root, det)
    assert len(_val(root, det, "data.skip_invalid=true")) == len(dets) - 1
