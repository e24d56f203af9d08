"""Property tests of the top-down geometry: the crop affine, its inverse, and where image content lands."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from adaanchor.data.transforms import (
    BOX_PADDING,
    apply_affine,
    box_to_center_scale,
    crop_affine,
    invert_affine,
    warp_image,
)

finite = dict(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(
    box=st.tuples(st.floats(-500, 2000, **finite), st.floats(-500, 2000, **finite),
                  st.floats(1.0, 1500, **finite), st.floats(1.0, 1500, **finite)),
    out_w=st.integers(8, 384),
    out_h=st.integers(8, 384),
    rot=st.floats(-180, 180, **finite),
    flip=st.booleans(),
    scale=st.floats(0.5, 1.5, **finite),
    pts=st.lists(st.tuples(st.floats(-3000, 3000, **finite), st.floats(-3000, 3000, **finite)), min_size=1, max_size=8),
)
def test_crop_then_inverse_is_identity(box, out_w, out_h, rot, flip, scale, pts):
    center, size = box_to_center_scale(box, out_w / out_h)
    # the region has the crop's aspect ratio and holds the padded box
    assert np.isclose(size[0] / size[1], out_w / out_h)
    assert size[0] >= box[2] * BOX_PADDING * (1 - 1e-9) and size[1] >= box[3] * BOX_PADDING * (1 - 1e-9)
    a = crop_affine(center, size * scale, (out_w, out_h), rot, flip)
    p = np.asarray(pts, dtype=np.float64)
    back = apply_affine(invert_affine(a), apply_affine(a, p))
    np.testing.assert_allclose(back, p, rtol=0, atol=1e-7 * (1 + np.abs(p).max()))
    # the region's centre goes to the crop's centre, whatever the rotation and flip
    np.testing.assert_allclose(apply_affine(a, center), [(out_w - 1) / 2, (out_h - 1) / 2],
                               atol=1e-7 * (1 + np.abs(center).max()))
    # the affine is a similarity with scale out_w / region width (a mirror when flipped)
    lin = a[:, :2]
    s = out_w / (size[0] * scale)
    np.testing.assert_allclose(lin @ lin.T, s * s * np.eye(2), rtol=1e-9, atol=1e-12 * (1 + s * s))
    assert np.sign(np.linalg.det(lin)) == (-1 if flip else 1)


@settings(max_examples=150, deadline=None)
@given(
    img_w=st.integers(6, 64),
    img_h=st.integers(6, 64),
    px=st.floats(0, 1, **finite),
    py=st.floats(0, 1, **finite),
    out_w=st.integers(4, 48),
    out_h=st.integers(4, 48),
    qx=st.floats(0, 1, **finite),
    qy=st.floats(0, 1, **finite),
    s=st.sampled_from([0.5, 1.0, 2.0, 3.0]),
    flip=st.booleans(),
)
def test_bright_pixel_lands_at_affine_image(img_w, img_h, px, py, out_w, out_h, qx, qy, s, flip):
    """A single bright pixel at original point p appears at crop pixel A p (no rotation, integer-friendly
    scale: the region is chosen so that A p is a pixel centre of the crop)."""
    p = np.array([round(px * (img_w - 1)), round(py * (img_h - 1))], dtype=np.float64)
    q = np.array([round(qx * (out_w - 1)), round(qy * (out_h - 1))], dtype=np.float64)
    img = np.zeros((img_h, img_w, 3), dtype=np.uint8)
    img[int(p[1]), int(p[0])] = 255
    out_c = np.array([(out_w - 1) / 2, (out_h - 1) / 2])
    mirror = np.array([-1.0, 1.0]) if flip else np.ones(2)
    # A p = mirror * s * (p - c) + out_c = q  =>  c = p - mirror * (q - out_c) / s
    center = p - mirror * (q - out_c) / s
    a = crop_affine(center, np.array([out_w / s, out_h / s]), (out_w, out_h), 0.0, flip)
    np.testing.assert_allclose(apply_affine(a, p), q, atol=1e-9)
    crop = warp_image(img, a, (out_w, out_h))
    assert crop.shape == (out_h, out_w, 3)
    assert crop[int(q[1]), int(q[0]), 0] == 255
    # it is the brightest place, and nothing lights up farther than one source pixel away
    ys, xs = np.nonzero(crop[..., 0])
    d = np.abs(np.stack([xs, ys], 1) - q).max(axis=1)
    assert np.all(d < s + 1e-9), (d, s)
    assert crop[..., 0].max() == 255


def test_box_center_is_box_middle():
    c, size = box_to_center_scale([10, 20, 11, 21], aspect=1.0)
    np.testing.assert_allclose(c, [15, 30])  # pixel centres 10..20 and 20..40
    np.testing.assert_allclose(size, [21 * BOX_PADDING] * 2)
