"""The coordinate convention: pixel centres at integers, cell (i, j) centred at (s*j + (s-1)/2, s*i + (s-1)/2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

from adaanchor.coords import bilinear_sample, cell_centers, cell_to_input, input_to_cell, outside_frame

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True)


def test_cell_centers_values_and_order():
    c = cell_centers(2, 3, 4)
    assert c.shape == (6, 2) and c.dtype == torch.float32
    # row-major, (x, y): cell (0,0) spans pixels 0..3 -> centre 1.5; cell (0,1) spans 4..7 -> 5.5
    expected = torch.tensor([[1.5, 1.5], [5.5, 1.5], [9.5, 1.5], [1.5, 5.5], [5.5, 5.5], [9.5, 5.5]])
    torch.testing.assert_close(c, expected, rtol=0, atol=0)


def test_stride_one_cells_are_pixels_and_stride_two_halves():
    torch.testing.assert_close(cell_centers(1, 4, 1)[:, 0], torch.tensor([0.0, 1.0, 2.0, 3.0]))
    # a stride-2 cell covers pixels 0 and 1: its centre is 0.5
    torch.testing.assert_close(cell_centers(1, 2, 2)[:, 0], torch.tensor([0.5, 2.5]))


@pytest.mark.parametrize("stride", [1, 2, 4, 8])
def test_centres_map_to_integer_cells(stride):
    h, w = 3, 5
    uv = input_to_cell(cell_centers(h, w, stride), stride)
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    expected = torch.tensor(np.stack([jj.reshape(-1), ii.reshape(-1)], axis=1), dtype=torch.float32)
    torch.testing.assert_close(uv, expected, rtol=0, atol=0)


@SETTINGS
@given(
    stride=hst.sampled_from([1, 2, 3, 4, 8, 16, 32]),
    x=hst.floats(-1e3, 1e3, allow_nan=False),
    y=hst.floats(-1e3, 1e3, allow_nan=False),
)
def test_input_to_cell_and_back_are_inverses(stride, x, y):
    xy = torch.tensor([[x, y]], dtype=torch.float64)
    torch.testing.assert_close(cell_to_input(input_to_cell(xy, stride), stride), xy, rtol=0, atol=1e-9)
    torch.testing.assert_close(input_to_cell(cell_to_input(xy, stride), stride), xy, rtol=0, atol=1e-9)
    # cell coordinate is linear with slope 1/stride: one cell = stride pixels
    torch.testing.assert_close(
        input_to_cell(xy + stride, stride) - input_to_cell(xy, stride), torch.ones(1, 2, dtype=torch.float64)
    )


def _fmap(h: int, w: int, c: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(1, c, h, w, generator=gen)


@pytest.mark.parametrize("stride", [1, 4, 8])
def test_bilinear_at_cell_centres_is_exact(stride):
    h, w = 4, 5
    fmap = _fmap(h, w, 3)
    pts = cell_centers(h, w, stride).unsqueeze(0)
    out = bilinear_sample(fmap, pts, stride)
    assert out.shape == (1, h * w, 3)
    torch.testing.assert_close(out[0], fmap[0].reshape(3, -1).T, rtol=0, atol=1e-6)


def test_bilinear_halfway_is_the_mean():
    s = 4
    fmap = _fmap(3, 4, 2, seed=1)
    f = fmap[0]
    # halfway between cells (1, 1) and (1, 2): x = 4*1.5 + 1.5, y = 4*1 + 1.5
    # halfway between cells (0, 3) and (1, 3); and the middle of cells (1,1), (1,2), (2,1), (2,2)
    pts = torch.tensor([[[7.5, 5.5], [13.5, 3.5], [7.5, 7.5]]])
    out = bilinear_sample(fmap, pts, s)[0]
    torch.testing.assert_close(out[0], (f[:, 1, 1] + f[:, 1, 2]) / 2, rtol=0, atol=1e-6)
    torch.testing.assert_close(out[1], (f[:, 0, 3] + f[:, 1, 3]) / 2, rtol=0, atol=1e-6)
    torch.testing.assert_close(out[2], (f[:, 1, 1] + f[:, 1, 2] + f[:, 2, 1] + f[:, 2, 2]) / 4, rtol=0, atol=1e-6)


def test_bilinear_outside_takes_the_nearest_border_cell():
    s = 4
    fmap = _fmap(3, 4, 1, seed=2)
    f = fmap[0, 0]
    pts = torch.tensor([[[-50.0, 1.5], [1000.0, 9.5], [5.5, -7.0], [-9.0, 99.0]]])
    out = bilinear_sample(fmap, pts, s)[0, :, 0]
    torch.testing.assert_close(out, torch.stack([f[0, 0], f[2, 3], f[0, 1], f[2, 0]]), rtol=0, atol=1e-6)


def _bilinear_np(f: np.ndarray, u: float, v: float) -> np.ndarray:
    """Reference on cell coordinates (u = column, v = row), clamped to the grid."""
    h, w = f.shape[1:]
    u, v = min(max(u, 0.0), w - 1.0), min(max(v, 0.0), h - 1.0)
    j0, i0 = min(int(np.floor(u)), w - 2), min(int(np.floor(v)), h - 2)
    a, b = u - j0, v - i0
    return (1 - a) * (1 - b) * f[:, i0, j0] + a * (1 - b) * f[:, i0, j0 + 1] + (1 - a) * b * f[:, i0 + 1, j0] \
        + a * b * f[:, i0 + 1, j0 + 1]


@SETTINGS
@given(
    stride=hst.sampled_from([2, 4, 8]),
    seed=hst.integers(0, 1000),
    pts=hst.lists(hst.tuples(hst.floats(-1.0, 6.0), hst.floats(-1.0, 4.0)), min_size=1, max_size=6),
)
def test_bilinear_matches_reference(stride, seed, pts):
    h, w = 4, 6
    fmap = _fmap(h, w, 2, seed).double()
    uv = torch.tensor(pts, dtype=torch.float64)
    out = bilinear_sample(fmap, cell_to_input(uv, stride).unsqueeze(0), stride)[0]
    ref = np.stack([_bilinear_np(fmap[0].numpy(), u, v) for u, v in pts])
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-9)


@SETTINGS
@given(
    a=hst.floats(-3, 3), b=hst.floats(-3, 3), c=hst.floats(-3, 3),
    x=hst.floats(1.5, 21.5), y=hst.floats(1.5, 13.5),
)
def test_bilinear_reproduces_linear_maps(a, b, c, x, y):
    """A map linear in the cell centre's coordinates is sampled exactly anywhere between the centres."""
    s, h, w = 4, 4, 6
    cen = cell_centers(h, w, s).double()
    fmap = (a * cen[:, 0] + b * cen[:, 1] + c).view(1, 1, h, w)
    out = bilinear_sample(fmap, torch.tensor([[[x, y]]], dtype=torch.float64), s)
    assert out.item() == pytest.approx(a * x + b * y + c, abs=1e-9)


