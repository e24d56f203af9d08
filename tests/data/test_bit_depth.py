"""``data.bit_depth``: one scale for every integer image wider than 8 bits. Guessed per image, a dark frame of a
12-bit camera (largest value 200) read as 8-bit and came out 16x brighter than its neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adaanchor.config import build_config
from adaanchor.data.dataset import DatasetImages
from adaanchor.data.image_read import read_image
from adaanchor.data.pixels import ImageValueError, guessed_bit_depth, rgb8
from adaanchor.errors import AdaAnchorError, DataError

DARK = np.array([[0, 100, 200]], dtype=np.uint16)  # a dark 12-bit frame
BRIGHT = np.array([[0, 200, 4000]], dtype=np.uint16)  # a bright one of the same camera


def _twelve_bit(x: np.ndarray) -> np.ndarray:
    return np.round(x.astype(np.float64) * 255.0 / 4095.0).astype(np.uint8)


def test_a_declared_bit_depth_scales_dark_and_bright_frames_alike():
    # Guessed: the dark frame reads as 8-bit, so the same value 200 is 200 in one frame and 12 in the other.
    assert rgb8(DARK)[0, 2, 0] == 200 and rgb8(BRIGHT)[0, 1, 0] == 12
    for frame in (DARK, BRIGHT):
        np.testing.assert_array_equal(rgb8(frame, bit_depth=12)[..., 0], _twelve_bit(frame))


def test_a_value_above_the_declared_depth_is_refused_and_8_bit_images_are_as_they_are():
    with pytest.raises(ImageValueError, match=r"4096 does not fit the declared bit depth of 12 \(at most 4095\)"):
        rgb8(np.array([[4096]], dtype=np.uint16), bit_depth=12)
    u8 = np.array([[0, 128, 255]], dtype=np.uint8)
    np.testing.assert_array_equal(rgb8(u8, bit_depth=12)[..., 0], u8)


def test_files_read_with_the_declared_depth_and_a_file_beyond_it_is_named(tmp_path):
    dark, bright = tmp_path / "dark.png", tmp_path / "bright.png"
    Image.fromarray(DARK).save(dark)
    Image.fromarray(BRIGHT).save(bright)
    images = DatasetImages(bit_depth=12)
    np.testing.assert_array_equal(images(str(dark))[..., 0], _twelve_bit(DARK))
    np.testing.assert_array_equal(images(str(bright))[..., 0], _twelve_bit(BRIGHT))
    assert read_image(dark)[0][0, 2, 0] == 200  # the default still guesses per image
    with pytest.raises(DataError, match=r"bright\.png: a value of 4000 does not fit the declared bit depth of 10"):
        read_image(bright, bit_depth=10)


@pytest.mark.parametrize("bad", ["7", "33", "2.5", "twelve"])
def test_the_config_takes_a_whole_bit_depth_from_8_to_32_or_null(bad):
    assert build_config(None, ["data.bit_depth=12"]).data.bit_depth == 12
    assert build_config(None, []).data.bit_depth is None
    with pytest.raises(AdaAnchorError, match=r"data\.bit_depth"):
        build_config(None, [f"data.bit_depth={bad}"])


def test_the_datasets_read_with_the_configured_depth(tmp_path):
    from adaanchor.data.build import build_dataset

    rows = ["image,x0,y0,x1,y1"]
    for i, frame in enumerate((DARK, BRIGHT)):
        Image.fromarray(np.repeat(np.repeat(frame, 8, 0), 4, 1)).save(tmp_path / f"f_{i}.png")
        rows.append(f"f_{i}.png,1,1,5,5")
    (tmp_path / "pts.csv").write_text("\n".join(rows) + "\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("keypoints: [a, b]\n")
    cfg = build_config(None, ["data.format=csv", f"data.root={tmp_path}", "data.train=pts.csv", "data.val=pts.csv",
                              f"data.spec={spec}", "data.bit_depth=12", "data.input_size=[32,32]"])
    ds = build_dataset(cfg.data, "val", verbose=False)
    assert ds._images.bit_depth == 12
    np.testing.assert_array_equal(ds.image(ds.instances[0].image_path)[0, ::4, 0], _twelve_bit(DARK)[0])


def test_a_dataset_whose_guessed_depths_differ_warns_once_and_a_declared_depth_is_quiet(tmp_path):
    paths = []
    for i, frame in enumerate((DARK, BRIGHT, DARK)):
        paths.append(str(tmp_path / f"f{i}.png"))
        Image.fromarray(frame).save(paths[-1])
    images = DatasetImages()
    images(paths[0])
    with pytest.warns(UserWarning, match=r"f1\.png: read as 12-bit, .*f0\.png as 8-bit.*set data\.bit_depth") as rec:
        images(paths[1])
        images(paths[2])
    assert len(rec) == 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in paths:
            DatasetImages(bit_depth=12)(p)
        same = DatasetImages()
        same(paths[0]), same(paths[2])  # one depth guessed: nothing to say


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([np.uint16, np.int16, np.int32, np.uint32]), st.integers(0, 2 ** 20), st.integers(1, 9))
def test_the_guessed_depth_is_the_one_rgb8_scales_by(dtype, top, seed):
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    x = rng.integers(max(info.min, -1000), min(info.max, top) + 1, (4, 5)).astype(dtype)
    d = guessed_bit_depth(x)
    np.testing.assert_array_equal(rgb8(x), rgb8(x, bit_depth=d))
    assert guessed_bit_depth(x.astype(np.uint8)) is None and guessed_bit_depth(x.astype(np.float32)) is None


def test_a_yaml_float_depth_is_read_as_a_whole_number():
    from adaanchor.data.build import bit_depth_of

    assert bit_depth_of(build_config(None, ["data.bit_depth=12.0"]).data) == 12
    assert bit_depth_of(build_config(None, []).data) is None
