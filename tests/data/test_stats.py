"""Dataset statistics: counts by visibility, keypoints outside the box, and every problem listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec import load_spec
from adaanchor.data.stats import dataset_stats, format_stats

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MMPOSE = SHARED / "mmpose-testdata"


def _write_dataset(root: Path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 64)).save(root / "a.jpg")  # b.jpg is missing on purpose
    kp = [10.0, 10.0, 2] * 5 + [0, 0, 0] * 10 + [30.0, 30.0, 1] * 2
    outside = [10.0, 10.0, 2] * 16 + [60.0, 60.0, 2]  # last keypoint lies outside the box
    anns = [
        {"id": 1, "image_id": 1, "keypoints": kp, "bbox": [0, 0, 40, 40], "area": 1600},
        {"id": 2, "image_id": 2, "keypoints": outside, "bbox": [0, 0, 40, 40], "area": 1600},
        {"id": 3, "image_id": 1, "keypoints": kp[:-3], "bbox": [0, 0, 40, 40]},  # 16 keypoints
        {"id": 4, "image_id": 9, "keypoints": kp, "bbox": [0, 0, 40, 40]},  # unknown image
        {"id": 5, "image_id": 1, "keypoints": kp, "bbox": [0, 0, 40, 0]},  # zero-area box
    ]
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}]
    cats = [{"id": 1, "name": "person"}]
    (root / "train.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    (root / "val.json").write_text(json.dumps({"images": images[:1], "annotations": anns[:1], "categories": cats}))


def test_stats_of_a_config_lists_every_problem(tmp_path):
    _write_dataset(tmp_path)
    cfg = {"format": "coco", "root": str(tmp_path), "train": "train.json", "val": "val.json", "spec": "coco"}
    d = dataset_stats(cfg)
    tr, va = d["splits"]["train"], d["splits"]["val"]
    assert d["format"] == "coco" and d["spec"] == "coco (17 keypoints)"
    assert tr["instances"] == 2 and tr["images"] == 2
    assert tr["keypoints"] == {"v2": 5 + 17, "v1": 2, "v0": 10}
    assert tr["labelled_outside_box"] == 1
    assert tr["skipped"] == 3 and tr["missing_images"] == 1
    probs = "\n".join(tr["problems"])
    assert "[record annotations[2] id=3] field 'keypoints'" in probs
    assert "[record annotations[3] id=4] field 'image_id'" in probs
    assert "[record annotations[4] id=5] field 'bbox'" in probs
    assert "b.jpg: image file not found" in probs
    # val is train's first record: not held out, which is a problem of its own
    assert va["instances"] == 1 and len(va["problems"]) == 1
    assert va["problems"][0].startswith("the val split shares 1 of its 1 images with the train split (data.train="
                                        "train.json, data.val=val.json): its evaluation is not held out")
    assert d["total"]["instances"] == 3 and d["total"]["problems"] == 5
    text = format_stats(d)
    assert "| train | 2 | 2 | 22 | 2 | 10 | 1 | 0 | 3 | 1 |" in text
    assert "| total | 3 |" in text and "train: 4 problem(s)" in text and "field 'image_id'" in text


def test_stats_of_a_whole_config_read_its_data_section(tmp_path, monkeypatch):
    """``dataset_stats(build_config(...))``, the config a user has in hand, was read as a data section without a
    root: the default synthetic benchmark of 6000 images was generated in ./data-cache and counted instead."""
    from adaanchor.config import build_config
    from adaanchor.errors import AdaAnchorError

    _write_dataset(tmp_path)
    monkeypatch.chdir(tmp_path)
    cfg = build_config(None, ["data.format=coco", f"data.root={tmp_path}", "data.train=train.json",
                              "data.val=val.json", "data.spec=coco"])
    whole, section = dataset_stats(cfg), dataset_stats(cfg.data, task=str(cfg.task))
    assert whole == section and whole["splits"]["train"]["instances"] == 2 and whole["format"] == "coco"
    assert not (tmp_path / "data-cache").exists()
    with pytest.raises(AdaAnchorError, match=r"^unknown data config key 'roott'. Did you mean 'root'\? Valid: "):
        dataset_stats({"format": "coco", "roott": str(tmp_path)})
    for bad in ("demo", None, tmp_path):
        with pytest.raises(TypeError, match=r"^dataset_stats: expected a config \(build_config's, or its data "
                                            r"section\) or ReadResult objects, got "):
            dataset_stats(bad)


def test_stats_of_read_results(tmp_path):
    _write_dataset(tmp_path)
    res = FORMATS["coco"](tmp_path / "val.json", load_spec("coco"))
    d = dataset_stats(res)
    (s,) = d["splits"].values()
    assert s["instances"] == 1 and s["keypoints"]["v1"] == 2
    assert "no problems found" in format_stats(d)
    d2 = dataset_stats({"a": res, "b": res}, check_images=False)
    assert d2["total"]["instances"] == 2


def test_stats_accepts_omegaconf(tmp_path):
    from omegaconf import OmegaConf

    _write_dataset(tmp_path)
    cfg = OmegaConf.create({"format": "coco", "root": str(tmp_path), "train": "train.json", "val": None,
                            "images": None, "spec": "coco"})
    d = dataset_stats(cfg)
    assert list(d["splits"]) == ["train"]


@pytest.mark.skipif(not MMPOSE.is_dir(), reason=f"real samples not available: {MMPOSE} is absent")
def test_stats_mpii_sample():
    cfg = {"format": "mpii", "root": str(MMPOSE / "mpii"), "train": "test_mpii.json", "val": None, "spec": "mpii"}
    d = dataset_stats(cfg)
    s = d["splits"]["train"]
    assert s["instances"] == 5 and s["images"] == 5 and s["missing_images"] == 0
    assert s["keypoints"] == {"v2": 76, "v1": 0, "v0": 4}


def test_stats_lists_an_image_path_outside_the_data_root(tmp_path):
    from PIL import Image

    root = tmp_path / "root"
    root.mkdir()
    Image.new("RGB", (64, 48)).save(tmp_path / "elsewhere.png")
    kp = [10.0, 10.0, 2] * 17
    images = [{"id": 1, "file_name": "../elsewhere.png", "width": 64, "height": 48}]
    anns = [{"id": 1, "image_id": 1, "keypoints": kp, "bbox": [0, 0, 40, 40], "area": 1600}]
    (root / "train.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1}]}))
    cfg = {"format": "coco", "root": str(root), "train": "train.json", "val": None, "spec": "coco"}
    d = dataset_stats(cfg)
    assert d["splits"]["train"]["instances"] == 0 and "is outside the data root" in d["splits"]["train"]["problems"][0]
    assert dataset_stats({**cfg, "allow_outside_root": True})["splits"]["train"]["instances"] == 1


def test_labelled_keypoints_outside_their_image_are_counted(tmp_path):
    """A box drawn from the points themselves (DeepLabCut, SLEAP) hid a typo such as x = 255 on a 128 px frame:
    0 in 'outside box', and nothing else said so."""
    from PIL import Image

    Image.new("RGB", (128, 96)).save(tmp_path / "a.png")
    kp = [10.0, 10.0, 2] * 13 + [255.0, 20.0, 2, -20.0, 20.0, 1, 120.0, 20.0, 2, 20.0, 110.0, 2]
    anns = [{"id": 1, "image_id": 1, "keypoints": kp, "bbox": [0, 0, 128, 96], "area": 1600}]
    (tmp_path / "t.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "a.png"}], "annotations": anns,
                                                 "categories": [{"id": 1, "name": "person"}]}))
    cfg = {"format": "coco", "root": str(tmp_path), "train": "t.json", "val": None, "spec": "coco"}
    d = dataset_stats(cfg)
    # (255, 20), (-20, 20) and (20, 110) lie outside the 128x96 frame; (120, 20) inside.
    assert d["splits"]["train"]["labelled_outside_image"] == 3 and d["splits"]["train"]["skipped"] == 0
    assert "| outside box | outside image |" in format_stats(d) and "| train | 1 | 1 | 16 | 1 | 0 | 3 | 3 | 0 | 0 |" \
        in format_stats(d)


def test_a_point_inside_the_turned_frame_of_an_exif_turned_image_is_not_counted(tmp_path):
    """The turned frame was assumed for every image, so a PNG with no EXIF block hid (20, 110) on its 128x96 frame
    (12 of 15 such points of a synthetic val split); an image that an EXIF orientation turns keeps the rule, as its
    labels may be in either frame."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (128, 96)).save(tmp_path / "a.jpg", exif=exif)
    kp = [10.0, 10.0, 2] * 15 + [255.0, 20.0, 2, 20.0, 110.0, 2]
    anns = [{"id": 1, "image_id": 1, "keypoints": kp, "bbox": [0, 0, 128, 96], "area": 1600}]
    (tmp_path / "t.json").write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": anns,
                                                 "categories": [{"id": 1, "name": "person"}]}))
    cfg = {"format": "coco", "root": str(tmp_path), "train": "t.json", "val": None, "spec": "coco"}
    assert dataset_stats(cfg)["splits"]["train"]["labelled_outside_image"] == 1  # (255, 20): outside both
