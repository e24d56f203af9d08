"""Tests of the occlusion compositor (adaanchor.bench.occlude)."""

from __future__ import annotations

import numpy as np
import pytest

from adaanchor.bench.occlude import OCCLUDE_DEFAULTS, Occluder, default_bbox, mark_occluded
from adaanchor.errors import AdaAnchorError

H, W, K = 64, 48, 17
BOX = np.array([8.0, 10.0, 32.0, 44.0])  # [x, y, w, h], inside the image


def _sample(seed: int = 0, k: int = K, n: int | None = None):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    shape = (k,) if n is None else (n, k)
    kp = np.stack([rng.uniform(BOX[0], BOX[0] + BOX[2], shape), rng.uniform(BOX[1], BOX[1] + BOX[3], shape)], -1)
    vis = rng.integers(0, 3, shape)
    return img, kp, vis


def _box_fraction(mask: np.ndarray, box: np.ndarray = BOX) -> float:
    x, y, w, h = box.astype(int)
    return float(mask[y:y + h + 1, x:x + w + 1].mean())  # pixel centres inside the closed box


def _check_visibility(kp, vis, new_vis, mask):
    """v changes exactly for labelled keypoints whose rounded pixel is in the mask, and only to 1."""
    col, row = np.floor(kp[..., 0] + 0.5).astype(int), np.floor(kp[..., 1] + 0.5).astype(int)
    inside = (col >= 0) & (col < mask.shape[1]) & (row >= 0) & (row < mask.shape[0])
    under = np.zeros(vis.shape, bool)
    under[inside] = mask[row[inside], col[inside]]
    expected = np.where(under & (vis > 0), 1, vis)
    np.testing.assert_array_equal(new_vis, expected)


def test_defaults_match_constructor():
    occ = Occluder()
    assert (occ.coverage, occ.count, occ.kinds, occ.p) == (
        OCCLUDE_DEFAULTS["coverage"], OCCLUDE_DEFAULTS["count"], OCCLUDE_DEFAULTS["kinds"], OCCLUDE_DEFAULTS["p"])


def test_same_seed_and_index_is_deterministic_and_order_free():
    img, kp, vis = _sample()
    occ = Occluder(seed=5)
    a = occ(img, kp, vis, bbox=BOX, index=3, return_mask=True)
    occ(img, kp, vis, bbox=BOX, index=1)  # an unrelated call in between must not matter
    b = Occluder(seed=5)(img, kp, vis, bbox=BOX, index=3, return_mask=True)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    c = occ(img, kp, vis, bbox=BOX, index=4, return_mask=True)
    assert not np.array_equal(a[3], c[3])
    d = Occluder(seed=6)(img, kp, vis, bbox=BOX, index=3, return_mask=True)
    assert not np.array_equal(a[3], d[3])


def test_without_seed_the_rng_controls_the_result():
    img, kp, vis = _sample()
    occ = Occluder(seed=None)
    a = occ(img, kp, vis, bbox=BOX, rng=np.random.default_rng(7), return_mask=True)
    b = occ(img, kp, vis, bbox=BOX, rng=np.random.default_rng(7), return_mask=True)
    c = occ(img, kp, vis, bbox=BOX, rng=np.random.default_rng(8), return_mask=True)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[3], b[3])
    assert not np.array_equal(a[3], c[3])
    # With no rng, the global numpy RNG (seeded per worker by the data loader) decides.
    np.random.seed(11)
    g1 = occ(img, kp, vis, bbox=BOX, return_mask=True)[3]
    g2 = occ(img, kp, vis, bbox=BOX, return_mask=True)[3]
    np.random.seed(11)
    np.testing.assert_array_equal(occ(img, kp, vis, bbox=BOX, return_mask=True)[3], g1)
    assert not np.array_equal(g1, g2)


