"""Keypoint specs from a COCO-format file's categories, and COCO data trained with no config file or spec."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.data.build import data_spec
from adaanchor.data.readers.coco_spec import coco_spec
from adaanchor.data.spec import load_spec as load_builtin
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError
from adaanchor.predict import Predictor

PAWS = ["left_paw", "right_paw", "nose", "tail"]


def _category(cid: int, name: str, names: list[str] = PAWS, skeleton: list | None = None) -> dict:
    return {"id": cid, "name": name, "supercategory": "animal", "keypoints": names,
            "skeleton": [[1, 3], [2, 3], [3, 4]] if skeleton is None else skeleton}


def write_coco(path: Path, categories: list[dict], n_images: int = 0, images_dir: Path | None = None) -> Path:
    """A COCO keypoints file with ``n_images`` 64x48 images (one animal each, written to ``images_dir``)."""
    k = len(categories[0]["keypoints"]) if categories and categories[0].get("keypoints") else 4
    rng = np.random.default_rng(0)
    images, anns = [], []
    for i in range(n_images):
        name = f"{i:06d}.png"
        if images_dir is not None:
            images_dir.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(images_dir / name)
        images.append({"id": i + 1, "file_name": name, "width": 64, "height": 48})
        kp = [v for j in range(k) for v in (10.0 + 8 * (j % 6), 12.0 + 5 * (j % 6), 2)]  # inside the 64x48 image
        anns.append({"id": i + 1, "image_id": i + 1, "category_id": categories[0]["id"] if categories else 1,
                     "keypoints": kp, "num_keypoints": k, "bbox": [5.0, 5.0, 50.0, 38.0], "area": 1900.0,
                     "iscrowd": 0})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": categories}))
    return path


def test_names_skeleton_and_flip_pairs_come_from_the_categories(tmp_path):
    # AP-10K style: many species, one keypoint set.
    path = write_coco(tmp_path / "animals.json", [_category(1, "cat"), _category(2, "dog")])
    spec = coco_spec(path)
    assert spec.keypoints == tuple(PAWS) and spec.name == "animals"
    assert spec.skeleton == ((0, 2), (1, 2), (2, 3))  # 1-based in the file
    assert spec.flip_pairs == ((0, 1),) and spec.sigmas is None
    assert load_spec(str(path)).keypoints == spec.keypoints  # data.spec=FILE.json reads it too
    one = write_coco(tmp_path / "one.json", [_category(1, "cat")])
    assert coco_spec(one).name == "cat"


def test_a_zero_based_skeleton_is_recognised(tmp_path):
    """Animal Kingdom and ATRW write 0-based skeleton indices: index 0 and none above K - 1 means 0-based."""
    path = write_coco(tmp_path / "zero.json", [_category(1, "cat", skeleton=[[0, 2], [1, 2], [2, 3]])])
    assert coco_spec(path).skeleton == ((0, 2), (1, 2), (2, 3))


def test_the_names_of_a_builtin_set_give_that_spec_with_its_sigmas(tmp_path):
    coco = load_builtin("coco")
    path = write_coco(tmp_path / "people.json", [_category(1, "person", list(coco.keypoints), [[16, 14]])])
    spec = coco_spec(path)
    assert spec.name == "coco" and spec.sigmas is not None and spec.upper_body == coco.upper_body


@pytest.mark.parametrize("categories,field,reason", [
    ([{"id": 1, "name": "cat"}], "categories", "no category lists keypoints"),
    ([_category(1, "cat"), _category(2, "dog", ["a", "b"])], "keypoints", "list different keypoints"),
    ([_category(1, "cat", skeleton=[[0, 4]])], "skeleton", "1-based keypoint indices (1..4; or 0-based, 0..3)"),
    ([_category(1, "cat", skeleton=[[1, 5]])], "skeleton", "1-based keypoint indices (1..4; or 0-based, 0..3)"),
    ([_category(1, "cat", skeleton=[[1, -1]])], "skeleton", "got indices from -1 to 1"),
    ([_category(1, "cat", skeleton=[[1, "2"]])], "skeleton", "expected pairs of keypoint indices"),
    ([_category(1, "cat", ["a", "a", "b", "c"])], "keypoints", "appear twice: ['a']"),
    ([_category(1, "cat", ["a", 3, "b", "c"])], "keypoints", "expected a list of keypoint names"),
])
def test_malformed_categories_name_the_file_and_field(tmp_path, categories, field, reason):
    path = write_coco(tmp_path / "bad.json", categories)
    with pytest.raises(DataError, match=re.escape(reason)) as e:
        coco_spec(path)
    assert e.value.field == field and str(path) in str(e.value)


def test_a_file_that_contradicts_its_categories_is_one_error(tmp_path):
    path = write_coco(tmp_path / "c.json", [_category(1, "cat")], n_images=1)
    doc = json.loads(path.read_text())
    doc["annotations"][0]["keypoints"] = [1.0, 2.0, 2] * 17  # COCO's 17 points, the categories' 4 names
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError, match=re.escape("list 4 keypoint names, but its annotations carry 51 numbers, not "
                                                  "12: name the keypoint spec (data.spec=NAME or a spec YAML) "
                                                  "(17 is COCO's: data.spec=coco)")):
        coco_spec(path)


def test_not_a_coco_file(tmp_path):
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="no 'categories' list"):
        coco_spec(tmp_path / "list.json")
    (tmp_path / "broken.json").write_text("{\"categories\": [")
    with pytest.raises(DataError, match="not a readable JSON file"):
        coco_spec(tmp_path / "broken.json")
    with pytest.raises(DataError, match="no such file"):
        coco_spec(tmp_path / "none.json")


def test_an_edited_file_is_read_again(tmp_path):
    path = write_coco(tmp_path / "a.json", [_category(1, "cat")])
    assert coco_spec(path).keypoints == tuple(PAWS)
    write_coco(path, [_category(1, "cat", ["a", "b", "c", "d", "e"], [])])
    assert coco_spec(path).keypoints == ("a", "b", "c", "d", "e")


def _hands(tmp_path: Path) -> Path:
    root = tmp_path / "hands"
    write_coco(root / "annotations" / "train.json", [_category(1, "hand")], 8, root / "images")
    write_coco(root / "annotations" / "val.json", [_category(1, "hand")], 3, root / "images")
    return root


def test_the_custom_config_reads_the_spec_of_coco_data_from_its_training_file(tmp_path, capsys):
    root = _hands(tmp_path)
    common = ["data.format=coco", f"data.root={root}", "data.train=annotations/train.json",
              "data.val=annotations/val.json", "data.images=images"]
    from adaanchor.cli.commands import CUSTOM_CONFIG

    cfg = build_config(CUSTOM_CONFIG, common)
    assert cfg.data.spec == str(root) and data_spec(cfg.data).keypoints == tuple(PAWS)
    assert main(["data", "stats", *common]) == 0
    out = capsys.readouterr().out
    assert f"spec: {root} (hand, 4 keypoints)" in out and "| train | 8 | 8 |" in out and "| val | 3 | 3 |" in out


def test_coco_data_without_its_annotation_files_named_says_so(tmp_path, capsys):
    """The config for your own data names the root as data.train (for DeepLabCut's and SLEAP's sake): COCO data
    there was read as a DeepLabCut project ('no DeepLabCut annotation table'), the fix unnamed."""
    root = _hands(tmp_path)
    assert main(["data", "stats", "data.format=coco", f"data.root={root / 'annotations'}"]) == 2
    err = capsys.readouterr().err
    assert "data.train=. is a folder; data.format=coco reads one COCO-style JSON file per split" in err, err
    assert "(here: train.json, val.json)" in err and "DeepLabCut" not in err


@pytest.mark.slow
def test_train_coco_data_without_a_config_file_or_spec(tmp_path, capsys):
    root = _hands(tmp_path)
    out = tmp_path / "run"
    rc = main(["train", "data.format=coco", f"data.root={root}", "data.train=annotations/train.json",
               "data.val=annotations/val.json", "data.images=images", f"out_dir={out}", "model.backbone=tiny",
               "model.weights=null", "model.tiny_width=8", "data.input_size=[64,48]", "train.max_steps=2",
               "train.batch_size=4", "train.progress=false"])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert "note: data.split.by=random is not applied: data.train and data.val are different files" in err
    # The run keeps the spec it was trained with, and predicts with it when the data is gone.
    spec = yaml.safe_load((out / "spec.yaml").read_text())
    assert spec["keypoints"] == PAWS and spec["skeleton"] == [["left_paw", "nose"], ["right_paw", "nose"], ["nose", "tail"]]
    shutil.rmtree(root)
    p = Predictor.from_run(out, device="cpu")
    assert p.keypoint_names == tuple(PAWS)


@pytest.mark.parametrize("name", ["coco", "crowdpose", "face68", "mpii", "wflw"])
def test_a_spec_written_out_reads_back_as_itself(name):
    """spec_to_dict is what a run directory keeps of a spec derived from data: every field survives."""
    from adaanchor.data.spec import spec_from_dict, spec_to_dict

    spec = load_builtin(name)
    back = spec_from_dict(yaml.safe_load(yaml.safe_dump(spec_to_dict(spec))), source="x")
    for f in ("name", "keypoints", "flip_pairs", "skeleton", "upper_body", "nme", "v1_is_visible"):
        assert getattr(back, f) == getattr(spec, f), f
    assert (back.sigmas is None) == (spec.sigmas is None)
    if spec.sigmas is not None:
        np.testing.assert_array_equal(back.sigmas, spec.sigmas)


_MMPOSE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mmpose-testdata"


@pytest.mark.skipif(not _MMPOSE.is_dir(), reason=f"real samples not available: {_MMPOSE} is absent")
def test_published_files_give_their_keypoint_sets():
    """mmpose's samples of published datasets: AP-10K's 54 species share one animal set; Animal Kingdom writes a
    0-based skeleton; COCO's and CrowdPose's names are the built-in sets, with their OKS sigmas."""
    ap10k = coco_spec(_MMPOSE / "ap10k" / "test_ap10k.json")
    assert ap10k.num_keypoints == 17 and ap10k.keypoints[:3] == ("left_eye", "right_eye", "nose")
    assert (0, 1) in ap10k.flip_pairs and ap10k.sigmas is None and len(ap10k.skeleton) == 17
    ak = coco_spec(_MMPOSE / "ak" / "test_animalkingdom.json")
    assert ak.num_keypoints == 23 and len(ak.skeleton) == 22
    assert coco_spec(_MMPOSE / "coco" / "test_coco.json").name == "coco"
    assert coco_spec(_MMPOSE / "crowdpose" / "test_crowdpose.json").sigmas is not None
    fly = coco_spec(_MMPOSE / "fly" / "test_fly.json")  # eyeL/eyeR, forelegL1/forelegR1: a flip swaps them
    pairs = {tuple(sorted((fly.keypoints[a], fly.keypoints[b]))) for a, b in fly.flip_pairs}
    assert len(pairs) == 14 and ("eyeL", "eyeR") in pairs and ("hindlegL4", "hindlegR4") in pairs
    assert len(coco_spec(_MMPOSE / "locust" / "test_locust.json").flip_pairs) == 15


def test_nan_in_a_file_gives_the_readers_message_naming_the_record(tmp_path):
    """Python's json writes NaN into a file; the streaming parse of the categories refused it (the user read
    ijson's lexical error); the spec is read by json then, and the reader names the record and field."""
    path = write_coco(tmp_path / "a.json", [_category(1, "cat")], n_images=2, images_dir=tmp_path / "images")
    data = json.loads(path.read_text())
    data["annotations"][1]["keypoints"][0] = float("nan")
    data = {"images": data["images"], "annotations": data["annotations"], "categories": data["categories"]}
    path.write_text(json.dumps(data))  # categories after the NaN: the streaming parse meets it first
    assert coco_spec(path).keypoints == tuple(PAWS)
    cfg = build_config(None, ["data.format=coco", f"data.root={tmp_path}", "data.train=a.json", "data.val=a.json",
                              "data.images=images", f"data.spec={path}"])
    from adaanchor.data.build import read_split

    with pytest.raises(DataError, match=r"a.json \[record annotations\[1\] id=2\] field 'keypoints': non-finite"):
        read_split(cfg.data, "train")
    (tmp_path / "b.json").write_text('{"categories": [NaN')
    with pytest.raises(DataError, match=r"b.json: not a readable JSON file \("):
        coco_spec(tmp_path / "b.json")


