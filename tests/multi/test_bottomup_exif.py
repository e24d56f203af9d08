"""The whole-image (bottom-up) dataset reads images with ``data.exif`` as the top-down dataset does."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pytest
from PIL import Image

from adaanchor.data.build import build_image_dataset
from adaanchor.data.data_config import DATA_DEFAULTS
from adaanchor.data.spec import load_spec
from adaanchor.errors import AdaAnchorError


def _turned_dataset(tmp_path) -> dict:
    """A COCO file annotated on the displayed image of a JPEG stored 80 x 40 with EXIF orientation 6 (shown 40 x 80)."""
    spec = load_spec("coco")
    img = np.zeros((40, 80, 3), np.uint8)
    img[:, :8] = 255  # the stored left edge: the top rows of the displayed image
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(img).save(tmp_path / "a.jpg", exif=exif.tobytes())
    kp = [v for i in range(17) for v in (20, 10 + 3 * i, 2)]
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 80}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": kp, "bbox": [5, 5, 30, 70],
                             "area": 2100, "iscrowd": 0}],
            "categories": [{"id": 1, "name": "person", "keypoints": list(spec.keypoints)}]}
    (tmp_path / "ann.json").write_text(json.dumps(data))
    cfg = copy.deepcopy(DATA_DEFAULTS)
    cfg.update(format="coco", root=str(tmp_path), train="ann.json", val="ann.json", spec="coco", input_size=[64, 64])
    return cfg


def test_bottomup_applies_exif_when_asked(tmp_path):
    cfg = {**_turned_dataset(tmp_path), "exif": "apply"}
    item = build_image_dataset(cfg, "val", multiple=32, verbose=False)[0]
    assert item["meta"]["image_size"] == (40, 80)  # the displayed frame the keypoints were annotated in
    assert tuple(item["image"].shape[-2:]) == (128, 64)
    img = item["image"].numpy().mean(0)
    assert img[:12].mean() > img[-60:].mean() + 1.0  # the bright stored left edge is the displayed top


def test_bottomup_warns_once_under_exif_ignore(tmp_path):
    """A file sized as the displayed photo (labels on the turned image) is refused under ``ignore``; one sized as the
    stored pixels reads them as they are, with one warning."""
    cfg = {**_turned_dataset(tmp_path), "exif": "ignore"}
    with pytest.raises(AdaAnchorError, match=r"orientation 6\) and their labels are on the image as displayed"):
        build_image_dataset(cfg, "val", multiple=32, verbose=False)
    data = json.loads((tmp_path / "ann.json").read_text())
    data["images"][0].update(width=80, height=40)
    (tmp_path / "ann.json").write_text(json.dumps(data))
    ds = build_image_dataset(cfg, "val", multiple=32, verbose=False)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        item = ds[0]
    assert item["meta"]["image_size"] == (80, 40)
    assert sum("EXIF orientation 6 is not applied" in str(w.message) for w in got) == 1
