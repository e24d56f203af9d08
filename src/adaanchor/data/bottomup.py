"""Whole-image data for bottom-up (multi-person) pose: every person of an image in one item.

One 2x3 affine ``A`` maps original-image pixels to input pixels (docs/conventions.md: pixel centres at
integers), the image is warped with it and the keypoints mapped with it; predictions return with the exact
inverse, :func:`to_image_coords`.

Training (the paper's ranges, appendix A.3): the image's short side is scaled to the input's short side, as at test
time (aspect kept, about the image's centre: the rest of a wider image is outside the input), then zoomed by
``s ~ U(scale)`` (``s > 1`` magnifies), rotated by ``U(-rotation, rotation)`` degrees
about the centre, shifted by ``U(-translation, translation)`` pixels *of a 512-pixel input* in x and y (scaled
to the input: ``t * min(W, H) / 512``), and mirrored with probability ``flip`` (labels swapped with the spec's
flip pairs). A keypoint that ends up outside the input, or is labelled beyond the image border, becomes ``v=1``
(it keeps its coordinates, as in the top-down pipeline); one farther than ``outside_margin`` times the input
size past the border becomes ``v=0``: no anchor could reach it and it would only pull the assignment to the border.

Test time: the short side is resized to ``short_side`` (default the input's short side), the aspect ratio
kept, and the input is padded right and bottom to a multiple of ``multiple`` (the backbone's). An image longer
than :data:`MAX_ASPECT` times its short side is scaled so that its long side is ``MAX_ASPECT * short_side``
instead (in training too, so that both see people at one scale): without the cap a 1x300-pixel strip became a
48x14,400 input at a 48-pixel short side, and a panorama a memory error.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..coords import outside_frame
from ..errors import DataError
from .dataset import DatasetImages
from .image_cache import DEFAULT_CACHE_MB
from .records import Instance
from .spec import KeypointSpec
from .transforms import apply_affine, crop_affine, flip_keypoints, invert_affine, warp_image
from .types import to_tensor_image

BOTTOMUP_AUG: dict[str, Any] = {
    "rotation": 30.0,  # degrees, uniform in [-r, r]
    "scale": (0.75, 1.5),  # zoom factor range, uniform
    "translation": 40.0,  # pixels at a 512-pixel input, uniform in [-t, t] per axis, scaled to the input
    "flip": 0.5,  # probability of a horizontal mirror
    "outside_margin": 0.25,  # keypoints farther out than this fraction of the input size get v=0
}

#: The longest input side, in multiples of the short side (:func:`image_scale`): a 4:1 panorama is still at full
#: scale; anything longer is scaled down to fit.
MAX_ASPECT = 4.0


def image_scale(img_hw: Sequence[int], short_side: float) -> float:
    """The factor from image to input pixels: the short side to ``short_side``, unless that makes the long side
    longer than ``MAX_ASPECT * short_side``, then the long side to that length."""
    h, w = float(img_hw[0]), float(img_hw[1])
    return min(float(short_side) / min(h, w), MAX_ASPECT * float(short_side) / max(h, w))


def train_affine(img_hw: Sequence[int], out_wh: Sequence[int], rot: float, zoom: float, shift: Sequence[float],
                 flip: bool, short_side: int | None = None) -> np.ndarray:
    """The training affine: the image's short side scaled to ``short_side`` (default the input's short side), as
    at test time (:func:`eval_affine`), about the image's centre; then zoomed by ``zoom``, rotated by ``rot``
    degrees, mirrored and shifted by ``shift`` (x, y) input pixels. Fitting the whole image (its long side) instead
    trained people at another scale than the test's: 0.75x for a 640x480 photo at a 512x512 input."""
    h, w = float(img_hw[0]), float(img_hw[1])
    s = image_scale(img_hw, short_side or min(out_wh))
    center = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    size = np.array([float(out_wh[0]), float(out_wh[1])]) / s
    a = crop_affine(center, size / float(zoom), (int(out_wh[0]), int(out_wh[1])), rot, flip)
    a[:, 2] += np.asarray(shift, dtype=np.float64)
    return a


def eval_affine(img_hw: Sequence[int], short_side: int, multiple: int = 1) -> tuple[np.ndarray, tuple[int, int]]:
    """Short side to ``short_side`` (the long side at most ``MAX_ASPECT`` times it: :func:`image_scale`), aspect
    kept: the affine and the padded input size ``(W, H)``.

    With pixel centres at integers, scaling by ``s`` about the image's outer corner is
    ``x' = s (x + 0.5) - 0.5``, so pixel edges map to pixel edges.
    """
    h, w = float(img_hw[0]), float(img_hw[1])
    s = image_scale(img_hw, short_side)
    a = np.array([[s, 0.0, 0.5 * s - 0.5], [0.0, s, 0.5 * s - 0.5]])
    out_w = int(math.ceil(round(w * s, 6) / multiple) * multiple)
    out_h = int(math.ceil(round(h * s, 6) / multiple) * multiple)
    return a, (out_w, out_h)


