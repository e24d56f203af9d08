"""A head box or head size far larger than its person is refused: PCKh divides by it, and a head box
``[1, 1, 1e308, 1e308]`` made every keypoint a hit (PCKh@0.5 62.65 -> 68.67, no word)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from adaanchor.data.readers.mpii import read_mpii
from adaanchor.errors import DataError


def _record(**head) -> dict:
    rng = np.random.default_rng(0)
    joints = np.stack([rng.uniform(100, 160, 16), rng.uniform(50, 250, 16)], 1)  # a person about 200 px tall
    return {"image": "000001.jpg", "center": [130.0, 150.0], "scale": 1.0, "joints": joints.tolist(),
            "joints_vis": [1] * 16, **head}


@pytest.mark.parametrize("head,field", [({"headbox": [1, 1, 1e308, 1e308]}, "headbox"),
                                        ({"headbox": [100, 40, 5100, 5040]}, "headbox"),
                                        ({"head_size": 1e6}, "head_size")])
def test_a_head_far_larger_than_its_person_is_refused(tmp_path, head, field):
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([_record(**head)]))
    with pytest.raises(DataError, match=rf"field '{field}': head size .* is more than 10 times the person's size "
                       r"\([0-9.]+ px: its labelled keypoints' extent or its scale\)"):
        read_mpii(path, "mpii")


def test_a_real_head_box_is_kept(tmp_path):
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([_record(headbox=[110, 40, 150, 90])]))
    inst = read_mpii(path, "mpii").instances[0]
    assert inst.extra["head_size"] == pytest.approx(0.6 * np.hypot(40, 50))


def test_two_close_joints_alone_are_no_measure_of_the_person(tmp_path):
    """A real MPII person with thorax and upper neck alone, 5.2 px apart, and a head size of 92 px (17.7 times them)
    was refused: the person's scale (200 px a unit) measures it."""
    rec = _record(headbox=[100, 40, 170, 160])  # head size 0.6 * 139 = 83 px
    rec["joints_vis"] = [0] * 16
    rec["joints_vis"][7] = rec["joints_vis"][8] = 1
    rec["joints"][7], rec["joints"][8] = [130.0, 120.0], [131.0, 115.0]
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([rec]))
    assert read_mpii(path, "mpii").instances[0].extra["head_size"] == pytest.approx(0.6 * np.hypot(70, 120))
