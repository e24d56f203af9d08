"""Val records that ``data.skip_invalid=true`` skips are out of the evaluation, as they are out of the training.

Before: the AP scored the whole val file, so each skipped person counted as missed (perfect predictions of the others
scored AP 0.505), a record the scorer refuses (a keypoint list of another length) stopped the run at its first
evaluation, after the training, and the val split's skips were never printed. ``data stats`` said "no problems
found" for a val file that training then refused (a NaN ``area``, ``num_keypoints`` 0 on a labelled person) and for
empty or non-image files, which stopped a training with ``skip_invalid=true`` mid-epoch."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.data.build import build_dataset
from adaanchor.engine import evaluate as ev
from adaanchor.engine.run import build_system
from adaanchor.errors import DataError
from adaanchor.metrics.results import gt_of_kept, load_coco_gt


def _copy(tiny_bench: Path, tmp_path: Path) -> Path:
    root = tmp_path / "bench"
    shutil.copytree(tiny_bench, root, ignore=shutil.ignore_patterns(".lock"))
    return root


def _edit_val(root: Path, edit) -> None:
    path = root / "val.json"
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _overrides(root: Path, *extra: str) -> list[str]:
    return ["data.format=coco", f"data.root={root}", "data.spec=coco", "model.tiny_width=8", "eval.batch_size=12",
            *extra]


def _break_two_records(root: Path) -> None:
    """The image of val person 1 deleted, person 2's keypoint list cut to 16 keypoints."""
    data = json.loads((root / "val.json").read_text())
    (root / data["images"][0]["file_name"]).unlink()
    _edit_val(root, lambda d: d["annotations"][1].update(keypoints=d["annotations"][1]["keypoints"][:48]))


def test_perfect_predictions_score_ap_1_without_the_skipped_val_records(tiny_bench, tmp_path, perfect_predictions):
    root = _copy(tiny_bench, tmp_path)
    _break_two_records(root)
    cfg = build_config(None, _overrides(root, "data.skip_invalid=true"))
    model, strategy = build_system(cfg)
    ds = build_dataset(cfg.data, "val", verbose=False)
    assert len(ds.instances) == 10
    ev.check_ap_ground_truth(cfg, ev.dataset_people(ds))  # the cut record is skipped, not refused
    m, _ = ev.evaluate_dataset(model, strategy, cfg, ds)
    assert m["ap"] == pytest.approx(1.0)
    # what skip_invalid skips: without it, refused before the training (it was refused after it)
    with pytest.raises(DataError, match=r"val\.json field .keypoints.: annotations have different numbers"):
        ev.check_ap_ground_truth(cfg, ev.dataset_people(ds), kept=False)


def test_training_prints_the_val_skips_and_evaluates_without_them(tiny_bench, tmp_path, capsys):
    root = _copy(tiny_bench, tmp_path)
    _break_two_records(root)
    args = ["train", "demo", *_overrides(root, "data.train=train.json", "data.val=val.json", "data.skip_invalid=true", f"out_dir={tmp_path / 'run'}", "train.max_steps=2",
                                 "train.batch_size=8", "train.eval_every=1", "train.progress=false")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{root / 'val.json'}: skipped 2 record(s):" in out and "1 x image file not found" in out
    assert "val 10 images, 10 instances" in out


def test_gt_of_kept_drops_only_skipped_people_and_names_records_by_their_index_in_the_file():
    def ann(i: int, flags: int = 2, **kw) -> dict:
        return {"id": i, "image_id": 1, "category_id": 1, "keypoints": [5.0, 5.0, flags] * 2, "bbox": [0, 0, 9, 9],
                "area": 50.0, **kw}

    data = {"images": [{"id": 1, "width": 20, "height": 20}], "categories": [{"id": 1}],
            "annotations": [ann(1), ann(2), ann(3, iscrowd=1), ann(4, flags=0), ann(5, area=float("nan")),
                            {"image_id": 1, "keypoints": "bad"}]}
    out = gt_of_kept(data, [1, 5])
    assert [a.get("id") for a in out["annotations"]] == [1, 3, 4, 5, None]  # 2 was skipped; no id: kept, named
    assert gt_of_kept(data, [1, 2, 5]) is data or len(gt_of_kept(data, [1, 2, 5])["annotations"]) == 6
    out["annotations"].pop()
    with pytest.raises(DataError, match=r"val\.json \[record annotations\[4\] id=5\] field 'area'"):
        from adaanchor.metrics.gt_checks import check_gt_areas_given

        check_gt_areas_given(load_coco_gt(out, name="val.json")[0], "val.json")


def test_data_stats_lists_what_the_evaluation_and_the_image_reader_refuse(tiny_bench, tmp_path, capsys):
    root = _copy(tiny_bench, tmp_path)
    _edit_val(root, lambda d: d["annotations"][3].update(num_keypoints=0))
    data = json.loads((root / "val.json").read_text())
    (root / data["images"][5]["file_name"]).write_bytes(b"")
    (root / data["images"][6]["file_name"]).write_text("not an image")
    assert main(["data", "stats", "demo", *_overrides(root, "data.train=train.json", "data.val=val.json")]) == 1
    cap = capsys.readouterr()
    out = cap.out
    # The AP ground truth's refusal is not one that data.skip_invalid passes over.
    assert cap.err.startswith("training stops at ") and "(the ground truth of the evaluation's AP); fix it\n" in cap.err
    assert "no problems found" not in out
    assert "image file is empty (0 bytes)" in out and "cannot read image (UnidentifiedImageError" in out
    assert ("val.json [record annotations[3] id=4] field 'num_keypoints': 0, but 17 keypoints are labelled: the "
            "evaluation would ignore this person (the ground truth of the evaluation's AP)") in out


def test_skip_invalid_skips_empty_and_non_image_files_before_training(tiny_bench, tmp_path):
    root = _copy(tiny_bench, tmp_path)
    train = json.loads((root / "train.json").read_text())
    (root / train["images"][0]["file_name"]).write_bytes(b"")
    (root / train["images"][1]["file_name"]).write_text("text")
    ds = build_dataset(build_config(None, _overrides(root, "data.skip_invalid=true")).data, "train", verbose=False)
    assert len(ds.instances) == len(train["annotations"]) - 2
    for i in range(len(ds)):  # every record left reads
        ds[i]
