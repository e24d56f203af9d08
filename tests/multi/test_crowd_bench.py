"""The crowd-figures benchmark: JSON read back, occlusion by depth, crowd index in range."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from adaanchor.bench.crowd import crowd_index, generate_crowd_scene, resolve_crowd_config, write_crowd_benchmark
from adaanchor.data.readers.coco import read_coco
from adaanchor.data.spec import load_spec
from adaanchor.errors import AdaAnchorError


def test_crowd_index_by_hand():
    # Person 0's box holds 2 of person 1's 3 joints; person 1's box holds none of person 0's: (2/3 + 0) / 2.
    kps = np.array([[[0, 0], [1, 1], [2, 2]], [[1, 1], [2, 2], [50, 50]]], float)
    boxes = np.array([[0, 0, 3, 3], [40, 40, 20, 20]], float)
    assert crowd_index(kps, np.full((2, 3), 2), boxes) == pytest.approx(1 / 3)
    assert crowd_index(kps[:1], np.full((1, 3), 2), boxes[:1]) == 0.0


@pytest.mark.parametrize("seed", range(6))
def test_occlusion_follows_depth_order(seed):
    sc = generate_crowd_scene(np.random.default_rng(seed), {"people": (3, 4), "occluders": (0, 1)})
    H, W = sc.person_map.shape
    n = len(sc.keypoints)
    for p in range(n):
        for k, (x, y) in enumerate(sc.keypoints[p]):
            if not (-0.5 <= x <= W - 0.5 and -0.5 <= y <= H - 0.5):
                assert sc.visibility[p, k] == 1  # outside the image
                continue
            owner = int(sc.person_map[int(np.floor(y + 0.5)), int(np.floor(x + 0.5))])
            if owner not in (0, p + 1):  # another person or an occluder owns the pixel
                assert sc.visibility[p, k] == 1
                if owner != 255:
                    assert owner > p + 1  # only nearer people (painted later) can cover
            if sc.visibility[p, k] == 2:
                assert owner in (0, p + 1)
    assert sc.visibility.shape == (n, 17) and set(np.unique(sc.visibility)) <= {1, 2}


def test_crowded_scenes_do_hide_people_behind_others():
    hidden = 0
    for seed in range(8):
        sc = generate_crowd_scene(np.random.default_rng(seed), {"people": (3, 3), "crowd_index": (0.5, 2.0),
                                                                "occluders": (0, 0), "truncation": 0.0})
        nearest = len(sc.keypoints)
        for p in range(nearest - 1):
            for (x, y), v in zip(sc.keypoints[p], sc.visibility[p]):
                o = int(sc.person_map[int(np.clip(np.floor(y + 0.5), 0, 95)), int(np.clip(np.floor(x + 0.5), 0, 127))])
                hidden += int(v == 1 and o > p + 1 and o != 255)
    assert hidden > 0


@pytest.mark.parametrize("lo,hi", [(0.0, 0.1), (0.3, 0.6), (0.8, 1.5)])
def test_crowd_index_in_the_requested_range(lo, hi):
    for seed in range(4):
        sc = generate_crowd_scene(np.random.default_rng(seed), {"crowd_index": (lo, hi), "people": (2, 4)})
        assert lo <= sc.crowd_index <= hi
        assert sc.crowd_index == pytest.approx(crowd_index(sc.keypoints, sc.visibility, sc.boxes))


def test_unreachable_range_and_bad_options_are_clear_errors():
    with pytest.raises(AdaAnchorError, match="crowd_index"):
        generate_crowd_scene(np.random.default_rng(0), {"people": (1, 1), "crowd_index": (0.5, 1.0), "max_tries": 5})
    with pytest.raises(AdaAnchorError, match="people"):
        resolve_crowd_config({"people": (3, 2)})
    with pytest.raises(AdaAnchorError, match="peopel"):
        resolve_crowd_config({"peopel": (1, 2)})


def test_written_json_reads_back_with_the_coco_reader(tmp_path):
    cfg = {"n_train": 6, "n_val": 3, "people": (2, 3), "crowd_index": (0.1, 1.0)}
    paths = write_crowd_benchmark(tmp_path, cfg, progress=False, workers=1)
    spec = load_spec("coco")
    data = json.loads(paths["val"].read_text())
    res = read_coco(paths["val"], spec)
    assert len(res.instances) == len(data["annotations"]) >= 2 * 3 and not res.skipped
    by_image: dict[int, list] = {}
    for inst in res.instances:
        assert Path(inst.image_path).is_file()
        by_image.setdefault(inst.image_id, []).append(inst)
    for img in data["images"]:
        insts = by_image[img["id"]]
        kps = np.stack([i.keypoints for i in insts])
        ci = crowd_index(kps, np.stack([i.visibility for i in insts]), np.stack([i.bbox for i in insts]))
        assert ci == pytest.approx(img["crowdIndex"], abs=1e-3) and 0.1 <= img["crowdIndex"] <= 1.0
    again = write_crowd_benchmark(tmp_path, cfg, progress=False, workers=1)  # cached: same files
    assert again["val"].read_text() == paths["val"].read_text()


@pytest.mark.slow
def test_written_benchmark_does_not_depend_on_the_workers(tmp_path):
    """Chunks rendered by two spawned processes give the same JSON and images as one process."""
    cfg = {"n_train": 55, "n_val": 3, "seed": 2}  # two chunks of the training split
    one = write_crowd_benchmark(tmp_path / "one", cfg, progress=False, workers=1)
    two = write_crowd_benchmark(tmp_path / "two", cfg, progress=False, workers=2)
    for split in ("train", "val"):
        assert json.loads(one[split].read_text()) == json.loads(two[split].read_text())
    last = Path("images/train/000054.png")
    assert (one["root"] / last).read_bytes() == (two["root"] / last).read_bytes()
