"""Results that carry a ``bbox``: pycocotools' ``loadRes`` reads every record's box when the first record has one
(the box sets the detection's area, so its APM / APL range). A file where only some records carry one was a
``KeyError: 'bbox'`` traceback inside pycocotools; it is refused naming the record, and a file where every record
has one scores as pycocotools scores it."""

from __future__ import annotations

import contextlib
import io
import json

import pytest
from test_score_reads_once import _gt, _results

from adaanchor.errors import DataError
from adaanchor.metrics.score import score


def _with_boxes(results: list[dict], which: list[int], box=None) -> list[dict]:
    out = [dict(r) for r in results]
    for i in which:
        xy = out[i]["keypoints"]
        xs, ys = xy[0::3], xy[1::3]
        out[i]["bbox"] = box if box is not None else [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
    return out


def _write(tmp_path, gt: dict, results: list[dict]) -> tuple:
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    (tmp_path / "res.json").write_text(json.dumps(results))
    return tmp_path / "gt.json", tmp_path / "res.json"


def test_a_box_on_some_records_only_is_refused_naming_the_first_without(tmp_path):
    gt = _gt("coco")
    gt_file, res_file = _write(tmp_path, gt, _with_boxes(_results(gt), [0, 1]))
    with pytest.raises(DataError) as e:
        score(gt_file, res_file, "coco")
    assert "[record 2]" in str(e.value) and "'bbox'" in str(e.value) and "record 0 has one" in str(e.value)


@pytest.mark.parametrize("box", ["abc", [1, 2, 3], [0, 0, float("nan"), 4]], ids=["string", "three", "nan"])
def test_a_malformed_box_is_refused(tmp_path, box):
    gt = _gt("coco")
    results = _with_boxes(_results(gt), [0, 1, 2, 3])
    results[3]["bbox"] = box
    res = tmp_path / "res.json"
    (tmp_path / "gt.json").write_text(json.dumps(gt))
    res.write_text(json.dumps(results))
    with pytest.raises(DataError, match=r"\[record 3\].*bbox"):
        score(tmp_path / "gt.json", res, "coco")


def test_boxes_on_every_record_score_as_pycocotools_does(tmp_path):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = _gt("coco")
    gt_file, res_file = _write(tmp_path, gt, _with_boxes(_results(gt), [0, 1, 2, 3]))
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(str(gt_file))
        ev = COCOeval(coco_gt, coco_gt.loadRes(str(res_file)), iouType="keypoints")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    out = score(gt_file, res_file, "coco")
    assert out["AP"] == pytest.approx(float(ev.stats[0]), abs=0) and out["APM"] == float(ev.stats[3])
