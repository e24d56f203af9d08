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
    with pytest.raises(DataError, match=rf"field '{field}': head size .* is more than 10 times the extent of the "
                       r"person's labelled keypoints"):
        read_mpii(path, "mpii")


def test_a_real_head_box_is_kept(tmp_path):
    path = tmp_path / "mpii.json"
    path.write_text(json.dumps([_record(headbox=[110, 40, 150, 90])]))
    inst = read_mpii(path, "mpii").instances[0]
    assert inst.extra["head_size"] == pytest.approx(0.6 * np.hypot(40, 50))
