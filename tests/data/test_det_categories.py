"""Which categories of a detections file are used (adaanchor.data.categories): only category 1 (COCO's person) was
kept, so a detector of one other class (numbering it 0 or 3) left every detection out, and an evaluation stopped
with "no detection above data.det_score_thr", a message about scores."""

from __future__ import annotations

import argparse
import json
from collections import Counter

import pytest

from adaanchor.cli.argtypes import box_category
from adaanchor.config import build_config
from adaanchor.data.categories import category_counts, kept_categories, parse_category
from adaanchor.errors import AdaAnchorError, DataError
from adaanchor.predict import load_detections


@pytest.mark.parametrize("found, choice, expected, kept", [
    ({1: 5, 3: 2}, "auto", None, {1}),  # a general detector: the person
    ({0: 4}, "auto", None, {0}),  # one class, numbered 0
    ({3: 4}, None, None, {3}),  # null is auto (data.det_category's default)
    ({1: 5, 3: 2}, "all", None, None),
    ({1: 5, 3: 2}, 3, None, {3}),
    ({1: 5, 3: 2, 4: 1}, [3, 4], None, {3, 4}),
    ({1: 5, 3: 2}, "auto", [3], {3}),  # the ground truth's keypoint categories
    ({}, "auto", [3], None),  # no record names a category: nothing to choose among
])
def test_the_kept_categories(found, choice, expected, kept):
    got = kept_categories(Counter(found), choice, "d.json", expected)
    assert got == (None if kept is None else frozenset(kept))


@pytest.mark.parametrize("found, choice, expected, says", [
    ({2: 3, 5: 1}, "auto", None, "d.json field 'category_id': detections of several categories and none of category 1 "
                                 "(COCO's person): category 2: 3, category 5: 1; choose with --box-category=ID"),
    ({1: 3}, 4, None, "none of the detections is of --box-category=4: the file has category 1: 3"),
    ({0: 3}, "auto", [1], "none of the detections is of the annotations' keypoint categories [1]: the file has "
                          "category 0: 3"),
])
def test_a_choice_that_keeps_nothing_names_the_categories_the_file_has(found, choice, expected, says):
    with pytest.raises(DataError) as e:
        kept_categories(Counter(found), choice, "d.json", expected)
    assert says in str(e.value)


def test_category_counts_skip_records_without_an_integer_category():
    recs = [{"category_id": 1}, {"category_id": 1}, {"category_id": "person"}, {}, [1], {"category_id": True}]
    assert category_counts(recs) == Counter({1: 2})


def _dets(tmp_path, cats: list[int | None]):
    recs = [{"image_id": i, "bbox": [1, 1, 10, 10], "score": 0.5, **({} if c is None else {"category_id": c})}
            for i, c in enumerate(cats)]
    path = tmp_path / "d.json"
    path.write_text(json.dumps(recs))
    return path


def test_a_detector_of_one_other_class_is_used_by_default(tmp_path):
    notes: list[str] = []
    dets = load_detections(_dets(tmp_path, [0, 0, 0]), notes=notes)
    assert sorted(dets) == [0, 1, 2] and notes == []  # all were left out before


def test_category_1_is_the_default_among_several_and_the_others_are_counted(tmp_path):
    notes: list[str] = []
    dets = load_detections(_dets(tmp_path, [1, 3, 1, None]), notes=notes)
    assert sorted(dets) == [0, 2, 3]  # a record without a category claims no class: used
    assert notes == [f"{tmp_path / 'd.json'}: 1 of 4 detections left out (1 of a category other than 1)"]
    assert sorted(load_detections(_dets(tmp_path, [1, 3, 1, None]), category=3)) == [1, 3]
    assert sorted(load_detections(_dets(tmp_path, [1, 3, 1, None]), category="all")) == [0, 1, 2, 3]


def test_several_categories_without_1_are_an_error_that_says_how_to_choose(tmp_path):
    with pytest.raises(DataError, match="category 2: 2, category 5: 1; choose with --box-category"):
        load_detections(_dets(tmp_path, [2, 5, 2]))


@pytest.mark.parametrize("text, value", [("auto", "auto"), ("all", "all"), ("3", [3]), ("1,3", [1, 3]), (" 0 ", [0])])
def test_box_category_argument(text, value):
    assert box_category(text) == value == parse_category(text)


@pytest.mark.parametrize("text", ["", "person", "1,", "1.5", "one,2"])
def test_box_category_argument_refuses_what_is_no_id(text):
    with pytest.raises(argparse.ArgumentTypeError, match="must be auto, all or category ids"):
        box_category(text)


@pytest.mark.parametrize("value", ["all", "auto", "3", "[1,3]", "null"])
def test_det_category_config_values(value):
    build_config(None, [f"data.det_category={value}"])


@pytest.mark.parametrize("value", ["person", "[]", "1.5", "[1,a]", "true"])
def test_det_category_config_refuses_others(value):
    with pytest.raises(AdaAnchorError, match="config key 'data.det_category': the value must be auto"):
        build_config(None, [f"data.det_category={value}"])


@pytest.mark.parametrize("value", [1.0, "1", True])
def test_a_category_id_that_is_no_integer_names_the_record(tmp_path, value):
    """``1.0`` was taken for another category than 1 (the note said "of a category other than 1"), ``"1"`` too, and
    a file whose ids were all strings had its ``--box-category 3`` ignored."""
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "score": 0.5},
                                {"image_id": 1, "category_id": value, "bbox": [1, 1, 5, 5], "score": 0.5}]))
    with pytest.raises(DataError, match=rf"d.json \[record 1\] field 'category_id': expected an integer category "
                                        rf"id, got {value!r}"):
        load_detections(path)


def test_a_null_category_id_claims_no_class(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"image_id": 1, "category_id": None, "bbox": [1, 1, 5, 5], "score": 0.5}]))
    assert sorted(load_detections(path, category=3)) == [1]


def test_choices_from_python_are_checked_and_numpy_ids_taken():
    import numpy as np

    assert kept_categories(Counter({3: 1}), np.int64(3), "d.json") == frozenset({3})
    assert kept_categories(Counter({3: 1}), [np.int64(3)], "d.json") == frozenset({3})
    for bad in ("3", True, 2.5, [], ["a"]):  # "3" was split into its characters
        with pytest.raises(AdaAnchorError, match="--box-category: expected auto, all, a category id"):
            kept_categories(Counter({3: 1}), bad, "d.json")


def test_results_take_the_files_one_category_when_every_category_is_used(tmp_path):
    """``--box-category all`` on a file of category 3 alone labelled the results 1, which ``score`` refused."""
    from adaanchor.predict.image_ids import results_category

    dets = load_detections(_dets(tmp_path, [3, 3]), category="all")
    assert dets.categories is None and results_category(None, dets, None) == 3
    assert results_category(None, load_detections(_dets(tmp_path, [3, 4]), category="all"), None) == 1
