"""The procedural occlusion benchmark: determinism, visibility labels, the COCO files and their cache."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from adaanchor.bench import synth
from adaanchor.bench.synth_pose import OWNERS
from adaanchor.bench.textures import Shape, Texture
from adaanchor.data.spec import load_spec
from adaanchor.errors import AdaAnchorError

TINY = {"n_train": 12, "n_val": 4, "seed": 3}


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


def test_same_seed_same_sample_and_different_seed_differs():
    for i in range(3):
        a, b = synth.generate_sample(_rng(7, 0, i), {}), synth.generate_sample(_rng(7, 0, i), {})
        for x, y in zip(a, b):
            assert x.dtype == y.dtype and np.array_equal(x, y)
    img, kps, vis, bbox = synth.generate_sample(_rng(7, 0, 0), {})
    assert img.shape == (96, 72, 3) and img.dtype == np.uint8
    assert kps.shape == (17, 2) and kps.dtype == np.float64
    assert vis.shape == (17,) and vis.dtype == np.int64 and set(vis.tolist()) <= {1, 2}
    assert bbox.shape == (4,) and bbox.dtype == np.float64
    other = synth.generate_sample(_rng(8, 0, 0), {})
    assert not np.array_equal(img, other[0]) and not np.allclose(kps, other[1])


def test_occluder_painted_over_a_visible_keypoint_makes_it_invisible():
    cfg = synth.resolve_config({"occluders": (0, 0), "truncation": 0.0})
    flat = Texture("flat", np.full(3, 255.0, np.float32), np.full(3, 255.0, np.float32), 4.0, 0.0, 0.0, 0.0,
                   np.zeros((16, 16), np.float32))
    checked = 0
    for i in range(6):
        rng = _rng(11, 0, i)
        scene = synth.render_person(rng, cfg)
        kps, hidden = scene.figure.keypoints, scene.figure.hidden
        before = synth.label_visibility(kps, hidden, scene.label)
        for k in np.flatnonzero(before == 2)[:3]:
            x, y = kps[k]
            probe = synth.Scene(scene.image.copy(), scene.label.copy(), scene.figure, scene.bbox)
            synth.add_occluder(probe, Shape("ellipse", np.array([[x, y]]), axes=(2.0, 2.0)), flat, rng, shading=0.0)
            after = synth.label_visibility(kps, hidden, probe.label)
            assert after[k] == 1
            row, col = int(np.floor(y + 0.5)), int(np.floor(x + 0.5))
            assert probe.label[row, col] == synth.OCCLUDER_LAYER and np.all(probe.image[row, col] == 255.0)
            # Keypoints the disc does not reach keep their label.
            far = np.hypot(*(kps - kps[k]).T) > 4.0
            assert np.array_equal(after[far], before[far])
            checked += 1
    assert checked >= 10


def test_visibility_agrees_with_label_map_and_both_occlusion_kinds_happen():
    kinds = {"occluder": 0, "self": 0, "visible": 0}
    for i in range(40):
        scene, vis = synth.generate_scene(_rng(5, 0, i), {"truncation": 0.0})
        H, W = scene.label.shape
        for k, ((x, y), v) in enumerate(zip(scene.figure.keypoints, vis)):
            if not (-0.5 <= x <= W - 0.5 and -0.5 <= y <= H - 0.5) or scene.figure.hidden[k]:
                assert v == 1
                continue
            owner = int(scene.label[min(int(np.floor(y + 0.5)), H - 1), min(int(np.floor(x + 0.5)), W - 1)])
            own = owner == 0 or owner in OWNERS[k]
            assert v == (2 if own else 1), (i, k, owner)
            kind = "visible" if own else "occluder" if owner >= synth.OCCLUDER_LAYER else "self"
            kinds[kind] += 1
    assert min(kinds.values()) > 10, kinds


def test_keypoints_outside_the_image_are_invisible():
    outside = 0
    for i in range(30):
        _, kps, vis, bbox = synth.generate_sample(_rng(2, 0, i), {"truncation": 1.0, "occluders": (0, 0)})
        off = (kps[:, 0] < -0.5) | (kps[:, 0] > 71.5) | (kps[:, 1] < -0.5) | (kps[:, 1] > 95.5)
        assert np.all(vis[off] == 1)
        # The box covers the whole person, including what left the image.
        assert np.all(kps >= bbox[:2] - 1e-9) and np.all(kps <= bbox[:2] + bbox[2:] + 1e-9)
        outside += int(off.sum())
    assert outside > 20
    label = np.zeros((4, 4), np.uint8)  # borders: the image spans [-0.5, W - 0.5]
    pts = np.array([[-0.5, 0.0], [-0.51, 0.0], [3.5, 3.5], [3.51, 0.0], [0.0, -0.6]] + [[1.0, 1.0]] * 12)
    assert synth.label_visibility(pts, np.zeros(17, bool), label)[:5].tolist() == [2, 1, 2, 1, 1]


def test_default_mix_has_a_fifth_invisible():
    vis = np.array([synth.generate_sample(_rng(0, 1, i), {})[2] for i in range(200)])
    assert 0.12 <= (vis == 1).mean() <= 0.30


def test_write_benchmark_coco_files_and_cache(tmp_path):
    from pycocotools.coco import COCO

    out = synth.write_benchmark(tmp_path / "bench", TINY, progress=False)
    assert set(out) == {"train", "val", "root"} and out["root"] == tmp_path / "bench"
    spec = load_spec("coco")
    for split, n in (("train", 12), ("val", 4)):
        coco = COCO(str(out[split]))
        assert len(coco.getImgIds()) == n and len(coco.getAnnIds()) == n
        cat = coco.loadCats(1)[0]
        assert cat["name"] == "person" and cat["keypoints"] == list(spec.keypoints)
        assert sorted(map(tuple, cat["skeleton"])) == sorted((a + 1, b + 1) for a, b in spec.skeleton)
        for img in coco.loadImgs(coco.getImgIds()):
            with Image.open(out["root"] / img["file_name"]) as im:
                assert im.size == (72, 96) and im.mode == "RGB"
        ann = coco.loadAnns(coco.getAnnIds(imgIds=[1]))[0]
        image, kps, vis, bbox = synth.generate_sample(_rng(3, ("train", "val").index(split), 0), TINY)
        flat = np.asarray(ann["keypoints"]).reshape(17, 3)
        assert np.allclose(flat[:, :2], kps, atol=1e-4) and np.array_equal(flat[:, 2], vis)
        assert np.allclose(ann["bbox"], bbox, atol=1e-4) and ann["num_keypoints"] == 17 and ann["iscrowd"] == 0
        with Image.open(out["root"] / coco.loadImgs(1)[0]["file_name"]) as im:
            assert np.array_equal(np.asarray(im), image)
        data = json.loads(out[split].read_text())
        v = np.concatenate([np.asarray(a["keypoints"])[2::3] for a in data["annotations"]])
        counts = synth.visibility_counts(out[split])
        assert (counts["visible"], counts["invisible"], counts["unlabelled"], counts["images"]) == (
            int((v == 2).sum()), int((v == 1).sum()), int((v == 0).sum()), n)
        assert json.loads((out["root"] / "manifest.json").read_text())["counts"][split] == counts

    stamp = {p: p.stat().st_mtime_ns for p in (out["train"], out["root"] / "manifest.json",
                                               out["root"] / "images/train/000000.png")}
    again = synth.write_benchmark(tmp_path / "bench", dict(TINY), progress=False)
    assert again == out and all(p.stat().st_mtime_ns == t for p, t in stamp.items())

    # Other options never replace a finished benchmark (runs trained on it would read other images) ...
    with pytest.raises(AdaAnchorError, match=r"other options \(clutter: 6 there, 2 asked; n_train: 12 there, 5 asked\)"):
        synth.write_benchmark(tmp_path / "bench", {**TINY, "n_train": 5, "clutter": 2}, progress=False)
    assert all(p.stat().st_mtime_ns == t for p, t in stamp.items())
    # ... while an unfinished write (no manifest yet) is redone with the options asked.
    (out["root"] / "manifest.json").unlink()
    changed = synth.write_benchmark(tmp_path / "bench", {**TINY, "n_train": 5, "clutter": 2}, progress=False)
    assert len(json.loads(changed["train"].read_text())["images"]) == 5
    assert sorted(p.name for p in (out["root"] / "images/train").iterdir()) == [f"{i:06d}.png" for i in range(5)]
    assert json.loads((out["root"] / "manifest.json").read_text())["config"]["clutter"] == 2


def test_worker_count_does_not_change_the_output(tmp_path):
    cfg = {"n_train": 5, "n_val": 2, "seed": 1}
    one = synth.write_benchmark(tmp_path / "one", cfg, progress=False, workers=1)
    two = synth.write_benchmark(tmp_path / "two", cfg, progress=False, workers=2)
    for split in ("train", "val"):
        assert one[split].read_text() == two[split].read_text()
    for p in (one["root"] / "images").rglob("*.png"):
        assert p.read_bytes() == (two["root"] / p.relative_to(one["root"])).read_bytes()


def test_bad_options_and_unwritable_folder_raise_one_line_errors(tmp_path):
    with pytest.raises(AdaAnchorError, match="Did you mean 'occluders'"):
        synth.resolve_config({"occluder": (0, 1)})
    for bad in ({"occluders": (3, 1)}, {"truncation": 1.5}, {"width": "72"}, {"scale": (0.5,)}, {"n_train": -1},
                {"occluder_size": (0.0, 0.2)}, {"occluders": (0.5, 2)}, {"seed": True},
                # inf overflowed the drawing (a traceback, images/ left without its JSON); 5x the image height was
                # shrunk to fit without a word
                {"scale": (0.5, float("inf"))}, {"occluder_size": (0.1, float("inf"))}, {"occluder_size": (1e308, 1e308)},
                {"scale": (5.0, 10.0)}):
        with pytest.raises(AdaAnchorError) as err:
            synth.resolve_config(bad)
        assert "\n" not in str(err.value) and next(iter(bad)) in str(err.value)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(AdaAnchorError) as err:
        synth.write_benchmark(blocker / "bench", TINY, progress=False)
    assert "\n" not in str(err.value) and str(blocker) in str(err.value)


def test_the_datasets_doc_lists_every_generator_option_with_its_default():
    """docs/datasets.md, "Generated benchmarks", has one row per option of the synthetic and crowd-figures
    generators with their defaults (the options were named nowhere, though docs/training.md sent readers there)."""
    from pathlib import Path

    from adaanchor.bench.crowd import CROWD_DEFAULTS

    doc = (Path(__file__).resolve().parents[2] / "docs" / "datasets.md").read_text()
    doc = doc.split("### Generated benchmarks")[1].split("\n### ")[0]
    listed = {}
    for line in doc.splitlines():
        cells = [c.strip().replace("`", "") for c in line.strip().strip("|").split("|")]
        if not line.startswith("| `") or len(cells) != 4:
            continue
        keys = cells[0].split(", ")
        for i, key in enumerate(keys):  # a row of two options (width, height) lists two defaults per cell
            listed[key] = tuple(c.split(", ")[i] if len(keys) > 1 else c for c in cells[1:3])

    def text(v) -> str:
        return "" if v is None else str(list(v)) if isinstance(v, tuple) else str(v)

    assert set(listed) == set(CROWD_DEFAULTS)
    for key, (syn, crowd) in listed.items():
        assert syn == text(synth.SYNTH_DEFAULTS.get(key)), (key, syn)
        assert crowd == text(CROWD_DEFAULTS[key]), (key, crowd)
