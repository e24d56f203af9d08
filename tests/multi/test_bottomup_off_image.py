"""Whole-image (multi-person) items: a keypoint labelled visible beyond the image border is v=1, as in the top-down
crops (docs/conventions.md: "outside the image / crop" is labelled but not visible). Zoomed out, the input shows
black padding there and the point stayed v=2; its flag follows it through a flip."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from adaanchor.data.bottomup import BottomUpDataset
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec

SPEC = load_spec("coco")
LW, RW = SPEC.keypoints.index("left_wrist"), SPEC.keypoints.index("right_wrist")


def _item(tmp_path, train: bool, flip: float) -> dict:
    path = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(path)
    kp, vis = np.full((17, 2), 30.0), np.full(17, 2, np.int64)
    kp[LW] = (-5.0, 20.0)  # 4.5 px beyond the left border
    inst = Instance(str(path), 1, 1, kp, vis, np.array([0.0, 0.0, 40.0, 40.0]), 1.0)
    aug = {"rotation": 0.0, "scale": (0.75, 0.75), "translation": 0.0, "flip": flip}
    item = BottomUpDataset([[inst]], SPEC, (64, 48), train=train, aug=aug, multiple=1)[0]
    return item


@pytest.mark.parametrize("train", [True, False])
def test_a_label_beyond_the_image_border_is_not_visible(tmp_path, train):
    item = _item(tmp_path, train, 0.0)
    x = float(item["keypoints"][0, LW, 0])
    assert -0.5 <= x <= 63.5 or not train  # zoomed out, the input holds the point (over black padding)
    assert int(item["visibility"][0, LW]) == 1 and int(item["visibility"][0, RW]) == 2


def test_the_flag_follows_its_point_through_a_flip(tmp_path):
    item = _item(tmp_path, True, 1.0)
    assert int(item["visibility"][0, RW]) == 1 and int(item["visibility"][0, LW]) == 2
