"""A labelled keypoint absurdly far outside its image (x = 1e30 on a 64 px image) is a coordinate written wrong: it
was accepted (``data stats`` said ``no problems found``, training reported a mean error of 6.4e29). Points outside
the image are data (truncated people): the readers that know the image size refuse a point more than one image width
or height beyond the image's edge (:data:`adaanchor.data.readers.checks.FAR_OUTSIDE`), naming the keypoint and its
coordinates, or skip and count it with ``skip_invalid``. The datasets here are built by the tests themselves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adaanchor.cli import main
from adaanchor.coords import outside_frame
from adaanchor.data.readers.checks import FAR_OUTSIDE, far_keypoint
from adaanchor.data.readers.dlc import read_dlc
from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError

W, H = 64, 48
#: Allowed: a truncated point, points just inside the bound on each side. x -64.5..127.5, y -48.5..95.5.
NEAR = [(-10.0, 20.0), (127.4, 20.0), (-64.4, 20.0), (30.0, 95.4), (30.0, -48.4)]


def _kp(first: tuple[float, float]) -> list[float]:
    """17 COCO keypoints inside the 64x48 image, keypoint 0 at ``first``."""
    kp = [v for j in range(17) for v in (5.0 + 3 * j, 10.0 + j, 2)]
    kp[0:2] = first
    return kp


def _coco(root: Path, first: tuple[float, float]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (W, H)).save(root / "a.png")
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": _kp((20.0, 20.0)), "bbox": [2.0, 2.0, 60.0, 40.0],
             "area": 2400.0, "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "keypoints": _kp(first), "bbox": [2.0, 2.0, 60.0, 40.0],
             "area": 2400.0, "iscrowd": 0}]
    data = {"images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}], "annotations": anns,
            "categories": [{"id": 1, "name": "person", "keypoints": list(load_spec("coco").keypoints)}]}
    (root / "train.json").write_text(json.dumps(data))
    return root / "train.json"


def _message(x: str, y: str, name: str = "nose") -> str:
    return (f"keypoint 0 ({name}) at ({x}, {y}) lies more than one image width or height beyond the edge of the "
            "64x48 image (labelled points may lie outside it, within x -64.5..127.5 and y -48.5..95.5): a coordinate "
            "written wrong?")


@pytest.mark.parametrize("first, shown", [((1e30, 20.0), ("1e+30", "20")), ((-100000.0, 20.0), ("-100000", "20")),
                                          ((127.6, 20.0), ("127.6", "20")), ((30.0, -48.6), ("30", "-48.6"))],
                         ids=["1e30", "-100000", "just-right", "just-above"])
def test_coco_point_far_outside_its_image_is_refused_or_counted(tmp_path, first, shown):
    path = _coco(tmp_path, first)
    coco = load_spec("coco")
    with pytest.raises(DataError) as e:
        FORMATS["coco"](path, coco)
    assert str(e.value) == f"{path} [record annotations[1] id=2] field 'keypoints': {_message(*shown)}"
    res = FORMATS["coco"](path, coco, skip_invalid=True)
    assert [i.ann_id for i in res.instances] == [1] and [e.reason for e in res.skipped] == [_message(*shown)]


def test_points_outside_the_image_within_the_bound_are_read(tmp_path):
    """Truncated people keep their points: up to one image size beyond the edge, on every side."""
    for k, first in enumerate(NEAR):
        res = FORMATS["coco"](_coco(tmp_path / str(k), first), load_spec("coco"))
        assert len(res.instances) == 2 and tuple(res.instances[1].keypoints[0]) == first


def _sizeless(root: Path, first: tuple[float, float], keep_file: bool = True) -> Path:
    """:func:`_coco` with the image entry's ``width`` / ``height`` left out (and its file removed unless ``keep_file``)."""
    path = _coco(root, first)
    data = json.loads(path.read_text())
    del data["images"][0]["width"], data["images"][0]["height"]
    path.write_text(json.dumps(data))
    if not keep_file:
        (root / "a.png").unlink()
    return path