def test_keypoints_untouched_and_visibility_follows_mask():
    occ = Occluder(coverage=0.4, seed=0)
    for index in range(20):
        img, kp, vis = _sample(index)
        img0, kp0, vis0 = img.copy(), kp.copy(), vis.copy()
        out, new_kp, new_vis, mask = occ(img, kp, vis, bbox=BOX, index=index, return_mask=True)
        np.testing.assert_array_equal(img, img0)  # input image not modified
        np.testing.assert_array_equal(kp, kp0)
        np.testing.assert_array_equal(vis, vis0)
        np.testing.assert_array_equal(new_kp, kp0)  # keypoints never move...
        assert new_kp is not kp  # ...and are returned as a copy
        assert out.dtype == np.uint8 and out.shape == img.shape and mask.shape == (H, W) and mask.dtype == bool
        assert not (out != img).any(-1)[~mask].any()  # only occluded pixels change
        assert (new_vis[vis0 == 0] == 0).all()
        _check_visibility(kp0, vis0, new_vis, mask)


def test_forced_occluder_over_known_keypoint():
    img = np.full((12, 12, 3), 100, np.uint8)
    kp = np.array([[5.0, 6.0], [5.2, 5.8], [4.9, 6.4]])
    vis = np.array([2, 0, 1])
    occ = Occluder(coverage=0.9, count=(3, 3), kinds=("rectangle",), seed=0)
    out, new_kp, new_vis, mask = occ(img, kp, vis, bbox=np.array([0.0, 0.0, 11.0, 11.0]), return_mask=True)
    assert mask[6, 5]
    np.testing.assert_array_equal(new_vis, [1, 0, 1])


def test_keypoint_away_from_occluders_keeps_visibility():
    img, _, _ = _sample()
    # Object box in the top-left corner; a second labelled point far away at the bottom right.
    kp = np.array([[4.0, 4.0], [8.0, 6.0], [6.0, 9.0], [44.0, 60.0], [-3.0, 5.0], [10.0, 70.0]])
    vis = np.array([2, 2, 2, 2, 2, 2])
    out, _, new_vis, mask = Occluder(coverage=0.3, seed=2)(img, kp, vis, bbox=np.array([2.0, 2.0, 9.0, 9.0]),
                                                           index=0, return_mask=True)
    assert mask[:12, :12].any() and not mask[55:, 38:].any()
    assert new_vis[3] == 2  # not under any occluder
    assert new_vis[4] == 2 and new_vis[5] == 2  # outside the image: unchanged
    _check_visibility(kp, vis, new_vis, mask)


@pytest.mark.parametrize("coverage,kinds", [(0.25, OCCLUDE_DEFAULTS["kinds"]), (0.5, ("ellipse", "rectangle", "blob"))])
def test_mean_coverage_near_request(coverage, kinds):
    # Each occluder is rescaled until its new pixels in the box are within ~8% of its share, and adding stops
    # at 98% of the target, so a sample lands a few percent from it; rare shortfalls (irregular polygons,
    # count max reached) pull the mean down a little. Measured means: 0.247-0.249 (0.25), 0.49-0.50 (0.5).
    # A tolerance of 0.03 absolute leaves room for those without hiding a systematic sizing error.
    occ = Occluder(coverage=coverage, kinds=kinds, seed=1)
    img, kp, vis = _sample()
    fractions = [_box_fraction(occ(img, kp, vis, bbox=BOX, index=i, return_mask=True)[3]) for i in range(50)]
    assert abs(np.mean(fractions) - coverage) < 0.03
    assert np.median(fractions) == pytest.approx(coverage, abs=0.02)


def test_default_bbox_and_many_keypoints():
    img, kp, vis = _sample(3, k=68)
    vis[:] = 2
    out, new_kp, new_vis, mask = Occluder(seed=4)(img, kp, vis, index=0, return_mask=True)
    box = default_bbox(kp, vis)
    assert box[0] < kp[:, 0].min() and box[0] + box[2] > kp[:, 0].max()
    assert 0.15 < _box_fraction(mask, box) < 0.35
    assert (new_vis == 1).any() and (new_vis == 2).any()
    _check_visibility(kp, vis, new_vis, mask)


