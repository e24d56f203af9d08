"""The COCO-style WFLW reader boxes each face by its points' extent, as the official-text reader does: the
file's own ``bbox`` can miss part of the face (annotation 40 of mmpose's sample), which cut the chin off the crop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec import load_spec

WFLW = load_spec("wflw")
SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mmpose-testdata" / "wflw" / "test_wflw.json"


def _face(rng: np.random.Generator) -> np.ndarray:
    return np.c_[rng.uniform(30, 90, 98), rng.uniform(40, 120, 98)]


def test_generated_wflw_json_box_is_the_points_extent(tmp_path):
    rng = np.random.default_rng(0)
    pts = _face(rng)
    kp = np.c_[pts, np.ones(98)].ravel().tolist()
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 160, "height": 160}],
            "annotations": [{"id": 7, "image_id": 1, "category_id": 1, "keypoints": kp, "num_keypoints": 98,
                             "bbox": [30.0, 40.0, 60.0, 20.0], "area": 1200.0, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "face"}]}
    f = tmp_path / "wflw.json"
    f.write_text(json.dumps(data))
    inst = FORMATS["wflw"](f, WFLW).instances[0]
    lo, hi = pts.min(0), pts.max(0)
    np.testing.assert_allclose(inst.bbox, [lo[0], lo[1], hi[0] - lo[0] + 1, hi[1] - lo[1] + 1])
    assert inst.extra["file_bbox"] == [30.0, 40.0, 60.0, 20.0]
    np.testing.assert_allclose(inst.keypoints, pts)  # coordinates as written


@pytest.mark.skipif(not SAMPLE.is_file(), reason=f"real samples not available: {SAMPLE} is absent")
def test_mmpose_wflw_sample_crop_keeps_every_point():
    res = FORMATS["wflw"](SAMPLE, WFLW)
    ds = TopDownDataset(res.instances, WFLW, (64, 64))
    for i, inst in enumerate(res.instances):
        x, y, w, h = inst.bbox
        inside = ((inst.keypoints >= [x, y]) & (inst.keypoints <= [x + w, y + h])).all(1)
        assert inside.all(), inst.ann_id  # annotation 40: 63 points outside the file's box
        assert (ds[i]["visibility"][0] == 2).all(), inst.ann_id  # was 12 points cut off by the crop
