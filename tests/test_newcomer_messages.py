"""What a newcomer following the docs ran into: a data folder named like a built-in spec (``coco``) in the working
directory broke ``train`` (its config recorded the folder as the spec), a typo in ``data.root`` was reported as an
unknown keypoint spec, ``train custom`` without ``data.root`` read the demo's benchmark folder as a DeepLabCut
project, a one-file split printed its skipped records twice, a range error said "a finite number a finite number",
and a generated benchmark's option error gave no valid range."""

from __future__ import annotations

import json
import shutil

import pytest

from adaanchor.bench.synth import resolve_config
from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.engine.run import build_split
from adaanchor.engine.rundir import absolute_paths
from adaanchor.errors import AdaAnchorError


def test_a_folder_named_like_a_built_in_spec_does_not_become_the_spec(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "coco").mkdir()
    cfg = build_config("demo", ["data.spec=coco"])
    assert absolute_paths(cfg).data.spec == "coco"
    mine = tmp_path / "mine.yaml"
    mine.write_text("keypoints: [a, b]\n")
    assert absolute_paths(build_config("demo", ["data.spec=mine.yaml"])).data.spec == str(mine)  # a file: absolute


def test_a_data_root_that_does_not_exist_is_named_as_the_data_root(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "data.format=dlc", "data.root=mouse-prj", "out_dir=runs/x"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {tmp_path / 'mouse-prj'}: no such file or folder (data.root; "
                                               "the keypoint names are read from the data there)")
    assert main(["data", "stats", "data.format=coco", "data.root=hand", "data.train=a.json", "data.val=b.json"]) == 2
    assert "hand: no such file or folder (data.root;" in capsys.readouterr().err


@pytest.mark.parametrize("config", ["custom", "custom.yaml"])
def test_the_config_for_your_own_data_asks_for_data_root(config, capsys):
    assert main(["train", config]) == 2
    assert capsys.readouterr().err.startswith("error: the config for your own data needs data.root=PATH")


def test_a_one_file_split_lists_its_skipped_records_once(tiny_bench, tmp_path, capsys):
    root = tmp_path / "bench"
    shutil.copytree(tiny_bench, root, ignore=shutil.ignore_patterns(".lock"))
    data = json.loads((root / "val.json").read_text())
    data["annotations"][0]["keypoints"] = [0.0] * 51  # nobody labelled: skipped (not a training target)
    data["annotations"][0]["num_keypoints"] = 0
    (root / "val.json").write_text(json.dumps(data))
    cfg = build_config("demo", ["data.format=coco", f"data.root={root}", "data.train=val.json", "data.val=val.json",
                                "data.split.by=random", "data.split.val_fraction=0.5"])
    for split in ("train", "val"):
        build_split(cfg, split, 4)
    assert capsys.readouterr().out.count("skipped 1 record(s)") == 1


def test_a_range_error_says_finite_once():
    with pytest.raises(AdaAnchorError, match=r"^config key 'data.det_score_thr': the value must be a finite number, "
                                             r"got nan$"):
        build_config("demo", ["data.det_score_thr=.nan"])
    with pytest.raises(AdaAnchorError, match=r"^config key 'data.aug.flip': the value must be a finite number in "
                                             r"\[0, 1\], got nan$"):
        build_config("demo", ["data.aug.flip=.nan"])


@pytest.mark.parametrize("key,value,valid", [("width", 8, "a whole number >= 16"),
                                             ("occluders", [4, 0], "[min, max] whole numbers, 0 <= min <= max <= 200"),
                                             ("truncation", 2.0, "a number in [0, 1]"),
                                             ("n_train", -1, "a whole number >= 0")])
def test_a_synth_option_error_says_what_is_valid(key, value, valid):
    with pytest.raises(AdaAnchorError) as e:
        resolve_config({key: value})
    assert f"synth option '{key}': invalid value {value!r}: expected {valid} (default" in str(e.value)


def test_viz_names_a_missing_video_as_a_video_and_takes_a_folder_with_an_equals_sign(tmp_path, monkeypatch):
    from adaanchor.viz_inputs import expand_viz_inputs, split_image_args

    with pytest.raises(AdaAnchorError, match=r"vidZ\.mp4: video file not found$"):
        expand_viz_inputs([str(tmp_path / "vidZ.mp4")])
    with pytest.raises(AdaAnchorError, match=r"nope\.png: image file not found$"):
        expand_viz_inputs([str(tmp_path / "nope.png")])
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dir=x").mkdir()
    images, ckpt, overrides = split_image_args(["dir=x", "eval.flip_test=true", "ckpt=a.pt"])
    assert images == ["dir=x"] and overrides == ["eval.flip_test=true"] and ckpt == "a.pt"  # was an override


def test_a_value_out_of_range_in_a_config_file_names_the_file(tmp_path):
    """Unknown keys named the file; a value out of range or of the wrong type did not."""
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("data:\n  aug: {flip: 2}\neval:\n  pck: [abc]\n")
    with pytest.raises(AdaAnchorError, match=r"^.*mine\.yaml: config key 'data.aug.flip': the value must be in \[0, 1\], "
                                             r"got 2$"):
        build_config(cfg, ["eval.pck=[0.1]"])
    with pytest.raises(AdaAnchorError, match=r"^.*mine\.yaml: config key 'eval.pck'"):
        build_config(cfg, ["data.aug.flip=0.5"])
    with pytest.raises(AdaAnchorError, match=r"^config key 'data.aug.flip': the value must be in \[0, 1\], got 3$"):
        build_config(cfg, ["data.aug.flip=3", "eval.pck=[0.1]"])  # the override set it: no file to name
