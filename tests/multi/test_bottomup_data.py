"""Whole-image bottom-up data: augmentation geometry, exact inverse, test-time resizing, padded batches."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adaanchor.data.bottomup import (
    MAX_ASPECT,
    BottomUpDataset,
    eval_affine,
    group_by_image,
    to_image_coords,
    train_affine,
)
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import apply_affine
from adaanchor.data.types import collate

SPEC = load_spec("coco")


@settings(max_examples=60, deadline=None)
@given(h=st.integers(20, 900), w=st.integers(20, 900), rot=st.floats(-30, 30), zoom=st.floats(0.75, 1.5),
       tx=st.floats(-40, 40), ty=st.floats(-40, 40), flip=st.booleans(), out=st.sampled_from([(128, 96), (512, 512)]),
       pts=st.lists(st.tuples(st.floats(-50, 950), st.floats(-50, 950)), min_size=1, max_size=8))
def test_train_affine_round_trip(h, w, rot, zoom, tx, ty, flip, out, pts):
    a = train_affine((h, w), out, rot, zoom, (tx, ty), flip)
    p = np.array(pts)
    assert np.allclose(to_image_coords(apply_affine(a, p), a), p, atol=1e-7)
    # Rotation and zoom are what they claim: lengths scale by one factor (zoom x the fit), angles are kept.
    q = apply_affine(a, np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    assert np.isclose(np.linalg.norm(q[1] - q[0]), np.linalg.norm(q[2] - q[0]))
    fit = min(min(out) / min(w, h), MAX_ASPECT * min(out) / max(w, h))  # the short side to the input's, as tested
    assert np.isclose(np.linalg.norm(q[1] - q[0]), fit * zoom)
    # At zoom 1 a training image is at the test's scale (eval_affine): a fit of the long side trained people
    # smaller than they are tested (0.75x for 640x480 at 512x512).
    assert np.isclose(fit, eval_affine((h, w), min(out))[0][0, 0])
    # Unrotated and unshifted, the image's centre is the input's centre.
    if rot == 0 and tx == ty == 0:
        assert np.allclose(apply_affine(a, np.array([[(w - 1) / 2, (h - 1) / 2]])), [[(out[0] - 1) / 2, (out[1] - 1) / 2]])


@settings(max_examples=60, deadline=None)
@given(h=st.integers(20, 2000), w=st.integers(20, 2000), short=st.sampled_from([96, 256, 512]),
       mult=st.sampled_from([1, 4, 32]))
def test_eval_affine_keeps_the_aspect_and_inverts_exactly(h, w, short, mult):
    a, (ow, oh) = eval_affine((h, w), short, mult)
    s = a[0, 0]
    assert a[1, 1] == s and a[0, 1] == a[1, 0] == 0
    # The short side to ``short``, unless the long side would pass MAX_ASPECT times it: then the long side to that.
    if max(h, w) <= MAX_ASPECT * min(h, w):
        assert np.isclose(min(h, w) * s, short)
    else:
        assert np.isclose(max(h, w) * s, MAX_ASPECT * short) and min(h, w) * s < short
    assert ow % mult == 0 and oh % mult == 0 and ow >= w * s - 1e-6 and oh >= h * s - 1e-6
    # The image's outer corners map to the resized image's outer corners (pixel-centre convention).
    corners = np.array([[-0.5, -0.5], [w - 0.5, h - 0.5]])
    assert np.allclose(apply_affine(a, corners), [[-0.5, -0.5], [w * s - 0.5, h * s - 0.5]])
    p = np.random.default_rng(h * w).uniform(0, max(h, w), (5, 2))
    assert np.allclose(to_image_coords(apply_affine(a, p), a), p, atol=1e-8)


@pytest.mark.parametrize("hw", [(1, 300), (300, 1), (10, 2000)])
def test_an_elongated_image_is_capped_at_max_aspect_times_the_short_side(hw):
    # A 1x300 strip at a 48-px short side was a 48 x 14,400 input; now its long side is MAX_ASPECT * 48.
    _, (ow, oh) = eval_affine(hw, 48, 32)
    assert max(ow, oh) == MAX_ASPECT * 48 and min(ow, oh) == 32
    a = train_affine(hw, (64, 48), 0.0, 1.0, (0.0, 0.0), False)
    assert np.isclose(a[0, 0], eval_affine(hw, 48)[0][0, 0])  # training sees people at the test's scale


def _image_set(tmp_path, counts: list[int]) -> list[list[Instance]]:
    rng = np.random.default_rng(0)
    insts = []
    for i, n in enumerate(counts):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path)
        for j in range(n):
            kp = rng.uniform(5, 55, (17, 2))
            insts.append(Instance(str(path), i + 1, 10 * i + j, kp, np.full(17, 2), np.array([0, 0, 80, 60.0]), 4800.0))
    return group_by_image(insts)


def test_items_and_padded_batches(tmp_path):
    images = _image_set(tmp_path, [1, 3, 2])
    ds = BottomUpDataset(images, SPEC, (64, 48), train=True, multiple=16)
    np.random.seed(0)
    batch = collate([ds[i] for i in range(3)])
    assert batch["image"].shape == (3, 3, 48, 64)
    assert batch["keypoints"].shape == (3, 3, 17, 2) and batch["visibility"].shape == (3, 3, 17)
    assert (batch["visibility"][0, 1:] == 0).all() and (batch["visibility"][2, 2:] == 0).all()  # padding
    assert (batch["visibility"][1] > 0).any()


def test_training_item_maps_keypoints_and_swaps_flipped_labels(tmp_path):
    images = _image_set(tmp_path, [2])
    ds = BottomUpDataset(images, SPEC, (64, 48), train=True, aug={"flip": 1.0, "outside_margin": 100.0})
    np.random.seed(3)
    item = ds[0]
    a = item["meta"]["affine"]
    assert np.linalg.det(a[:, :2]) < 0  # mirrored
    kp = np.stack([i.keypoints for i in images[0]])
    expect = apply_affine(a, kp)[:, SPEC.flip_index]
    assert np.allclose(item["keypoints"].numpy(), expect, atol=1e-4)


def test_eval_item_resizes_the_short_side(tmp_path):
    images = _image_set(tmp_path, [1])
    ds = BottomUpDataset(images, SPEC, (64, 48), train=False, multiple=16)
    item = ds[0]
    assert item["image"].shape == (3, 48, 64)  # 60 x 80 -> short side 48, 64 wide (a multiple of 16)
    back = to_image_coords(item["keypoints"].numpy().astype(np.float64), item["meta"]["affine"])
    assert np.allclose(back, images[0][0].keypoints, atol=1e-4)


def test_empty_group_is_refused():
    with pytest.raises(ValueError):
        BottomUpDataset([[]], SPEC, (64, 48))
