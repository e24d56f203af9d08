"""A keypoint spec without ``flip_pairs`` whose names pair up left and right, trained with mirrored images: each
mirrored image kept its labels (a left wrist drawn on the right) and nothing was said; now a warning names the
pairs, the flip key and the fix. A spec with its pairs, a spec whose names have no sides and a flip of 0 say
nothing."""

from __future__ import annotations

import warnings

import pytest

from adaanchor.data.build import warn_unpaired_sides
from adaanchor.data.spec import KeypointSpec

SIDED = ("nose", "left_eye", "right_eye", "leftPaw", "rightPaw")


def _warned(spec: KeypointSpec, flip: float, key: str = "data.aug.flip") -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_unpaired_sides(spec, flip, key)
    return [str(w.message) for w in caught]


def test_sided_names_without_pairs_under_a_flip_are_warned_about():
    (msg,) = _warned(KeypointSpec(name="mine", keypoints=SIDED), 0.5, "data.multi_aug.flip")
    assert "'mine' has no flip_pairs" in msg and "2 pair(s)" in msg and "left_eye/right_eye" in msg
    assert "data.multi_aug.flip=0.5" in msg and "add flip_pairs" in msg


@pytest.mark.parametrize("spec, flip", [
    (KeypointSpec(name="paired", keypoints=SIDED, flip_pairs=((1, 2), (3, 4))), 0.5),
    (KeypointSpec(name="sideless", keypoints=("a", "b", "c")), 0.5),
    (KeypointSpec(name="mine", keypoints=SIDED), 0.0),
], ids=["with-pairs", "no-sides", "no-flip"])
def test_nothing_is_said_where_the_flip_is_right_or_absent(spec, flip):
    assert _warned(spec, flip) == []


def test_a_training_dataset_of_such_a_spec_warns(tmp_path):
    """Through build_dataset: a YAML spec written without flip_pairs, the training split with the default flip."""
    import json

    import numpy as np
    from PIL import Image

    from adaanchor.config import build_config
    from adaanchor.data.build import build_dataset

    (tmp_path / "spec.yaml").write_text("name: mine\nkeypoints: [nose, left_eye, right_eye]\n")
    Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(tmp_path / "a.png")
    kp = [10, 10, 2, 20, 12, 2, 30, 12, 2]
    ann = {"id": 1, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": 3, "bbox": [5, 5, 40, 30],
           "area": 1200, "iscrowd": 0}
    coco = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], "annotations": [ann],
            "categories": [{"id": 1, "name": "x", "keypoints": ["nose", "left_eye", "right_eye"], "skeleton": []}]}
    (tmp_path / "train.json").write_text(json.dumps(coco))
    cfg = build_config("demo", ["data.format=coco", f"data.root={tmp_path}", f"data.spec={tmp_path / 'spec.yaml'}",
                                "data.val=train.json", "data.aug.flip=0.5"])
    with pytest.warns(UserWarning, match="no flip_pairs.*left_eye/right_eye.*data.aug.flip=0.5"):
        build_dataset(cfg.data, "train")
