"""``RUN/split.json``: the split of one annotation file a run trained with (``data.split``), written by a new
training and checked by every later read. ``data.split`` is drawn from the images there are: one frame added to a
DeepLabCut project moved half the val images of a run into training, and ``eval RUN`` scored them without a word,
``resume=auto`` trained on the run's val images."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.data.build import build_dataset
from adaanchor.engine.split_record import SPLIT_NAME
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError

PARTS = ["snout", "leftear", "rightear", "tailbase"]
W, H = 64, 48


def add_frames(root: Path, video: str, first: int, n: int) -> None:
    """Label ``n`` more frames (``imgFIRST.png`` on) of ``video`` in a DeepLabCut project (made when absent)."""
    if not (root / "config.yaml").is_file():
        root.mkdir(parents=True, exist_ok=True)
        (root / "config.yaml").write_text(yaml.safe_dump({"Task": "mouse", "scorer": "lab", "bodyparts": PARTS,
                                                         "skeleton": [["snout", "leftear"]]}))
    folder = root / "labeled-data" / video
    folder.mkdir(parents=True, exist_ok=True)
    table = folder / "CollectedData_lab.csv"
    rows = [] if table.is_file() else [["scorer", "", "", *["lab"] * 2 * len(PARTS)],
                                       ["bodyparts", "", "", *[p for p in PARTS for _ in "xy"]],
                                       ["coords", "", "", *["x", "y"] * len(PARTS)]]
    rng = np.random.default_rng(first + 100 * len(video))
    for i in range(first, first + n):
        name = f"img{i:03d}.png"
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(folder / name)
        xy = [f"{v:.2f}" for _ in PARTS for v in (rng.uniform(5, W - 5), rng.uniform(5, H - 5))]
        rows.append(["labeled-data", video, name, *xy])
    with table.open("a", newline="") as f:
        csv.writer(f).writerows(rows)


def _over(root: Path, out: Path) -> list[str]:
    return [f"data.root={root}", f"out_dir={out}", "data.input_size=[48,64]", "data.cache_images=false",
            "model.backbone=tiny", "model.weights=null", "model.tiny_width=8", "train.batch_size=4",
            "train.progress=false", "train.max_steps=2", "train.eval_every=0", "eval.batch_size=8"]


@pytest.fixture
def trained(tmp_path) -> tuple[Path, Path]:
    """A DeepLabCut project of 40 frames and a 2-step run of the custom config on it (random split, 8 val)."""
    root = tmp_path / "proj"
    add_frames(root, "vidA", 0, 20)
    add_frames(root, "vidB", 0, 20)
    assert main(["train", "custom", *_over(root, tmp_path / "run")]) == 0
    return root, tmp_path / "run"


def test_a_training_of_a_split_file_writes_its_split(trained):
    root, run = trained
    rec = json.loads((run / SPLIT_NAME).read_text())
    assert rec["split"] == {"by": "random", "val_fraction": 0.2, "seed": 0, "dev_fraction": 0.0}
    assert rec["counts"] == {"train": 32, "val": 8} and len(rec["train"]) == 32 and len(rec["val"]) == 8
    assert rec["train"] == sorted(rec["train"]) and not set(rec["train"]) & set(rec["val"])
    assert all(p.startswith("labeled-data/vid") for p in rec["train"] + rec["val"])  # relative to data.root
    cfg = build_config(run / "config.yaml")
    val = {str(Path(i.image_path).relative_to(root)) for i in build_dataset(cfg.data, "val", verbose=False).instances}
    assert val == set(rec["val"])


def test_eval_after_a_frame_is_added_scores_the_recorded_val_and_says_so(trained, capsys):
    root, run = trained
    recorded = set(json.loads((run / SPLIT_NAME).read_text())["val"])
    add_frames(root, "vidA", 20, 1)  # one more labelled frame: the split drawn now moves images across
    cfg = build_config(run / "config.yaml")
    drawn = {str(Path(i.image_path).relative_to(root)) for i in build_dataset(cfg.data, "val", verbose=False).instances}
    assert drawn != recorded  # the defect's premise: the drawn val holds training images of the run
    capsys.readouterr()
    out_json = run.parent / "m.json"
    assert main(["eval", str(run), "--json", str(out_json)]) == 0
    out, err = capsys.readouterr()
    notes = [ln for ln in err.splitlines() if "differs from the one this run trained with" in ln]
    assert len(notes) == 1 and notes[0].startswith("note:") and "8 recorded val images" in notes[0], out + err
    rec = json.loads((run / SPLIT_NAME).read_text())
    left_train = len(drawn & set(rec["train"]))
    assert f"{left_train} that were training images" in notes[0] and "0 recorded val images are gone" in notes[0]
    # the evaluation's images: the recorded val (8 frames; the instances are counted in the metrics)
    from adaanchor.engine.split_record import recorded_val

    with recorded_val(run):
        evaluated = {str(Path(i.image_path).relative_to(root)) for i in build_dataset(cfg.data, "val",
                                                                                         verbose=False).instances}
    assert evaluated == recorded


def test_eval_when_recorded_val_images_are_gone_counts_them_and_never_scores_training_images(trained, capsys):
    root, run = trained
    rec = json.loads((run / SPLIT_NAME).read_text())
    gone = sorted(rec["val"])[0]
    table = root / "labeled-data" / gone.split("/")[1] / "CollectedData_lab.csv"
    rows = [r for r in csv.reader(table.open()) if r[2:3] != [gone.split("/")[2]]]
    with table.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    from adaanchor.engine.split_record import recorded_val

    cfg = build_config(run / "config.yaml")
    with recorded_val(run):
        evaluated = {str(Path(i.image_path).relative_to(root)) for i in build_dataset(cfg.data, "val",
                                                                                         verbose=False).instances}
    assert evaluated == set(rec["val"]) - {gone} and not evaluated & set(rec["train"])
    assert "1 recorded val images are gone" in capsys.readouterr().err


def test_resume_after_a_frame_is_added_is_refused_with_the_counts(trained, capsys):
    root, run = trained
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir())
    before = (run / SPLIT_NAME).read_bytes()
    add_frames(root, "vidA", 20, 1)
    capsys.readouterr()
    assert main(["train", "custom", *_over(root, run), "train.max_steps=4", "resume=auto"]) != 0
    err = capsys.readouterr().err
    line = [ln for ln in err.splitlines() if "cannot resume" in ln]
    assert len(line) == 1 and "split.json" in line[0] and "Keep the data as it was" in line[0], err
    assert "recorded val images would be training images" in line[0] and "start a new run" in line[0]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ckpts and (run / SPLIT_NAME).read_bytes() == before
    # the same options by hand name them
    with pytest.raises(AdaAnchorError, match=r"data\.split\.seed=0"):
        train(build_config("custom", [*_over(root, run), "train.max_steps=4", "resume=auto", "data.split.seed=5"]))
    with pytest.raises(AdaAnchorError, match=r"the data is not split so now.*data\.split\.by=random"):
        train(build_config("custom", [*_over(root, run), "train.max_steps=4", "resume=auto", "data.split.by=null"]))


def test_resume_with_the_data_unchanged_continues(trained):
    root, run = trained
    before = json.loads((run / SPLIT_NAME).read_text())
    assert main(["train", "custom", *_over(root, run), "train.max_steps=4", "resume=auto"]) == 0
    assert json.loads((run / SPLIT_NAME).read_text())["val"] == before["val"]


def test_a_run_without_split_json_reads_the_data_as_before(trained, capsys):
    root, run = trained
    (run / SPLIT_NAME).unlink()
    add_frames(root, "vidA", 20, 1)
    capsys.readouterr()
    assert main(["eval", str(run)]) == 0
    out, err = capsys.readouterr()
    assert "trained with" not in out + err
    assert main(["train", "custom", *_over(root, run), "train.max_steps=4", "resume=auto"]) == 0
    assert not (run / SPLIT_NAME).exists()  # the split it trained with is unknown: none is made up


def test_a_dataset_with_its_own_val_file_writes_no_split(tiny_overrides, tmp_path):
    over = [*tiny_overrides, "train.max_steps=1", "train.eval_every=0"]
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / SPLIT_NAME).write_text("{}")  # an earlier run's, in an out_dir started over
    train(build_config(None, [*over, "overwrite=true"]))
    assert not (tmp_path / "run" / SPLIT_NAME).exists()


def test_identity_split_warns_once_when_an_identity_spans_folders(tmp_path, capsys):
    root = tmp_path / "proj"
    add_frames(root, "vidA", 0, 6)
    add_frames(root, "vidB", 0, 6)
    cfg = build_config("custom", [f"data.root={root}", "data.split.by=identity", "data.cache_images=false"])
    from adaanchor.data import splits

    splits._SAID.clear()
    sides = [build_dataset(cfg.data, s, verbose=False).instances for s in ("train", "val")]
    err = capsys.readouterr().err
    warned = [ln for ln in err.splitlines() if "data.split.by=identity" in ln]
    assert len(warned) == 1 and warned[0].startswith("warning:") and "6 of 6 identities" in warned[0], err
    assert "several folders" in warned[0]
    for side in sides:  # each video has frames on both sides: what the warning says
        assert {Path(i.image_path).parent.name for i in side} == {"vidA", "vidB"}
