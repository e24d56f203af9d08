"""``data.images`` with ``data.root`` naming the annotation file itself: the folder is relative to the file's
folder (it was joined onto the file's path, ``birds/ann.json/images``, and every image was missing)."""

from __future__ import annotations

import json
import shutil

from adaanchor.cli import main
from adaanchor.data.paths import images_dir


def test_images_relative_to_the_folder_of_a_file_root(tiny_bench, tmp_path, capsys):
    birds = tmp_path / "birds"
    (birds / "pics").mkdir(parents=True)
    data = json.loads((tiny_bench / "val.json").read_text())
    for im in data["images"]:
        shutil.copy(tiny_bench / im["file_name"], birds / "pics" / im["file_name"].rsplit("/", 1)[-1])
        im["file_name"] = im["file_name"].rsplit("/", 1)[-1]
    (birds / "ann.json").write_text(json.dumps(data))
    cfg = {"root": str(birds / "ann.json"), "images": "pics"}
    assert images_dir(cfg, "train") == birds / "pics"
    assert images_dir({"root": str(birds), "images": "pics"}, "val") == birds / "pics"  # a folder root: as before
    capsys.readouterr()
    argv = ["data", "stats", "data.format=coco", f"data.root={birds / 'ann.json'}", "data.spec=coco"]
    assert main([*argv, "data.images=pics"]) == 0
    out = capsys.readouterr().out
    assert "no problems found" in out and "image file not found" not in out
    assert main(argv) == 1  # the file's own folder holds no image: listed, and training would stop there
    cap = capsys.readouterr()
    assert f"{birds / data['images'][0]['file_name']}: image file not found" in cap.out
    assert "training stops at the train split: " in cap.err
    # ... with a hint: the images are in a subfolder of the annotation file's folder.
    assert f"image file not found (a file of that name is in {birds / 'pics'}: set data.images to that folder)" in cap.err
    assert main(["train", *argv[2:], "model.backbone=tiny", "model.weights=null", "train.max_steps=1",
                 f"out_dir={tmp_path / 'run'}"]) == 2
    assert f"(a file of that name is in {birds / 'pics'}: set data.images to that folder)" in capsys.readouterr().err