def test_a_file_whose_categories_order_the_specs_keypoints_otherwise_is_refused(tmp_path):
    """Keypoints are read by position: a COCO file listing COCO's names in another order, read with spec coco (a
    run's own spec, the packaged configs), was read in COCO's order without a word, so the per-keypoint table's
    'nose' row held the right ankles and OKS weighed them with the nose's sigma."""
    from adaanchor.data.readers.formats import FORMATS

    coco = load_builtin("coco")
    names = list(coco.keypoints)
    names[0], names[16] = names[16], names[0]  # right_ankle first, nose last
    path = write_coco(tmp_path / "swapped.json", [_category(1, "person", names, [])], n_images=2, images_dir=tmp_path)
    for skip in (False, True):  # every record would be misread: skip_invalid cannot help
        with pytest.raises(DataError, match=r"swapped\.json \[record categories\[0\]\] field 'keypoints': keypoint 0 "
                           r"is 'right_ankle', keypoint 16 of spec 'coco': the file lists its keypoints in another order"):
            FORMATS["coco"](path, coco, images_dir=tmp_path, skip_invalid=skip)
    ordered = write_coco(tmp_path / "ordered.json", [_category(1, "person", list(coco.keypoints), [])], 2, tmp_path)
    assert len(FORMATS["coco"](ordered, coco, images_dir=tmp_path).instances) == 2
    own = write_coco(tmp_path / "own.json", [_category(1, "person", [f"p{j}" for j in range(17)], [])], 2, tmp_path)
    assert len(FORMATS["coco"](own, coco, images_dir=tmp_path).instances) == 2  # its own words: nothing to compare
