"""A keypoint labelled visible (v=2) beyond the image border is v=1 in the crop (docs/conventions.md: labelled but
not visible, outside the image / crop), also when the padded crop reaches past the border; a flip swaps it with
its pair. The annotation's own flag stays in ``labelled_visibility``."""

from __future__ import annotations

import numpy as np
from PIL import Image

from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import apply_affine

SPEC = load_spec("coco")
LW, RW = SPEC.keypoints.index("left_wrist"), SPEC.keypoints.index("right_wrist")


def _item(tmp_path, flip: float) -> dict:
    path = tmp_path / "a.png"
    Image.new("RGB", (60, 40)).save(path)
    kp, vis = np.zeros((17, 2)), np.zeros(17, np.int64)
    kp[LW], vis[LW] = (-6.0, 20.0), 2  # beyond the left border, inside the padded crop of the box
    kp[RW], vis[RW] = (30.0, 20.0), 2
    inst = Instance(str(path), 1, 1, kp, vis, np.array([-8.0, 5.0, 50.0, 30.0]), 1500.0)
    ds = TopDownDataset([inst], SPEC, (64, 48), crop="box", train=flip > 0, aug={"flip": flip})
    item = ds[0]
    xy = apply_affine(item["meta"]["affine"], kp)
    assert -0.5 <= xy[LW, 0] <= 63.5  # the crop holds the point: only the image border makes it invisible
    return item


def test_a_visible_label_beyond_the_image_border_is_invisible_in_the_crop(tmp_path):
    item = _item(tmp_path, 0.0)
    assert item["visibility"][0, LW] == 1 and item["visibility"][0, RW] == 2
    assert item["meta"]["labelled_visibility"][LW] == 2


def test_the_flag_follows_its_point_through_a_flip(tmp_path):
    item = _item(tmp_path, 1.0)
    # After the mirror the left wrist label holds the right wrist's (inside) point and the right the outside one.
    assert item["visibility"][0, LW] == 2 and item["visibility"][0, RW] == 1