def test_outside_frame_is_the_pixel_centre_bounds_widened_by_the_margin():
    # A 4 x 2 frame spans [-0.5, 3.5] x [-0.5, 1.5]: the bounds are inside, anything beyond them outside.
    x = np.array([-0.5, 3.5, -0.51, 3.51, 1.0, 1.0, 1.0])
    y = np.array([-0.5, 1.5, 0.0, 0.0, -0.51, 1.51, 1.0])
    np.testing.assert_array_equal(outside_frame(x, y, 4, 2), [False, False, True, True, True, True, False])
    # margin 0.5: 2 pixels more on each side in x (half of 4), 1 in y (half of 2).
    np.testing.assert_array_equal(outside_frame(np.array([-2.5, -2.6, 5.5, 1.0]), np.array([0.0, 0.0, 0.0, 2.5]),
                                                4, 2, margin=0.5), [False, True, False, False])
    t = outside_frame(torch.tensor([-1.0, 0.0]), torch.tensor([0.0, 0.0]), 4, 2)
    assert t.dtype == torch.bool and t.tolist() == [True, False]
    # Float round-off past an edge (1e-9 px) is on the edge; a millionth of a pixel more is past it.
    np.testing.assert_array_equal(outside_frame(np.array([-0.5 - 1e-9, 3.5 + 1e-9, -0.5 - 2e-6, 3.5 + 2e-6]),
                                                np.zeros(4), 4, 2), [False, False, True, True])


@pytest.mark.parametrize("image_wh, input_wh", [((333, 500), (96, 96)), ((37, 91), (192, 256)), ((1001, 999), (128, 96)),
                                                 ((640, 427), (256, 192))])
def test_points_on_an_images_edge_stay_visible_in_its_crop(tmp_path, image_wh, input_wh):
    """x = -0.5 and W - 0.5 lie on the image (docs/conventions.md): the crop's affine put them a rounding error past
    the input's edge, and the item made them invisible (13 of 20 image and input sizes)."""
    from PIL import Image

    from adaanchor.data.dataset import TopDownDataset
    from adaanchor.data.records import Instance
    from adaanchor.data.spec import load_spec

    w, h = image_wh
    Image.new("RGB", image_wh).save(tmp_path / "im.png")
    edges = [(w - 0.5, h - 0.5), (-0.5, -0.5), (w - 0.5, -0.5), (-0.5, h - 0.5), (w - 0.5, h / 2), (w / 2, h - 0.5)]
    kp = np.array(edges + [(w / 2, h / 2)] * (68 - len(edges)))
    inst = Instance(str(tmp_path / "im.png"), 1, 1, kp, np.full(68, 2), np.array([0.0, 0.0, w, h]), float(w * h))
    item = TopDownDataset([inst], load_spec("face68"), list(input_wh), crop="image", train=False)[0]
    assert item["visibility"][0, :len(edges)].tolist() == [2] * len(edges)