def to_image_coords(xy: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """Input-pixel predictions ``(..., 2)`` back to original-image pixels (the exact inverse of ``affine``)."""
    return apply_affine(invert_affine(affine), xy)


def group_by_image(instances: Sequence[Instance]) -> list[list[Instance]]:
    """Instances grouped by ``image_id``, in order of first appearance."""
    groups: dict[int, list[Instance]] = {}
    for inst in instances:
        groups.setdefault(inst.image_id, []).append(inst)
    return list(groups.values())


class BottomUpDataset(Dataset):
    """Items: ``image (3, H, W)``, ``keypoints (N, K, 2)``, ``visibility (N, K)`` (N >= 1 people of the image: the
    constructor refuses an image without one) and ``meta`` (``image_id``, ``affine``, ``image_path``, ``image_size`` ``(W, H)``).

    Batches are made by :func:`adaanchor.data.types.collate`, which pads ``N`` with visibility 0. At test time
    with images of different sizes, use batch size 1 (the padded input size follows each image).

    Args:
        images: instances grouped per image (:func:`group_by_image`); a group may be empty only if
            ``image_paths`` gives its path.
        spec: the keypoint set (flip pairs).
        input_size: ``(W, H)`` of the training input; at test time its short side is the default ``short_side``.
        train: augment (numpy's global RNG, seeded per sample by the training sampler).
        aug: options of :data:`BOTTOMUP_AUG`.
        short_side, multiple: test-time resizing (see :func:`eval_affine`).
        cache_images: keep decoded images in memory, up to ``cache_mb`` MiB (:mod:`.image_cache`).
        exif: ``"ignore"`` or ``"apply"``: the EXIF orientation of the images, as ``data.exif`` says
            (:class:`~adaanchor.data.dataset.DatasetImages`, as the top-down dataset reads them).
        bit_depth: the bit depth of integer images wider than 8 bits (``data.bit_depth``; None: guessed per image).
    """

    def __init__(self, images: Sequence[Sequence[Instance]], spec: KeypointSpec, input_size: Sequence[int],
                 train: bool = False, aug: Mapping[str, Any] | None = None, short_side: int | None = None,
                 multiple: int = 32, cache_images: bool = False, exif: str = "ignore", bit_depth: int | None = None,
                 cache_mb: float = DEFAULT_CACHE_MB):
        self.images = [list(g) for g in images]
        if any(not g for g in self.images):
            raise ValueError("every image group needs at least one instance (its path and id come from it)")
        self.spec, self.train = spec, train
        self.out_wh = (int(input_size[0]), int(input_size[1]))
        self.aug = {**BOTTOMUP_AUG, **(aug or {})}
        self.short_side = int(short_side or min(self.out_wh))
        self.multiple = int(multiple)
        self._images = DatasetImages(cache_images, exif, bit_depth, cache_mb)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def instances(self) -> list[Instance]:
        """Every person of every image, in item order (the flat list a top-down dataset holds)."""
        return [inst for group in self.images for inst in group]

    def _image(self, path: str) -> np.ndarray:
        return self._images(path)

    def affine_for(self, img_hw: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int], bool]:
        """The affine, the input size and whether it mirrors."""
        if not self.train:
            a, size = eval_affine(img_hw, self.short_side, self.multiple)
            return a, size, False
        g = self.aug
        rot = float(np.random.uniform(-g["rotation"], g["rotation"]))
        zoom = float(np.random.uniform(*g["scale"]))
        t = float(g["translation"]) * min(self.out_wh) / 512.0
        shift = np.random.uniform(-t, t, 2)
        flip = bool(np.random.rand() < g["flip"])
        return train_affine(img_hw, self.out_wh, rot, zoom, shift, flip, self.short_side), self.out_wh, flip

    def __getitem__(self, idx: int) -> dict[str, Any]:
        group = self.images[idx]
        first = group[0]
        try:
            img = self._image(first.image_path)
        except DataError as e:
            raise DataError(e.path, e.reason, record=f"item {idx} (image_id {first.image_id})", field="image") from None
        a, (w, h), flip = self.affine_for(img.shape[:2])
        kpts = np.stack([i.keypoints for i in group]).astype(np.float64)  # (N, K, 2)
        vis = np.stack([i.visibility for i in group]).astype(np.int64)
        xy = apply_affine(a, kpts)
        # Beyond the image border a label is not visible (zoomed out, the input shows black padding there), as in
        # the top-down crops; the flag is taken before the flip reorders the labels, and follows them.
        off = outside_frame(kpts[..., 0], kpts[..., 1], img.shape[1], img.shape[0])
        vis = np.where((vis == 2) & off, 1, vis)
        if flip:
            vis, xy = flip_keypoints(vis, xy, self.spec.flip_index)
        if self.train:
            vis = self._outside(xy, vis, w, h)
        xy = np.where(vis[..., None] > 0, xy, 0.0)
        return {
            "image": to_tensor_image(warp_image(img, a, (w, h))),
            "keypoints": torch.from_numpy(xy.astype(np.float32)),
            "visibility": torch.from_numpy(vis),
            "meta": {"image_id": first.image_id, "affine": a, "image_path": first.image_path,
                     "image_size": (int(img.shape[1]), int(img.shape[0]))},
        }

    def _outside(self, xy: np.ndarray, vis: np.ndarray, w: int, h: int) -> np.ndarray:
        """Visibility after the warp: v=1 outside the input, v=0 past the margin."""
        m = float(self.aug["outside_margin"])
        x, y = xy[..., 0], xy[..., 1]
        out, far = outside_frame(x, y, w, h), outside_frame(x, y, w, h, margin=m)
        return np.where(far, 0, np.where(out & (vis == 2), 1, vis))


__all__ = ["BOTTOMUP_AUG", "MAX_ASPECT", "BottomUpDataset", "eval_affine", "group_by_image", "image_scale",
           "to_image_coords", "train_affine"]
