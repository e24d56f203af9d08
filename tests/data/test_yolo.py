"""Ultralytics YOLO pose datasets (``data.format=yolo``): the spec from ``data.yaml``, coordinates and visibility
as written (occluded keypoints kept), splits, errors naming file, line and field, and training without a config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.readers.yolo import label_path, read_yolo
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError

NAMES = ["nose", "left_eye", "right_eye", "left_ear", "right_ear"]
SIZE = {"train": (64, 48), "val": (80, 60)}  # (W, H): the two splits differ, so the scaling is checked


def _label(rng: np.random.Generator, k: int = 5, v3: bool = True) -> tuple[str, np.ndarray, np.ndarray]:
    """One label line, its normalised points (K, 2) and visibilities (2, 1, 2, 0, 2, 2, 1, ...)."""
    pts = rng.uniform(0.2, 0.8, size=(k, 2))
    vis = np.resize(np.array([2, 1, 2, 0, 2]), k)
    pts[vis == 0] = 0.0
    kp = " ".join(f"{x:.6f} {y:.6f}" + (f" {v}" if v3 else "") for (x, y), v in zip(pts, vis))
    return f"0 0.5 0.5 0.8 0.9 {kp}", pts, vis


#: flip_idx of the 5-point animal and of Ultralytics' coco-pose.yaml.
FLIPS = {5: [0, 2, 1, 4, 3], 17: [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]}


def make_yolo(root: Path, n: dict[str, int] | None = None, names: bool = True, k: int = 5,
              split_first: bool = False) -> dict[str, list]:
    """A YOLO pose dataset of ``n`` images per split (``images/train`` and ``labels/train``, Ultralytics' layout;
    ``split_first``: ``train/images`` and ``train/labels``); returns the written (image, points, visibility)."""
    n = n or {"train": 4, "val": 2}
    rng = np.random.default_rng(0)

    def folder(kind: str, split: str) -> Path:
        return root / split / kind if split_first else root / kind / split

    cfg = {"path": ".", "train": str(folder("images", "train").relative_to(root)),
           "val": str(folder("images", "val").relative_to(root)), "kpt_shape": [k, 3],
           "flip_idx": FLIPS.get(k, list(range(k))), "names": {0: "animal"}}
    if names:
        cfg["kpt_names"] = {0: NAMES}
    root.mkdir(parents=True, exist_ok=True)
    (root / "data.yaml").write_text(yaml.safe_dump(cfg))
    written: dict[str, list] = {}
    for split, count in n.items():
        folder("images", split).mkdir(parents=True, exist_ok=True)
        folder("labels", split).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            img = folder("images", split) / f"{split}{i}.png"
            Image.new("RGB", SIZE[split], (i * 20, 90, 40)).save(img)
            line, pts, vis = _label(rng, k)
            (folder("labels", split) / f"{split}{i}.txt").write_text(line + "\n")
            written.setdefault(split, []).append((img, pts, vis))
    return written


def test_spec_comes_from_the_dataset_yaml(tmp_path):
    make_yolo(tmp_path / "ds")
    for where in ("ds", "ds/data.yaml", "ds/images/train"):
        spec = load_spec(tmp_path / where)
        assert spec.keypoints == tuple(NAMES) and spec.name == "data"
        assert set(spec.flip_pairs) == {(1, 2), (3, 4)}


def test_points_and_visibility_as_written(tmp_path):
    written = make_yolo(tmp_path / "ds")
    spec = load_spec(tmp_path / "ds")
    res = read_yolo(tmp_path / "ds" / "images" / "val", spec)
    assert [Path(i.image_path).name for i in res.instances] == ["val0.png", "val1.png"]
    for inst, (img, pts, vis) in zip(res.instances, written["val"]):
        assert inst.image_path == str(img)
        w, h = SIZE["val"]
        assert inst.visibility.tolist() == vis.tolist()  # the occluded keypoint (v=1) stays occluded
        lab = vis > 0
        assert np.allclose(inst.keypoints[lab], pts[lab] * [w, h], atol=1e-4)  # x * W, as the COCO numbers
        assert np.all(inst.keypoints[~lab] == 0)
        assert np.allclose(inst.bbox, [0.1 * w, 0.05 * h, 0.8 * w, 0.9 * h])
    whole = read_yolo(tmp_path / "ds", spec)  # the dataset: every image of train and val
    assert len(whole.instances) == 6 and len({i.image_id for i in whole.instances}) == 6
    # Image ids as docs/datasets.md gives them for every format: order of first appearance from 0 (here), or the
    # number in the file name when every name is one (started at 1 here alone).
    assert [i.image_id for i in whole.instances] == list(range(6))
    for i, (img, _, _) in enumerate(written["val"]):
        img.rename(img.with_name(f"{100 + i:012d}.png"))
        (img.parent.parent.parent / "labels" / "val" / f"val{i}.txt").rename(
            img.parent.parent.parent / "labels" / "val" / f"{100 + i:012d}.txt")
    assert [i.image_id for i in read_yolo(tmp_path / "ds" / "images" / "val", spec).instances] == [100, 101]


def test_sleap_io_would_lose_the_occluded_keypoints(tmp_path):
    """Why the reader is its own. sleap-io's Ultralytics reader (0.9.5) reads the same coordinates but marks the
    occluded keypoints (v=1) visible, and with Ultralytics' own layout (``train: images/train``) it looks for the
    labels in the image folder and returns no instance at all, without a word."""
    import sleap_io as sio

    make_yolo(tmp_path / "std")
    assert sum(len(lf.instances) for lf in sio.load_ultralytics(str(tmp_path / "std"), split="train")) == 0
    assert len(read_yolo(tmp_path / "std" / "images" / "train", load_spec(tmp_path / "std")).instances) == 4

    written = make_yolo(tmp_path / "ds", split_first=True)  # train/images, train/labels: sleap-io finds these
    labels = sio.load_ultralytics(str(tmp_path / "ds"), split="train")
    ours = read_yolo(tmp_path / "ds" / "train" / "images", load_spec(tmp_path / "ds")).instances
    for lf in labels.labeled_frames:
        name = Path(str(lf.video.filename).strip("[]'")).name
        i = [p.name for p, _, _ in written["train"]].index(name)
        _, ref, vis = written["train"][i]
        pts = lf.instances[0].numpy()
        assert np.allclose(pts[vis > 0], ours[i].keypoints[vis > 0], atol=1e-3)  # the same coordinates
        assert ours[i].visibility.tolist() == vis.tolist() and vis[1] == 1  # ours: occluded, as labelled
        assert lf.instances[0].points["visible"][1]  # sleap-io: visible


def test_seventeen_keypoints_without_names_are_cocos(tmp_path):
    make_yolo(tmp_path / "ds", names=False, k=17, n={"train": 0})
    spec = load_spec(tmp_path / "ds")
    assert spec.keypoints == load_spec("coco").keypoints and spec.sigmas is not None and spec.skeleton


@pytest.mark.parametrize("flip", [list(range(17)), [16 - i for i in range(17)][:8] + [8] + [16 - i for i in range(9, 17)]])
def test_seventeen_keypoints_whose_flip_idx_is_not_cocos_are_not_coco(tmp_path, flip):
    """Seventeen unnamed keypoints were COCO's whatever the dataset's flip_idx said, and the flip augmentation then
    swapped points the dataset says do not swap (or left alone those it says do)."""
    make_yolo(tmp_path / "ds", names=False, k=17, n={"train": 0})
    cfg = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    (tmp_path / "ds" / "data.yaml").write_text(yaml.safe_dump({**cfg, "flip_idx": flip}))
    spec = load_spec(tmp_path / "ds")
    assert spec.keypoints == tuple(f"kp{i}" for i in range(17)) and not spec.skeleton
    assert sorted(spec.flip_pairs) == sorted((i, j) for i, j in enumerate(flip) if i < j)


def test_bad_lines_name_file_line_and_field(tmp_path):
    make_yolo(tmp_path / "ds", n={"train": 1})
    spec = load_spec(tmp_path / "ds")
    lbl = tmp_path / "ds" / "labels" / "train" / "train0.txt"
    good = lbl.read_text().strip()
    cases = [("0 0.5 0.5 0.8 0.9 0.1 0.2", r"train0.txt line 2\] field 'keypoints': expected 20 numbers"),
             ("0 0.5 0.5 0.8 0.9" + " 1.5 0.5 2" * 5, r"line 2\] field 'keypoints': coordinates must be"),
             ("0 0.5 0.5 1.8 0.9" + " 0.5 0.5 2" * 5, r"line 2\] field 'box': coordinates must be"),
             ("0 0.5 nan 0.8 0.9" + " 0.5 0.5 2" * 5, r"line 2\] field 'box': coordinates must be"),
             ("0 0.5 0.5 0.8 0.9" + " 0.5 0.5 3" * 5, r"line 2\] field 'keypoints': visibility must be 0, 1 or 2"),
             ("0 a 0.5 0.8 0.9" + " 0.5 0.5 2" * 5, r"line 2\] field 'line': not numbers")]
    for bad, msg in cases:
        lbl.write_text(good + "\n" + bad + "\n")
        with pytest.raises(DataError, match=msg):
            read_yolo(tmp_path / "ds" / "images" / "train", spec)
        res = read_yolo(tmp_path / "ds" / "images" / "train", spec, skip_invalid=True)
        assert len(res.instances) == 1 and len(res.skipped) == 1
    (tmp_path / "ds" / "data.yaml").write_text(yaml.safe_dump({"kpt_shape": [5, 3], "flip_idx": [1, 0, 2, 3, 3]}))
    with pytest.raises(DataError, match="field 'flip_idx': expected a self-inverse permutation"):
        load_spec(tmp_path / "ds")
    with pytest.raises(DataError, match="kpt_shape has 5 keypoints, spec 'coco' 17"):
        read_yolo(tmp_path / "ds", load_spec("coco"))


@pytest.mark.parametrize("cls, message", [
    ("7", "class 7 is not among the 1 class(es) of data.yaml: 0"),
    ("-1", "expected a class id (a whole number, 0 or more), got -1"),
    ("0.5", "expected a class id (a whole number, 0 or more), got 0.5"),
], ids=["7", "-1", "0.5"])
def test_class_ids_must_be_classes_of_the_yaml(tmp_path, cls, message):
    """The first number of a label line is a class of data.yaml's names: 7 (one class named), -1 and 0.5 were read
    as instances without a word."""
    make_yolo(tmp_path / "ds", n={"train": 1})
    spec = load_spec(tmp_path / "ds")
    lbl = tmp_path / "ds" / "labels" / "train" / "train0.txt"
    good = lbl.read_text().strip()
    lbl.write_text(good + "\n" + cls + good[1:] + "\n")
    split = tmp_path / "ds" / "images" / "train"
    with pytest.raises(DataError) as e:
        read_yolo(split, spec)
    assert str(e.value) == f"{split} [record labels/train/train0.txt line 2] field 'class': {message}"
    res = read_yolo(split, spec, skip_invalid=True)
    assert len(res.instances) == 1 and [x.reason for x in res.skipped] == [message]
    cfg = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    (tmp_path / "ds" / "data.yaml").write_text(yaml.safe_dump({**cfg, "names": [f"c{i}" for i in range(8)]}))
    assert len(read_yolo(split, spec, skip_invalid=True).instances) == (2 if cls == "7" else 1)  # 8 classes: 7 is one


def test_a_yaml_without_kpt_shape_is_named_with_the_key(tmp_path, capsys):
    """A dataset YAML without kpt_shape (a detection dataset, or the key left out) gave the DeepLabCut reader's
    'no DeepLabCut annotation table (CollectedData*.csv ...)', as the folder was then taken for a DeepLabCut one."""
    make_yolo(tmp_path / "ds", n={"train": 1})
    yml = tmp_path / "ds" / "data.yaml"
    cfg = yaml.safe_load(yml.read_text())
    yml.write_text(yaml.safe_dump({k: v for k, v in cfg.items() if k not in ("kpt_shape", "flip_idx", "kpt_names")}))
    message = (f"{yml} field 'kpt_shape': missing: a YOLO pose dataset's YAML gives kpt_shape: [K, 2] or [K, 3] "
               "(K keypoints of x, y or x, y, visibility); without it this is a detection dataset")
    for where in (tmp_path / "ds", yml):
        with pytest.raises(DataError) as e:
            load_spec(where)
        assert str(e.value) == message
        assert main(["data", "stats", "data.format=yolo", f"data.root={where}"]) == 2
        assert capsys.readouterr().err.strip() == f"error: {message}"
    with pytest.raises(DataError) as e:
        read_yolo(tmp_path / "ds", load_spec("coco"))
    assert str(e.value) == message


def test_label_path_is_ultralytics_rule():
    assert label_path(Path("/d/images/train/a.jpg")) == Path("/d/labels/train/a.txt")
    assert label_path(Path("/images/d/images/x/b.png")) == Path("/images/d/labels/x/b.txt")  # the last one
    assert label_path(Path("/d/pics/c.png")) == Path("/d/pics/c.txt")


def test_train_a_yolo_dataset_without_a_config_file(tmp_path, capsys):
    """The packaged custom config reads the whole dataset: its own train/val split is used as it is (the random
    data.split does not apply); a split folder given by hand reads as well; a yaml without a val split is
    split at random."""
    make_yolo(tmp_path / "ds", n={"train": 6, "val": 2})
    common = ["data.format=yolo", f"data.root={tmp_path / 'ds'}"]
    assert main(["data", "stats", *common]) == 0
    out = capsys.readouterr().out
    assert "split: the dataset's own: train" in out and "(data.split does not apply)" in out
    assert "| train | 6 | 6 |" in out and "| val | 2 | 2 |" in out
    assert main(["data", "stats", *common, "data.train=images/train", "data.val=images/val", "data.split.by=null"]) == 0
    out = capsys.readouterr().out
    assert "| train | 6 | 6 |" in out and "| val | 2 | 2 |" in out
    cfg = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    one = tmp_path / "one"
    one.mkdir()
    (one / "data.yaml").write_text(yaml.safe_dump({**cfg, "path": str(tmp_path / "ds"), "val": None}))
    assert main(["data", "stats", "data.format=yolo", f"data.root={one}"]) == 0
    out = capsys.readouterr().out
    assert "split: random, val_fraction 0.2, seed 0 (one file" in out
    assert "| train | 5 | 5 |" in out and "| val | 1 | 1 |" in out
    assert main(["train", *common, f"out_dir={tmp_path / 'run'}", "model.backbone=tiny", "model.weights=null",
                 "model.tiny_width=8", "data.input_size=[64,64]", "train.max_steps=2", "train.batch_size=2",
                 "train.progress=false", "train.eval_every=0"]) == 0
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    # The run's spec.yaml is the spec read from data.yaml, not a copy of data.yaml (refused as a spec before).
    from adaanchor.predict import Predictor

    own = yaml.safe_load((tmp_path / "run" / "spec.yaml").read_text())
    assert "kpt_shape" not in own and list(Predictor.from_run(tmp_path / "run", device="cpu").keypoint_names) == own["keypoints"]


def test_one_split_named_by_hand_leaves_the_other_the_datasets_own(tmp_path, capsys):
    """docs/deeplabcut.md: data.train=images/train reads that split. With the config for your own data, data.val
    stays the whole dataset (.), which read the training images too (16 val images for 12 + 4 here), so the run
    was evaluated on the images it trained on, without a word: that val is now the yaml's own val, and a whole
    dataset whose yaml names no such split, beside a part of it, is an error naming both keys."""
    from adaanchor.data.build import annotation_path
    from adaanchor.errors import AdaAnchorError

    make_yolo(tmp_path / "ds", n={"train": 12, "val": 4})
    common = ["data.format=yolo", f"data.root={tmp_path / 'ds'}"]
    assert main(["data", "stats", *common, "data.train=images/train"]) == 0
    out = capsys.readouterr().out
    assert "| train | 12 | 12 |" in out and "| val | 4 | 4 |" in out, out
    # The split line says which is which (it said nothing when one part was named by hand).
    own_val = tmp_path / "ds" / "images" / "val"
    assert f"split: the dataset's own: train images/train as given, val {own_val}" in out, out
    assert main(["data", "stats", *common, "data.val=images/val"]) == 0
    out = capsys.readouterr().out
    assert "| train | 12 | 12 |" in out and "| val | 4 | 4 |" in out, out
    assert "val images/val as given (data.split does not apply)" in out, out
    from adaanchor.data.build import data_spec, read_split
    from adaanchor.data.data_config import DATA_DEFAULTS

    part = {**DATA_DEFAULTS, "format": "yolo", "root": str(tmp_path / "ds"), "spec": str(tmp_path / "ds"),
            "train": "images/train", "val": ".", "split": {"by": "random", "val_fraction": 0.2, "seed": 0}}
    capsys.readouterr()
    read_split(part, "train", data_spec(part), verbose=True)  # train's note said both were files used as given
    assert f"data.split.by=random is not applied: data.val is the dataset's own val split ({own_val})" in \
        capsys.readouterr().err
    base = {"format": "yolo", "root": str(tmp_path / "ds"), "train": "images/train", "val": "."}
    assert annotation_path(base, "val") == (tmp_path / "ds" / "images" / "val").resolve()
    cfg = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    (tmp_path / "ds" / "data.yaml").write_text(yaml.safe_dump({**cfg, "val": None}))
    with pytest.raises(AdaAnchorError, match=r"data.val=. is the whole dataset .* holds the images of "
                                             r"data.train=images/train too"):
        annotation_path(base, "val")
    assert main(["data", "stats", *common, "data.train=images/train"]) == 2
    assert "error: data.val=. is the whole dataset" in capsys.readouterr().err


@settings(max_examples=60, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(
    st.lists(st.sampled_from(["0", "1", "0.5", "-1", "2", "3", "nan", "inf", "1e400", "abc", "", "0.0001"]),
             min_size=0, max_size=25).map(" ".join),
    st.text(max_size=40)), max_size=4))
def test_any_label_text_reads_or_is_a_clear_error(tmp_path, lines):
    root = tmp_path / "fz"
    if not root.exists():
        make_yolo(root, n={"train": 1})
    spec = load_spec(root)
    (root / "labels" / "train" / "train0.txt").write_text("\n".join(lines), encoding="utf-8", errors="replace")
    try:
        res = read_yolo(root / "images" / "train", spec)
    except DataError as e:
        assert "train0.txt line" in str(e) and "\n" not in str(e)
        return
    for inst in read_yolo(root / "images" / "train", spec, skip_invalid=True).instances + res.instances:
        assert np.all(np.isfinite(inst.keypoints)) and set(inst.visibility.tolist()) <= {0, 1, 2}
        assert inst.bbox[2] > 0 and inst.bbox[3] > 0


def test_a_coco_keypoint_yolo_dataset_gets_oks_ap(tmp_path, monkeypatch):
    """17 unnamed keypoints are COCO's, with its OKS sigmas: the evaluation builds the ground truth from the val
    instances (there is no COCO file) and perfect predictions score AP 1; an untrained model scores below."""
    from adaanchor.config import build_config
    from adaanchor.data.build import build_dataset
    from adaanchor.engine import evaluate as ev
    from adaanchor.engine.run import build_system

    make_yolo(tmp_path / "ds", names=False, k=17, n={"train": 2, "val": 3})
    cfg = build_config(None, ["data.format=yolo", f"data.root={tmp_path / 'ds'}", f"data.spec={tmp_path / 'ds'}",
                              "data.train=images/train", "data.val=images/val", "model.tiny_width=8",
                              "data.input_size=[64,64]", "model.backbone=tiny", "model.weights=null"])
    model, strategy = build_system(cfg)
    ds = build_dataset(cfg.data, "val")
    m, _ = ev.evaluate_dataset(model, strategy, cfg, ds)
    assert m["ap"] is not None and m["ap"] < 1.0
    real = ev.predict

    def perfect(*args, **kwargs):
        p = real(*args, **kwargs)
        p["pred"], p["pred_orig"], p["score"] = p["gt"].copy(), p["gt_orig"].copy(), np.ones_like(p["score"])
        return p

    monkeypatch.setattr(ev, "predict", perfect)
    m, _ = ev.evaluate_dataset(model, strategy, cfg, ds)
    assert m["ap"] == pytest.approx(1.0)


def test_a_copied_dataset_whose_path_names_another_machine(tmp_path):
    """Ultralytics' ``path`` often names the folder the dataset was made in: where it does not exist, the
    yaml's folder is the root."""
    make_yolo(tmp_path / "ds")
    cfg = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    (tmp_path / "ds" / "data.yaml").write_text(yaml.safe_dump({**cfg, "path": "/nowhere/datasets/my-pose"}))
    assert len(read_yolo(tmp_path / "ds", load_spec(tmp_path / "ds")).instances) == 6
