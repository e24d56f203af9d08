"""The COCO reader opens each image's header once per read (it opened it twice, three times for an entry without
a size: the size check, the displayed-frame check and the keypoint bound each opened it), and ``data stats`` reuses
those opens for its check of the files (one more each)."""

from __future__ import annotations

import collections
import json

import numpy as np
import PIL.Image
import pytest
from PIL import Image

from adaanchor.data.readers.coco import read_coco
from adaanchor.data.stats import dataset_stats

W, H = 40, 30


def _coco_set(tmp_path) -> list[str]:
    """Four images: sized as the file, without a size, rotated by EXIF and labelled on the rotated frame, and one
    whose entry gives another size (refused)."""
    names = [f"im{i}.jpg" for i in range(4)]
    for i, name in enumerate(names):
        exif = Image.Exif()
        if i == 2:
            exif[0x0112] = 6  # turned by 90 degrees
        Image.fromarray(np.full((H, W, 3), 50, dtype=np.uint8)).save(tmp_path / name, exif=exif)
    images = [{"id": 1, "file_name": names[0], "width": W, "height": H},
              {"id": 2, "file_name": names[1]},
              {"id": 3, "file_name": names[2], "width": H, "height": W},
              {"id": 4, "file_name": names[3], "width": 2 * W, "height": H}]
    kp = [10, 10, 2] * 17
    anns = [{"id": i + 1, "image_id": i + 1, "category_id": 1, "keypoints": kp, "bbox": [5, 5, 20, 20],
             "iscrowd": 0} for i in range(4)]
    cats = [{"id": 1, "name": "person"}]
    (tmp_path / "train.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return [str(tmp_path / n) for n in names]


@pytest.fixture
def opens(monkeypatch) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    real = PIL.Image.open

    def counted(fp, *args, **kwargs):
        counts[str(fp)] += 1
        return real(fp, *args, **kwargs)

    monkeypatch.setattr(PIL.Image, "open", counted)
    return counts


def test_each_header_is_opened_once_per_read(tmp_path, opens):
    paths = _coco_set(tmp_path)
    res = read_coco(tmp_path / "train.json", "coco", skip_invalid=True)
    assert [opens[p] for p in paths] == [1, 1, 1, 1]
    assert len(res.instances) == 3 and "refused (width)" in str(res.skipped[-1])  # the 80x30 entry is refused
    assert res.instances[2].extra["labels_frame"] == "displayed" and res.instances[2].extra["exif_orientation"] == 6
    read_coco(tmp_path / "train.json", "coco", skip_invalid=True)
    assert [opens[p] for p in paths] == [2, 2, 2, 2]  # a new read reads the files anew


def test_data_stats_reuses_the_readers_opens(tmp_path, opens):
    paths = _coco_set(tmp_path)
    stats = dataset_stats({"format": "coco", "root": str(tmp_path), "train": "train.json", "val": None,
                           "spec": "coco", "crop": "box"}, splits=("train",))
    assert stats["splits"]["train"]["images"] == 3
    assert max(opens[p] for p in paths) == 1, dict(opens)
