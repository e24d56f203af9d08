"""Whole items, augmentation on: a blob drawn at keypoint ``k`` of the original image is found, in the item's
image, at the coordinates the item gives the label that ``k`` carries after the flip (``flip_index[k]`` when the
affine mirrors), for the top-down crops (flip, rotation, scale, half-body, truncation) and the whole-image
multi-person data (flip, rotation, zoom, shift). Seeded per sample as the training sampler does."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adaanchor.data.bottomup import BottomUpDataset
from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec
from adaanchor.data.truncation import Truncation
from adaanchor.data.types import from_tensor_image

SPEC = load_spec("coco")
W, H = 160, 120


def _instance(tmp_path, k: int, px: float, py: float, rng: np.random.Generator) -> Instance:
    yy, xx = np.mgrid[0:H, 0:W]
    blob = np.exp(-((xx - px) ** 2 + (yy - py) ** 2) / (2 * 3.0**2))
    Image.fromarray(np.repeat((blob * 255).round().astype(np.uint8)[..., None], 3, 2)).save(tmp_path / "dot.png")
    kp = np.stack([rng.uniform(30, 130, 17), rng.uniform(20, 100, 17)], 1)
    kp[k] = (px, py)
    return Instance(str(tmp_path / "dot.png"), 1, 1, kp, np.full(17, 2, np.int64), np.array([20.0, 10.0, 120.0, 100.0]), 1.0)


def _blob_centre(img: np.ndarray, x: float, y: float, r: int = 6) -> np.ndarray:
    ix, iy = int(round(x)), int(round(y))
    ys, xs = np.mgrid[iy - r:iy + r + 1, ix - r:ix + r + 1]
    win = img[iy - r:iy + r + 1, ix - r:ix + r + 1].astype(np.float64)
    return np.array([(win * xs).sum(), (win * ys).sum()]) / win.sum()


@settings(max_examples=40, deadline=None)
@given(k=st.integers(0, 16), px=st.floats(45, 115), py=st.floats(35, 85), seed=st.integers(0, 2**31 - 1),
       top_down=st.booleans())
def test_the_blob_is_where_its_label_says(tmp_path_factory, k, px, py, seed, top_down):
    tmp = tmp_path_factory.mktemp("dot")
    inst = _instance(tmp, k, px, py, np.random.default_rng(seed))
    if top_down:
        ds = TopDownDataset([inst], SPEC, (96, 128), crop="box", train=True, truncation=Truncation(0.5, 0.1),
                            aug={"flip": 0.5, "rotation": 40.0, "scale": 0.3, "half_body": 0.3})
    else:
        ds = BottomUpDataset([[inst]], SPEC, (128, 96), train=True)
    np.random.seed(seed % 2**32)
    item = ds[0]
    a = item["meta"]["affine"]
    label = SPEC.flip_index[k] if np.linalg.det(a[:, :2]) < 0 else k
    x, y = item["keypoints"][0, label].tolist()
    img = from_tensor_image(item["image"])[..., 0]
    if not (7 <= x <= img.shape[1] - 8 and 7 <= y <= img.shape[0] - 8):
        return  # the blob is cut by the input's edge: its centre cannot be measured
    assert int(item["visibility"][0, label]) == 2
    assert np.hypot(*(_blob_centre(img, x, y) - (x, y))) < 0.35
