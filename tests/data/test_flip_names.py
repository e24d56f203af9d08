"""Flip pairs inferred from left/right names: a side letter before a digit (``hand_L1``) and a lower-case side
letter starting a camelCase name (``lShoulder``) had no pair, so the flip augmentation mirrored those points
without exchanging their labels."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adaanchor.data.readers.coco_spec import coco_spec
from adaanchor.data.readers.sleap_labels import flip_pairs_from_names


@pytest.mark.parametrize("names, pairs", [
    (["hand_L1", "hand_R1", "hand_L2", "hand_R2"], [(0, 1), (2, 3)]),
    (["L1", "R1", "nose"], [(0, 1)]),
    (["head", "lShoulder", "rShoulder", "lEye", "rEye"], [(1, 2), (3, 4)]),
    (["lr", "leg", "reg", "lTail", "rib"], []),  # no counterpart, or no side letter
])
def test_side_letters_before_digits_and_camel_prefixes_pair(names, pairs):
    assert list(flip_pairs_from_names(names)) == pairs


def test_a_coco_file_naming_sides_so_flips_them(tmp_path):
    names = ["nose", "lShoulder", "rShoulder", "paw_L1", "paw_R1"]
    (tmp_path / "a.json").write_text(json.dumps({"images": [], "annotations": [],
                                                 "categories": [{"id": 1, "name": "m", "keypoints": names}]}))
    spec = coco_spec(tmp_path / "a.json")
    assert np.array_equal(spec.flip_index, [0, 2, 1, 4, 3])


def test_a_name_with_a_trailing_space_still_pairs():
    # Animal Kingdom's categories name "Ankle_Left " (with a space) beside "Ankle_Right".
    names = ["Knee_Left", "Knee_Right", "Ankle_Left ", "Ankle_Right", "Tail"]
    assert list(flip_pairs_from_names(names)) == [(0, 1), (2, 3)]
