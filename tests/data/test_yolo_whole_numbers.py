"""A YOLO pose dataset's ``kpt_shape`` and ``flip_idx`` are whole numbers: ``int()`` read ``kpt_shape: [5.7, 3]`` and
``["5", "3"]`` as 5 keypoints, and truncated ``flip_idx: [0, 2.6, 1.2, 4, 3]`` and ``[false, 2, true, 4, 3]`` into a
valid permutation. Floats, booleans and strings are refused, naming the dataset YAML and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.readers.yolo import read_yolo
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError

NAMES = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]


def _dataset(root: Path, **cfg: object) -> Path:
    """A 5-keypoint YOLO pose dataset of one image per split; ``cfg`` replaces entries of its data.yaml."""
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        Image.new("RGB", (64, 48)).save(root / "images" / split / f"{split}0.png")
        kp = " ".join(f"{0.2 + 0.1 * j:.2f} 0.50 2" for j in range(5))
        (root / "labels" / split / f"{split}0.txt").write_text(f"0 0.5 0.5 0.8 0.8 {kp}\n")
    data = {"path": ".", "train": "images/train", "val": "images/val", "kpt_shape": [5, 3],
            "flip_idx": [0, 2, 1, 4, 3], "kpt_names": {0: NAMES}, "names": {0: "animal"}, **cfg}
    (root / "data.yaml").write_text(yaml.safe_dump(data))
    return root / "data.yaml"


BAD = [
    ("kpt_shape", [5.7, 3], "expected [K, 2] or [K, 3] (whole numbers, K >= 1), got [5.7, 3]"),
    ("kpt_shape", ["5", "3"], "expected [K, 2] or [K, 3] (whole numbers, K >= 1), got ['5', '3']"),
    ("kpt_shape", [5, 3.0], "expected [K, 2] or [K, 3] (whole numbers, K >= 1), got [5, 3.0]"),
    ("flip_idx", [0, 2.6, 1.2, 4, 3], "expected a self-inverse permutation of 0..4 (whole numbers), got [0, 2.6, 1.2, "
     "4, 3]"),
    ("flip_idx", [False, 2, True, 4, 3], "expected a self-inverse permutation of 0..4 (whole numbers), got [False, 2, "
     "True, 4, 3]"),
    ("flip_idx", ["0", "2", "1", "4", "3"], "expected a self-inverse permutation of 0..4 (whole numbers), got ['0', "
     "'2', '1', '4', '3']"),
]


@pytest.mark.parametrize("key, value, message", BAD, ids=[f"{k}-{v}" for k, v, _ in BAD])
def test_yaml_numbers_that_are_not_whole_numbers_are_refused(tmp_path, capsys, key, value, message):
    yml = _dataset(tmp_path / "ds", **{key: value})
    with pytest.raises(DataError) as e:
        load_spec(tmp_path / "ds")
    assert str(e.value) == f"{yml} field '{key}': {message}"
    if key == "kpt_shape":  # read with a spec given, the reader refuses it too (skip_invalid cannot help)
        with pytest.raises(DataError, match="field 'kpt_shape'"):
            read_yolo(tmp_path / "ds", load_spec("coco"), skip_invalid=True)
    capsys.readouterr()
    assert main(["data", "stats", "data.format=yolo", f"data.root={tmp_path / 'ds'}"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {yml} field '{key}': {message}"


def test_whole_numbers_are_read(tmp_path):
    _dataset(tmp_path / "ds")
    spec = load_spec(tmp_path / "ds")
    assert spec.keypoints == tuple(NAMES) and set(spec.flip_pairs) == {(1, 2), (3, 4)}
    assert len(read_yolo(tmp_path / "ds", spec).instances) == 2


def test_per_class_keypoint_names_that_differ_are_refused(tmp_path):
    """Read under the first class's names: a dog's tail was trained as a cat's nose (data stats: no problems)."""
    from adaanchor.data.readers.yolo import yolo_spec

    other = ["tail", "left_paw", "right_paw", "left_hind", "right_hind"]
    yml = _dataset(tmp_path / "d", kpt_names={0: NAMES, 1: other}, names={0: "cat", 1: "dog"})
    with pytest.raises(DataError, match=r"data.yaml field 'kpt_names': per-class keypoint names differ \(0: \['nose'"):
        yolo_spec(yml)
    same = _dataset(tmp_path / "s", kpt_names={0: NAMES, 1: list(NAMES)}, names={0: "cat", 1: "dog"})
    assert yolo_spec(same).keypoints == tuple(NAMES)