def test_coco_entry_without_a_size_is_bounded_by_its_image_file(tmp_path, monkeypatch):
    """An image entry without ``width`` / ``height`` skipped the check (x = 1e30 was read); its file's header now
    gives the size, read once for the image's two annotations."""
    from adaanchor.data.readers import image_header

    reads: list[str] = []
    real = image_header._read_header
    monkeypatch.setattr(image_header, "_read_header", lambda path, *a: reads.append(path) or real(path, *a))
    path = _sizeless(tmp_path, (1e30, 20.0))
    with pytest.raises(DataError) as e:
        FORMATS["coco"](path, load_spec("coco"))
    assert str(e.value) == f"{path} [record annotations[1] id=2] field 'keypoints': {_message('1e+30', '20')}"
    assert reads == [str(tmp_path / "a.png")]
    res = FORMATS["coco"](path, load_spec("coco"), skip_invalid=True)
    assert [i.ann_id for i in res.instances] == [1] and [e.reason for e in res.skipped] == [_message("1e+30", "20")]


@pytest.mark.parametrize("keep_file, options", [(False, {}), (True, {"check_image_size": False})],
                         ids=["file-missing", "check_image_size-off"])
def test_coco_entry_without_a_size_or_header_is_read_as_before(tmp_path, keep_file, options):
    """No size to bound by (the file is missing: the image check reports it) or no header reading asked for."""
    res = FORMATS["coco"](_sizeless(tmp_path, (1e30, 20.0), keep_file), load_spec("coco"), **options)
    assert [i.ann_id for i in res.instances] == [1, 2] and res.instances[1].keypoints[0][0] == 1e30


