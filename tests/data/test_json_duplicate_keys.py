"""A JSON object that gives a key twice is refused naming the file and the key: ``json`` kept the last value, and a
results record with two ``image_id`` values was scored against the second (AP 1.0 became 0.55, no word)."""

from __future__ import annotations

import pytest

from adaanchor.cli import main
from adaanchor.data.jsonio import load_json
from adaanchor.errors import DataError


def test_a_key_given_twice_is_refused(tmp_path):
    p = tmp_path / "r.json"
    p.write_text('[{"image_id": 1, "score": 0.5, "image_id": 2}]')
    with pytest.raises(DataError, match=r"r.json: duplicate key 'image_id' in one object \('image_id': 1, 'score': "
                       r"0.5, 'image_id': 2\); JSON readers keep one of the two values"):
        load_json(p)
    p.write_text('{"a": {"b": 1, "c": [{"d": 1}]}, "e": "same keys in two objects", "f": {"b": 2}}')
    assert load_json(p)["f"] == {"b": 2}  # one key per object, repeated across objects, is fine


def test_score_refuses_a_results_record_with_two_image_ids(tiny_bench, tmp_path, capsys):
    gt = tiny_bench / "val.json"
    res = tmp_path / "res.json"
    res.write_text('[{"image_id": 1, "image_id": 2, "category_id": 1, "keypoints": [], "score": 1}]')
    assert main(["score", str(gt), str(res), "--metric", "coco"]) == 2
    assert "res.json: duplicate key 'image_id'" in capsys.readouterr().err


def test_the_streamed_coco_reader_refuses_a_key_given_twice(tiny_bench, tmp_path):
    """The COCO reader streams the file (ijson), which kept the last value too: the annotation moved to another image
    without a word (data stats: train 3 images against 4)."""
    from adaanchor.data.readers.coco import read_coco

    text = (tiny_bench / "val.json").read_text()
    first = text.index('"image_id"', text.index('"annotations"'))
    path = tmp_path / "dup.json"
    path.write_text(text[:first] + '"image_id": 999999, ' + text[first:])
    with pytest.raises(DataError, match=r"dup.json: duplicate key 'image_id' in one object"):
        read_coco(path, "coco")
