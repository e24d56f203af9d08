"""Half-body augmentation follows the HRNet recipe it names: the crop is the chosen half's extent enlarged 1.5x
(aspect-corrected), not padded a second time by the 1.25x of person boxes (it was 1.875x), and it is taken only
when more than half of the keypoints are labelled (HRNet: more than 8 of COCO's 17), so that a person with three
labelled face points is not zoomed onto them (a 20-pixel crop of a 280-pixel person)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import half_body_box

SPEC = load_spec("coco")
OUT_W, OUT_H = 48, 64
BOX = np.array([30.0, 10.0, 140.0, 280.0])


def _keypoints() -> np.ndarray:
    kp = np.zeros((17, 2))
    kp[:, 0], kp[:, 1] = 100.0, np.linspace(20, 280, 17)
    kp[5:11, 0] = [60, 140, 50, 150, 40, 160]
    return kp


def _dataset(tmp_path, kp: np.ndarray, vis: np.ndarray) -> tuple[TopDownDataset, Instance]:
    path = tmp_path / "p.png"
    Image.new("RGB", (200, 300)).save(path)
    inst = Instance(str(path), 1, 1, kp, vis, BOX.copy(), 1.0)
    return TopDownDataset([inst], SPEC, (OUT_W, OUT_H), crop="box", train=True, aug={"flip": 0.0, "half_body": 1.0}), inst


def _hrnet_height(pts: np.ndarray) -> float:
    """HRNet's half-body crop height: the extent made to the input's aspect, times 1.5."""
    w, h = np.ptp(pts[:, 0]), np.ptp(pts[:, 1])
    return 1.5 * max(h, w * OUT_H / OUT_W)


def test_the_half_body_crop_is_one_and_a_half_times_the_part(tmp_path):
    kp = _keypoints()
    ds, inst = _dataset(tmp_path, kp, np.full(17, 2))
    expected = {round(_hrnet_height(kp[list(part)]), 6) for part in (SPEC.upper_body, SPEC.lower_body)}
    seen = set()
    for seed in range(12):
        np.random.seed(seed)
        a, _ = ds.affine_for(inst, (300, 200), 0)
        seen.add(round(OUT_H / a[1, 1], 6))  # crop height in image pixels (no rotation, no scale augmentation)
    assert seen == expected


def test_too_few_labelled_keypoints_keep_the_person_crop(tmp_path):
    kp, vis = _keypoints(), np.zeros(17, np.int64)
    kp[:3], vis[:3] = [[100, 40], [96, 37], [104, 37]], 2  # nose and eyes only
    ds, inst = _dataset(tmp_path, kp, vis)
    np.random.seed(0)
    a, _ = ds.affine_for(inst, (300, 200), 0)
    assert np.isclose(OUT_H / a[1, 1], 1.25 * BOX[3])


@settings(max_examples=80, deadline=None)
@given(labelled=st.sets(st.integers(0, 16)), seed=st.integers(0, 2**31 - 1))
def test_half_body_needs_more_than_half_the_keypoints(labelled, seed):
    vis = np.zeros(17, np.int64)
    vis[list(labelled)] = 2
    box = half_body_box(_keypoints(), vis, SPEC.upper_body, SPEC.lower_body, np.random.default_rng(seed))
    up, lo = (sum(1 for i in part if i in labelled) for part in (SPEC.upper_body, SPEC.lower_body))
    assert (box is not None) == (len(labelled) > 8 and max(up, lo) >= 3)