def test_data_stats_and_score_name_the_far_point(tmp_path, capsys):
    """``data stats`` said ``no problems found`` (only 'outside box 1'); ``adaanchor score`` scored it."""
    path = _coco(tmp_path, (1e30, 20.0))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  root: {tmp_path}\n  format: coco\n  train: train.json\n  val: train.json\n")
    capsys.readouterr()
    assert main(["data", "stats", str(cfg)]) == 1  # training would stop there
    cap = capsys.readouterr()
    out = cap.out
    assert "no problems found" not in out and "train: 1 problem(s)" in out and _message("1e+30", "20") in out
    assert cap.err.startswith("training stops at the train split: ") and "data.skip_invalid=true skips" in cap.err
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"image_id": 1, "category_id": 1, "keypoints": _kp((20.0, 20.0)), "score": 1.0}]))
    assert main(["score", str(path), str(results), "--metric", "coco"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {path} [record annotations[1] id=2] field 'keypoints': {_message('1e+30', '20')}"


def _dlc(root: Path, cells: dict[int, tuple[str, str]]) -> Path:
    """A single-animal DeepLabCut project of 3 frames (64x48) with 2 bodyparts; ``cells``: row -> (x, y) of 'nose'."""
    folder = root / "labeled-data" / "vid"
    folder.mkdir(parents=True)
    (root / "config.yaml").write_text("Task: t\nscorer: lab\nbodyparts: [nose, tail]\nskeleton: []\n")
    rows = [["scorer", "", "", "lab", "lab", "lab", "lab"], ["bodyparts", "", "", "nose", "nose", "tail", "tail"],
            ["coords", "", "", "x", "y", "x", "y"]]
    for i in range(3):
        Image.new("RGB", (W, H)).save(folder / f"img{i}.png")
        rows.append(["labeled-data", "vid", f"img{i}.png", *cells.get(i, ("10.5", "12.5")), "30", "40"])
    with (folder / "CollectedData_lab.csv").open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return folder / "CollectedData_lab.csv"


@pytest.mark.parametrize("cell, shown", [(("-100000", "20"), ("-100000", "20")), (("10", "1e30"), ("10", "1e+30"))],
                         ids=["-100000", "1e30"])
def test_dlc_point_far_outside_its_image_is_refused_or_counted(tmp_path, cell, shown):
    """The DeepLabCut box is the points' extent, so nothing was 'outside box': the point was read as given."""
    table = _dlc(tmp_path / "proj", {1: cell, 2: ("-40", "60")})  # row 2: outside, within the bound
    spec = load_spec(tmp_path / "proj")
    with pytest.raises(DataError) as e:
        read_dlc(tmp_path / "proj", spec)
    assert str(e.value) == f"{table} [record row 1 (labeled-data/vid/img1.png)] field 'keypoints': {_message(*shown)}"
    res = read_dlc(tmp_path / "proj", spec, skip_invalid=True)
    assert [i.extra["row"] for i in res.instances] == [0, 2] and [e.reason for e in res.skipped] == [_message(*shown)]
    assert tuple(res.instances[1].keypoints[0]) == (-40.0, 60.0)


def test_sleap_point_far_outside_its_frame_is_refused_or_counted(tmp_path):
    """SLEAP files (and NWB, through the same reading) go through the same check, on the frame's image file."""
    import sleap_io as sio

    from adaanchor.data.readers.slp import read_slp

    files = []
    for i in range(2):
        Image.new("RGB", (W, H)).save(tmp_path / f"f{i}.png")
        files.append(str(tmp_path / f"f{i}.png"))
    video = sio.Video.from_filename(files)
    sk = sio.Skeleton(["nose", "tail"], name="mouse")
    frames = [sio.LabeledFrame(video=video, frame_idx=i, instances=[sio.Instance.from_numpy(pts, skeleton=sk)])
              for i, pts in enumerate([np.array([[10.0, 12.0], [30.0, 40.0]]), np.array([[1e30, 12.0], [30.0, 40.0]])])]
    path = tmp_path / "labels.slp"
    sio.save_slp(sio.Labels(labeled_frames=frames, videos=[video], skeletons=[sk]), str(path), embed=False, verbose=False)
    spec = load_spec(path)
    with pytest.raises(DataError) as e:
        read_slp(path, spec)
    assert str(e.value) == f"{path} [record video 0 frame 1] field 'keypoints': {_message('1e+30', '12')}"
    res = read_slp(path, spec, skip_invalid=True)
    assert [i.extra["frame"] for i in res.instances] == [0] and [e.reason for e in res.skipped] == [_message("1e+30", "12")]


def test_the_bound_is_outside_frame_with_one_image_of_margin():
    """The readers' test (numpy, no torch) is :func:`adaanchor.coords.outside_frame` with ``margin=FAR_OUTSIDE``."""
    rng = np.random.default_rng(0)
    w, h = 64.0, 48.0
    xy = np.concatenate([rng.uniform(-3 * w, 3 * w, (400, 1)), rng.uniform(-3 * h, 3 * h, (400, 1))], 1)
    edges = np.array([[-0.5 - w, 10], [2 * w - 0.5, 10], [10, -0.5 - h], [10, 2 * h - 0.5], [2 * w - 0.4999, 10]])
    xy = np.concatenate([xy, edges])
    theirs = outside_frame(torch.tensor(xy[:, 0]), torch.tensor(xy[:, 1]), w, h, margin=FAR_OUTSIDE).numpy()
    ours = [far_keypoint(p[None], [True], [(w, h)]) is not None for p in xy]
    assert ours == theirs.tolist() and 0 < sum(ours) < len(ours) and ours[-5:] == [False] * 4 + [True]


def test_generated_benchmarks_stay_within_the_bound(tmp_path):
    """Every person of the generated benchmarks truncated (truncation 1, the largest scale): the farthest labelled
    point is well within the bound, and the reader takes every record."""
    from adaanchor.bench.crowd import write_crowd_benchmark
    from adaanchor.bench.crowd_faces import resolve_crowd_faces_config
    from adaanchor.bench.synth import write_benchmark
    from adaanchor.errors import AdaAnchorError

    opts = {"n_train": 24, "n_val": 2, "truncation": 1.0, "clutter": 0, "occluders": (0, 0)}
    write_benchmark(tmp_path / "s", {**opts, "scale": (1.0, 1.0)}, progress=False)
    write_crowd_benchmark(tmp_path / "c", {**opts, "width": 64, "height": 48}, progress=False)
    for path in (tmp_path / "s" / "train.json", tmp_path / "c" / "train.json"):
        data = json.loads(path.read_text())
        size = {im["id"]: (im["width"], im["height"]) for im in data["images"]}
        worst = 0.0
        for a in data["annotations"]:
            kp = np.asarray(a["keypoints"], float).reshape(-1, 3)
            w, h = size[a["image_id"]]
            lab = kp[:, 2] > 0
            beyond = np.maximum(np.maximum(-0.5 - kp[:, 0], kp[:, 0] - w + 0.5) / w,
                                np.maximum(-0.5 - kp[:, 1], kp[:, 1] - h + 0.5) / h)
            worst = max(worst, float(beyond[lab].max()))
        assert 0.05 < worst < 0.5 * FAR_OUTSIDE  # truncated, within half the bound
        res = FORMATS["coco"](path, load_spec("coco"), skip_invalid=True)
        assert not [e for e in res.skipped if "beyond the edge" in e.reason]
    # The crowd-faces benchmark keeps landmarks up to 'margin' outside its canvas: at most the bound.
    assert resolve_crowd_faces_config({"margin": FAR_OUTSIDE})["margin"] == FAR_OUTSIDE
    with pytest.raises(AdaAnchorError, match="crowd-faces option 'margin': invalid value 1.5"):
        resolve_crowd_faces_config({"margin": 1.5})
