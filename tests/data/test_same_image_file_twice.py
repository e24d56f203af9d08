"""One image file under two image entries, in two spellings: ``im1.png`` and ``./im1.png`` (or ``a/../im1.png``) on
two image ids passed the readers' and ``adaanchor score``'s duplicate check, which compared the raw strings. They are
compared as normalised paths now, and the annotations of an image entry that is refused are reported in its name
(``its image images[1] was refused (file_name)``, as for a wrong size), not as of an unknown image id. A YOLO label file
that two images take (``train0.png`` and ``train0.jpg``) is refused naming both. The data are built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.readers.yolo import read_yolo
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError

KP = [v for j in range(17) for v in (5.0 + 3 * j, 10.0 + j, 2)]


def _coco(root: Path, second: object) -> Path:
    """Images ``im1.png`` (id 1) and ``second`` (id 2), one person on each."""
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48)).save(root / "im1.png")
    images = [{"id": 1, "file_name": "im1.png", "width": 64, "height": 48},
              {"id": 2, "file_name": second, "width": 64, "height": 48}]
    anns = [{"id": i, "image_id": i, "category_id": 1, "keypoints": KP, "bbox": [2.0, 2.0, 60.0, 40.0], "area": 2400.0,
             "iscrowd": 0} for i in (1, 2)]
    path = root / "train.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}))
    return path


@pytest.mark.parametrize("second, message", [
    ("./im1.png", "image file './im1.png' listed twice (also images[0], as 'im1.png')"),
    ("a/../im1.png", "image file 'a/../im1.png' listed twice (also images[0], as 'im1.png')"),
    ("im1.png", "image file 'im1.png' listed twice (also images[0])"),
    (3, "expected a file name, got 3"),
], ids=["dot-slash", "dot-dot", "same-string", "not-a-name"])
def test_coco_image_file_in_another_spelling_is_listed_twice(tmp_path, second, message):
    path = _coco(tmp_path, second)
    coco = load_spec("coco")
    with pytest.raises(DataError) as e:
        FORMATS["coco"](path, coco)
    assert str(e.value) == f"{path} [record images[1]] field 'file_name': {message}"
    res = FORMATS["coco"](path, coco, skip_invalid=True)
    assert [i.image_id for i in res.instances] == [1]
    # the annotation of the refused image in the image's name (was: field 'image_id': unknown image id 2)
    assert [(e.record, e.field, e.reason) for e in res.skipped] == [
        ("images[1]", "file_name", message),
        ("annotations[1] id=2", "image_id", "its image images[1] was refused (file_name)")]


@pytest.mark.parametrize("second", ["./im1.png", "a/../im1.png"], ids=["dot-slash", "dot-dot"])
def test_score_refuses_ground_truth_naming_one_file_twice(tmp_path, capsys, second):
    gt = _coco(tmp_path, second)
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"image_id": i, "category_id": 1, "keypoints": KP, "score": 1.0} for i in (1, 2)]))
    capsys.readouterr()
    assert main(["score", str(gt), str(results), "--metric", "coco"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {gt} [record images[1]] field 'file_name': image file "
                                               f"'{second}' listed twice (also images[0], as 'im1.png')")


def test_two_yolo_images_taking_one_label_file_are_named(tmp_path):
    """``train0.png`` and ``train0.jpg`` both take ``labels/train/train0.txt`` (Ultralytics' rule): each got its
    instances, no note."""
    root = tmp_path / "ds"
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
    (root / "data.yaml").write_text(yaml.safe_dump({"path": ".", "train": "images/train", "val": "images/val",
                                                    "kpt_shape": [2, 3], "names": {0: "a"}}))
    line = "0 0.5 0.5 0.5 0.5 0.3 0.4 2 0.6 0.5 2\n"
    for name in ("train0.png", "train0.jpg", "train1.png"):
        Image.new("RGB", (64, 48)).save(root / "images" / "train" / name)
        (root / "labels" / "train" / f"{Path(name).stem}.txt").write_text(line)
    spec = load_spec(root)
    split = root / "images" / "train"
    message = ("the label file of 2 images (images/train/train0.jpg, images/train/train0.png): a label is found by "
               "the image's name without its suffix, so each would take these labels; keep one image of each name")
    with pytest.raises(DataError) as e:
        read_yolo(split, spec)
    assert str(e.value) == f"{split} [record labels/train/train0.txt] field 'image': {message}"
    res = read_yolo(split, spec, skip_invalid=True)
    assert [Path(i.image_path).name for i in res.instances] == ["train1.png"]
    assert [e.reason for e in res.skipped] == [message]


def test_a_dlc_image_on_two_rows_in_two_spellings_is_refused(tmp_path):
    """A DeepLabCut row naming ``labeled-data/vid/./img0.png`` finds the file of ``labeled-data/vid/img0.png``: one
    image labelled on two rows, refused as when both rows spell it alike."""
    import csv

    from adaanchor.data.readers.dlc import read_dlc

    folder = tmp_path / "proj" / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    (tmp_path / "proj" / "config.yaml").write_text("Task: t\nscorer: lab\nbodyparts: [nose, tail]\nskeleton: []\n")
    rows = [["scorer", "lab", "lab", "lab", "lab"], ["bodyparts", "nose", "nose", "tail", "tail"],
            ["coords", "x", "y", "x", "y"]]
    for i, image in enumerate(["img0.png", "./img0.png", "img1.png"]):
        Image.new("RGB", (64, 48)).save(folder / image)
        rows.append([f"labeled-data/vid/{image}", f"{10 + i}", "12", "30", "40"])
    table = folder / "CollectedData_lab.csv"
    with table.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    with pytest.raises(DataError) as e:
        read_dlc(tmp_path / "proj", load_spec(tmp_path / "proj"))
    assert str(e.value) == (f"{table} [record line 5 (labeled-data/vid/./img0.png)] field 'image': the image is "
                            "labelled on two rows (lines 4 and 5): one row per image, the animals of a multi-animal "
                            "project in its columns")
