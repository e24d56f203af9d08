"""``data.spec: coco`` with COCO-format data is the built-in COCO spec even when the working directory holds a
folder named ``coco`` (a data folder): it was read as "the spec of the training annotation file", against the
rule that a built-in name wins over a file or folder of that name (``spec_source.is_builtin_name``)."""

from __future__ import annotations

import json

from adaanchor.data.build import data_spec

THREE = ["a", "b", "c"]


def _coco_file(path) -> None:
    cat = {"id": 1, "name": "thing", "keypoints": THREE, "skeleton": [[1, 2]]}
    path.write_text(json.dumps({"images": [], "annotations": [], "categories": [cat]}))


def _data_cfg(root, spec: str) -> dict:
    return {"format": "coco", "root": str(root), "train": "train.json", "val": "train.json", "images": None,
            "spec": spec}


def test_a_builtin_name_wins_over_a_folder_of_that_name(tmp_path, monkeypatch):
    root = tmp_path / "coco"  # the data folder, named like the built-in spec, in the working directory
    root.mkdir()
    _coco_file(root / "train.json")
    monkeypatch.chdir(tmp_path)
    spec = data_spec(_data_cfg(root, "coco"))
    assert spec.num_keypoints == 17 and spec.keypoints[0] == "nose"


def test_a_folder_as_spec_still_means_the_training_file(tmp_path, monkeypatch):
    root = tmp_path / "mydata"
    root.mkdir()
    _coco_file(root / "train.json")
    monkeypatch.chdir(tmp_path)
    assert list(data_spec(_data_cfg(root, "mydata")).keypoints) == THREE