def test_multi_instance_input():
    img, kp, vis = _sample(4, n=3)
    vis[2] = 0  # a padded instance: no labelled keypoint, no occluder, stays 0
    out, new_kp, new_vis, mask = Occluder(seed=0)(img, kp, vis, index=2, return_mask=True)
    assert new_kp.shape == (3, K, 2) and new_vis.shape == (3, K)
    np.testing.assert_array_equal(new_kp, kp)
    assert (new_vis[2] == 0).all()
    _check_visibility(kp, vis, new_vis, mask)
    boxes = np.array([BOX, BOX, [0.0, 0.0, 0.0, 0.0]])  # per-instance boxes; an empty box is skipped
    out2, _, vis2, mask2 = Occluder(seed=0)(img, kp, vis, bbox=boxes, index=2, return_mask=True)
    assert mask2.any()
    _check_visibility(kp, vis, vis2, mask2)


def test_patch_uses_source_pixels_and_falls_back_without_source():
    img, kp, vis = _sample()
    colour = np.array([7, 200, 13], np.uint8)
    source = lambda rng: np.broadcast_to(colour, (20, 30, 3)).copy()  # noqa: E731
    out, _, _, mask = Occluder(kinds=("patch",), seed=0, patch_source=source)(img, kp, vis, bbox=BOX, return_mask=True)
    assert mask.any() and (out[mask] == colour).all()
    out, _, _, mask = Occluder(kinds=("patch",), seed=0)(img, kp, vis, bbox=BOX, return_mask=True)
    assert mask.sum() > 0.1 * BOX[2] * BOX[3]  # textured polygon fallback


def test_p_and_zero_coverage_leave_image_alone():
    img, kp, vis = _sample()
    for occ in (Occluder(p=0.0, seed=0), Occluder(coverage=0.0, seed=0)):
        out, new_kp, new_vis, mask = occ(img, kp, vis, bbox=BOX, return_mask=True)
        np.testing.assert_array_equal(out, img)
        assert out is not img and not mask.any()
        np.testing.assert_array_equal(new_vis, vis)


def test_mark_occluded_rounds_to_pixel_centres():
    mask = np.zeros((4, 4), bool)
    mask[1, 2] = True
    kp = np.array([[2.49, 0.51], [1.51, 1.4], [2.0, 1.0], [np.nan, np.nan], [3.6, 1.0]])
    vis = np.array([2, 2, 0, 2, 2])
    np.testing.assert_array_equal(mark_occluded(kp, vis, mask), [1, 1, 0, 2, 2])


@pytest.mark.parametrize("kwargs,match", [
    ({"coverage": 1.0}, "coverage"), ({"coverage": -0.1}, "coverage"),
    ({"kinds": ("elipse",)}, "Did you mean 'ellipse'"), ({"kinds": ()}, "empty"),
    ({"count": (3, 1)}, "count"), ({"count": 0}, "count"), ({"count": "ab"}, "count"),
    ({"coverage": "x"}, "coverage"), ({"p": 1.5}, "probability"), ({"seed": -1}, "seed"),
    ({"patch_source": 3}, "callable"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(AdaAnchorError, match=match):
        Occluder(**kwargs)


def test_bad_call_arguments():
    img, kp, vis = _sample()
    occ = Occluder(seed=0)
    with pytest.raises(AdaAnchorError, match=r"visibility shape \(16,\) does not match"):
        occ(img, kp, vis[:16])
    with pytest.raises(AdaAnchorError, match="keypoints must be"):
        occ(img, kp[:, :1], vis)
    with pytest.raises(AdaAnchorError, match="uint8 image"):
        occ(img.astype(np.float32), kp, vis)
    with pytest.raises(AdaAnchorError, match="bbox"):
        occ(img, kp, vis, bbox=[1, 2, 3])
    with pytest.raises(AdaAnchorError, match="values must be 0, 1 or 2"):
        occ(img, kp, vis + 1)
    with pytest.raises(AdaAnchorError, match="index"):
        occ(img, kp, vis, index=-1)
    bad = Occluder(kinds=("patch",), seed=0, patch_source=lambda rng: np.zeros((5, 5), np.uint8))
    with pytest.raises(AdaAnchorError, match="patch_source must return"):
        bad(img, kp, vis, bbox=BOX)
