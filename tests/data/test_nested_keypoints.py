"""COCO-style files whose keypoints are ``[x, y, v]`` lists (RHD's layout) rather than COCO's flat list: the error
counted 21 lists as "21 numbers, not 63" and a 21-point spec failed as well; now it says what the layout is and how
to flatten it, with the keypoint set read from the file and with a spec given."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from adaanchor.cli import main

NAMES = ["wrist", "thumb1", "thumb2"]


@pytest.fixture
def nested(tmp_path):
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / "a.png")
    kp = [[10.0, 10.0, 1], [20.0, 12.0, 1], [30.0, 12.0, 1]]
    ann = {"id": 1, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": 3, "bbox": [5, 5, 40, 30],
           "area": 1200, "iscrowd": 0}
    data = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], "annotations": [ann],
            "categories": [{"id": 1, "name": "hand", "keypoints": NAMES, "skeleton": []}]}
    (tmp_path / "hands.json").write_text(json.dumps(data))
    (tmp_path / "spec.yaml").write_text(f"name: hand3\nkeypoints: {NAMES}\n")
    return tmp_path


@pytest.mark.parametrize("spec", [None, "spec.yaml"], ids=["spec-from-file", "spec-given"])
def test_nested_triplets_are_named_with_the_fix(nested, capsys, spec):
    args = ["data", "stats", "custom", "data.format=coco", f"data.root={nested}", "data.train=hands.json",
            "data.val=hands.json"] + ([f"data.spec={nested / spec}"] if spec else [])
    main(args)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "3 [x, y, v] lists, not COCO's flat list of 9 numbers" in text and "flatten" in text, text
    assert "Traceback" not in text
