"""The crowd-faces benchmark: COCO files the project reads, identity-disjoint split, occlusion labels, crowd index,
reproducibility and the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adaanchor.bench import crowd_faces as cf
from adaanchor.bench.crowd import crowd_index
from adaanchor.data.readers.coco import read_coco
from adaanchor.data.spec import load_spec
from adaanchor.data.splits import identity_of
from adaanchor.errors import AdaAnchorError

TINY = {"n_train": 9, "n_val": 6, "seed": 5}


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> dict[str, Path]:
    if not cf.FACES_ROOT.is_dir():
        pytest.skip(f"ytfaces-68 not available: {cf.FACES_ROOT} is absent")
    return cf.write_crowd_faces_benchmark(tmp_path_factory.mktemp("crowd_faces"), TINY, progress=False)


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _arrays(data: dict, image_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    anns = [a for a in data["annotations"] if a["image_id"] == image_id]
    kp = np.array([a["keypoints"] for a in anns], np.float64).reshape(len(anns), -1, 3)
    return kp[..., :2], kp[..., 2].astype(int), np.array([a["bbox"] for a in anns], np.float64)


def test_reads_back_through_the_coco_reader(bench):
    spec = load_spec("face68")
    for split in ("train", "val"):
        data = _load(bench[split])
        res = read_coco(bench[split], spec)
        assert len(res.instances) == len(data["annotations"]) and not res.skipped
        assert {i.image_id for i in res.instances} == {im["id"] for im in data["images"]}
        for inst, ann in zip(res.instances, data["annotations"]):
            kp = np.asarray(ann["keypoints"]).reshape(-1, 3)
            assert np.allclose(inst.keypoints[kp[:, 2] > 0], kp[kp[:, 2] > 0, :2])
            assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum()) and ann["area"] > 0
    cat = data["categories"][0]
    assert cat["keypoints"] == list(spec.keypoints) and cat["name"] == "face"
    assert all(Path(bench["root"], im["file_name"]).is_file() for im in data["images"])


def test_identity_disjoint_split(bench):
    ids = {s: {identity_of(a["source"]) for a in _load(bench[s])["annotations"]} for s in ("train", "val")}
    assert ids["train"] and ids["val"] and not ids["train"] & ids["val"]
    pools = {s: {identity_of(p) for p, _ in cf.face_pool(cf.resolve_crowd_faces_config(TINY), s)} for s in ids}
    assert ids["train"] <= pools["train"] and ids["val"] <= pools["val"] and not pools["train"] & pools["val"]


def test_dev_instance_never_uses_the_evaluation_identities():
    """dev_fraction > 0: val faces come from held-out training identities; the evaluation ones are in neither."""
    if not cf.FACES_ROOT.is_dir():
        pytest.skip(f"ytfaces-68 not available: {cf.FACES_ROOT} is absent")
    test = {s: {identity_of(p) for p, _ in cf.face_pool(cf.resolve_crowd_faces_config(TINY), s)} for s in ("train", "val")}
    dev_cfg = cf.resolve_crowd_faces_config({**TINY, "dev_fraction": 0.2})
    dev = {s: {identity_of(p) for p, _ in cf.face_pool(dev_cfg, s)} for s in ("train", "val")}
    assert dev["val"] and not dev["val"] & dev["train"]
    assert dev["train"] | dev["val"] == test["train"] and not (dev["train"] | dev["val"]) & test["val"]
    assert len(dev["val"]) == round(0.2 * len(test["train"]))
    with pytest.raises(AdaAnchorError, match="dev_fraction"):
        cf.resolve_crowd_faces_config({"dev_fraction": 1.0})


def test_crowd_index_recomputed_from_the_json(bench):
    data = _load(bench["val"])
    bands = []
    for im in data["images"]:
        kp, vis, boxes = _arrays(data, im["id"])
        assert crowd_index(kp, vis, boxes) == pytest.approx(im["crowdIndex"], abs=1e-6)
        bands.append(int(im["crowdIndex"] >= 0.2) + int(im["crowdIndex"] >= 0.8))
    assert bands == [i % 3 for i in range(len(bands))]  # balanced: easy, medium, hard in turn


def test_landmark_under_a_nearer_face_is_hidden_with_true_coordinates(bench):
    cfg = cf.resolve_crowd_faces_config(TINY)
    pool = cf.face_pool(cfg, "val")
    found = 0
    for i in range(12):
        sc = cf.generate_crowd_faces(np.random.default_rng([77, i]), pool, cfg, i)
        faces = sc["layout"]  # the true (unrounded) landmark positions
        for p in range(len(faces) - 1):
            nearer = np.any(sc["masks"][p + 1:], axis=0)
            xy = faces[p]["kps"]
            col, row = np.floor(xy[:, 0] + 0.5).astype(int), np.floor(xy[:, 1] + 0.5).astype(int)
            inside = (col >= 0) & (col < cfg["width"]) & (row >= 0) & (row < cfg["height"])
            hit = np.zeros(len(xy), bool)
            hit[inside] = nearer[row[inside], col[inside]]
            assert (sc["visibility"][p][hit] == 1).all()
            assert np.allclose(sc["keypoints"][p][hit], xy[hit], atol=1e-4)
            assert (sc["visibility"][p][inside & ~hit] == 2).all()
            found += int(hit.sum())
    assert found > 0
    # and in the written files: some landmarks are v=1 inside the canvas (covered), with coordinates kept
    data = _load(bench["val"])
    kp = np.array([a["keypoints"] for a in data["annotations"]]).reshape(-1, 3)
    covered = (kp[:, 2] == 1) & (kp[:, 0] >= 0) & (kp[:, 0] <= cfg["width"] - 1) & (kp[:, 1] >= 0)
    assert covered.any() and (kp[covered, :2] != 0).all()


def test_outside_landmarks_margin():
    cfg = cf.resolve_crowd_faces_config({"width": 64, "height": 48, "margin": 0.1})
    kps = np.zeros((1, 68, 2)) + (30.0, 20.0)
    kps[0, 0], kps[0, 1], kps[0, 2] = (-3.0, 20.0), (-10.0, 20.0), (30.0, 52.0)  # margin: 6.4 px, 4.8 px
    faces = [{"kps": kps[0]}]
    vis = cf._visibility(faces, [np.zeros((48, 64), bool)], cfg)
    assert vis[0, :3].tolist() == [1, 0, 1] and (vis[0, 3:] == 2).all()


def test_reproducible_for_a_seed_and_cached(bench, tmp_path):
    again = cf.write_crowd_faces_benchmark(tmp_path / "again", TINY, progress=False)
    for split in ("train", "val"):
        assert again[split].read_bytes() == bench[split].read_bytes()
    a = Path(bench["root"], "images/val/000002.png").read_bytes()
    assert Path(again["root"], "images/val/000002.png").read_bytes() == a
    stamp = again["val"].stat().st_mtime_ns
    cf.write_crowd_faces_benchmark(tmp_path / "again", TINY, progress=False)  # reused, not rewritten
    assert again["val"].stat().st_mtime_ns == stamp
    other = cf.write_crowd_faces_benchmark(tmp_path / "other", {**TINY, "seed": 6}, progress=False)
    assert other["val"].read_bytes() != bench["val"].read_bytes()


def test_options_are_checked():
    with pytest.raises(AdaAnchorError, match="unknown crowd-faces option"):
        cf.resolve_crowd_faces_config({"face": (1, 2)})
    with pytest.raises(AdaAnchorError, match="'faces'"):
        cf.resolve_crowd_faces_config({"faces": (3, 2)})
    assert cf.face_sigmas().shape == (68,) and (cf.face_sigmas() == cf.FACE_OKS_SIGMA).all()


def test_crowdpose_evaluation_reads_it(bench):
    from adaanchor.metrics.coco import crowdpose_ap

    data = _load(bench["val"])
    results = [{"image_id": a["image_id"], "category_id": 1, "score": 1.0,
                "keypoints": [x if i % 3 < 2 else 1.0 for i, x in enumerate(a["keypoints"])]} for a in data["annotations"]]
    ap = crowdpose_ap(bench["val"], results, sigmas=cf.face_sigmas())
    assert ap["AP"] == pytest.approx(1.0) and ap["AP_easy"] == pytest.approx(1.0)
    assert ap["AP_medium"] == pytest.approx(1.0) and ap["AP_hard"] == pytest.approx(1.0)
