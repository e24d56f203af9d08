"""The top-down dataset: one instance per item, cropped by an affine to the model's input size.

``crop="box"`` crops the instance's box (aspect-corrected, padded 1.25x), as the COCO/MPII/WFLW protocols
do; ``crop="image"`` maps the whole image onto the input (the built-in benchmark, whose images are the
input). Augmentation (training only) is folded into the same affine: flip with flip pairs, rotation, scale,
half-body. Keypoints keep their true coordinates wherever they land: a labelled keypoint that the crop
cuts off, or that lies beyond the image border, becomes ``v=1`` (labelled but not visible in the input), a target
like any other.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from ..coords import outside_frame
from ..errors import DataError
from .image_cache import DEFAULT_CACHE_MB, ImageCache
from .image_read import EXIF_MODES, read_image
from .records import Instance
from .spec import KeypointSpec
from .transforms import (
    BOX_PADDING,
    apply_affine,
    box_to_center_scale,
    crop_affine,
    flip_keypoints,
    half_body_box,
    image_region,
    warp_image,
)
from .truncation import Truncation
from .types import to_tensor_image

AUG_DEFAULTS: dict[str, Any] = {
    "flip": 0.5,  # probability of a horizontal flip (labels swapped with the spec's flip pairs)
    # rotation r in degrees: with probability 0.6 an angle drawn from N(0, r^2) clipped to [-2r, 2r] (SimpleBaseline's
    # and HRNet's recipe: r = 40 rotates about a fifth of all crops beyond 40 degrees, none beyond 80)
    "rotation": 0.0,
    # scale factor s: the crop size is multiplied by 1 + N(0, s^2) clipped to [1 - s, 1 + s]
    "scale": 0.0,
    # probability of cropping the upper or lower body only (needs spec.upper_body and more than half the keypoints
    # labelled: transforms.half_body_box)
    "half_body": 0.0,
}


class DatasetImages:
    """The images of a dataset, read with ``exif`` (:func:`read_image`) and kept in memory when ``cache``, up to
    ``cache_mb`` (:class:`~adaanchor.data.image_cache.ImageCache`: this process's share of it); under
    ``exif="ignore"`` the first image with a rotating EXIF orientation tag gives one warning for the dataset;
    ``bit_depth`` scales integer images wider than 8 bits (None: by the depth guessed per image).
    Shared by the top-down and the whole-image (bottom-up) datasets, so that both read an image alike."""

    def __init__(self, cache: bool = False, exif: str = "ignore", bit_depth: int | None = None,
                 cache_mb: float = DEFAULT_CACHE_MB):
        if exif not in EXIF_MODES:
            raise ValueError(f"exif must be one of {EXIF_MODES}, got {exif!r}")
        self.exif, self.bit_depth, self._warned = exif, bit_depth, False
        self._depth: tuple[int, str] | None = None  # the first guessed depth, and its image
        self._depth_warned = self._pages_warned = False
        self._cache = ImageCache(cache_mb) if cache and cache_mb > 0 else None  # 0: no cache (and no note)

    def __call__(self, path: str) -> np.ndarray:
        cached = self._cache.get(path) if self._cache is not None else None
        if cached is not None:
            return cached
        # The pages are counted until one file is reported (every page's header read on each read otherwise).
        info: dict[str, Any] = {} if self._pages_warned else {"pages": 1}
        img, orientation = read_image(path, self.exif, self.bit_depth, info)
        self._check_depth(path, info.get("guessed_bit_depth"))
        if info.get("pages", 1) > 1 and not self._pages_warned:
            self._pages_warned = True  # once per dataset, as a stack of frames is usually one of many
            warnings.warn(f"{path}: holds {info['pages']} pages (a TIFF stack or an animation); a dataset reads its "
                          "first page only, the frame its keypoints are taken to be in; to train on other pages, "
                          "write them as separate images (adaanchor predict and viz read such files page by page); "
                          "further images of this dataset are not reported", stacklevel=3)
        if orientation != 1 and self.exif == "ignore" and not self._warned:
            # Once per dataset: the stored pixels are used, which is right for annotations made on them.
            self._warned = True
            warnings.warn(f"{path}: EXIF orientation {orientation} is not applied (data.exif=ignore: keypoints are "
                          "taken to be in the stored-pixel frame; set data.exif=apply if they were annotated on the "
                          "rotated image); further images of this dataset are not reported", stacklevel=3)
        if self._cache is not None:
            self._cache.put(path, img)
        return img

    def _check_depth(self, path: str, depth: int | None) -> None:
        """Warns once when integer images wider than 8 bits were scaled by different guessed depths: the guess is
        per image, so a dark frame of a 12-bit camera reads as 8-bit and comes out brighter than the others."""
        if depth is None or self._depth_warned:
            return
        if self._depth is None:
            self._depth = (depth, path)
        elif depth != self._depth[0]:
            self._depth_warned = True
            warnings.warn(f"{path}: read as {depth}-bit, {self._depth[1]} as {self._depth[0]}-bit: the bit depth of "
                          "integer images is guessed per image from the largest value, so their brightness is not on "
                          "one scale; set data.bit_depth to the depth the camera writes (docs/datasets.md); further "
                          "images of this dataset are not reported", stacklevel=3)


class TopDownDataset(Dataset):
    """Items as in docs/conventions.md: ``image (3, H, W)``, ``keypoints (1, K, 2)``, ``visibility (1, K)``, ``meta``.

    Args:
        instances: from a reader.
        spec: the keypoint set (flip pairs, half-body split).
        input_size: ``(W, H)`` of the model input.
        crop: ``"box"`` or ``"image"`` (see the module docstring).
        train: apply augmentation (random, drawn from numpy's global RNG, which the training sampler seeds
            per sample so that runs are reproducible and resumable).
        aug: options of :data:`AUG_DEFAULTS`.
        transform: optional callable ``(image, keypoints (K,2), visibility (K,), bbox, index) -> (image,
            keypoints, visibility)`` applied to the original image first (e.g. the occlusion compositor).
        cache_images: keep decoded images in memory (avoids decoding every epoch), up to ``cache_mb``.
        cache_mb: the bound of the cache in MiB (``data.cache_mb``), shared as :mod:`.image_cache` says.
        exif: ``"ignore"`` (stored pixels; the first image with a rotating EXIF orientation tag gives one
            warning for the dataset) or ``"apply"`` (see :func:`read_image`).
        bit_depth: the bit depth of integer images wider than 8 bits (``data.bit_depth``; None: guessed per image).
        truncation: optional :class:`~adaanchor.data.truncation.Truncation`: shifts the crop so that part of
            the instance falls outside the input (training or seeded evaluation shifts).
    """

    def __init__(
        self,
        instances: Sequence[Instance],
        spec: KeypointSpec,
        input_size: Sequence[int],
        crop: str = "box",
        train: bool = False,
        aug: Mapping[str, Any] | None = None,
        transform: Callable | None = None,
        cache_images: bool = False,
        exif: str = "ignore",
        truncation: Truncation | None = None,
        bit_depth: int | None = None,
        cache_mb: float = DEFAULT_CACHE_MB,
    ):
        if crop not in ("box", "image"):
            raise ValueError(f"crop must be 'box' or 'image', got {crop!r}")
        self.instances, self.spec, self.crop, self.train = list(instances), spec, crop, train
        self.out_wh = (int(input_size[0]), int(input_size[1]))
        self.aug = {**AUG_DEFAULTS, **(aug or {})}
        self.transform = transform
        self.truncation = truncation
        self._images = DatasetImages(cache_images, exif, bit_depth, cache_mb)  # checks exif

    def __len__(self) -> int:
        return len(self.instances)

    def image(self, path: str) -> np.ndarray:
        return self._images(path)

    def affine_for(self, inst: Instance, img_hw: tuple[int, int], index: int = 0) -> tuple[np.ndarray, bool]:
        """The crop affine of ``inst``, item ``index`` (with augmentation when training, and the truncation
        shift when set) and whether it flips."""
        w_out, h_out = self.out_wh
        if self.crop == "image":
            center, size = image_region(img_hw, self.out_wh)
        else:
            box, padding = inst.bbox, BOX_PADDING
            if self.train and self.aug["half_body"] > 0 and self.spec.upper_body and np.random.rand() < self.aug["half_body"]:
                hb = half_body_box(inst.keypoints, inst.visibility, self.spec.upper_body, self.spec.lower_body, np.random)
                # The half-body box holds HRNet's whole 1.5x margin: the person boxes' 1.25x on top made it 1.875x.
                box, padding = (hb, 1.0) if hb is not None else (box, padding)
            center, size = box_to_center_scale(box, w_out / h_out, padding)
        rot, flip = 0.0, False
        if self.train:
            s = self.aug["scale"]
            if s > 0:
                size = size * float(np.clip(np.random.randn() * s + 1, 1 - s, 1 + s))
            r = self.aug["rotation"]
            if r > 0 and np.random.rand() < 0.6:
                rot = float(np.clip(np.random.randn() * r, -2 * r, 2 * r))
            flip = bool(np.random.rand() < self.aug["flip"])
        if self.truncation is not None:
            center = center + self.truncation.offset(index, size)
        return crop_affine(center, size, self.out_wh, rot, flip), flip

    def __getitem__(self, idx: int) -> dict[str, Any]:
        inst = self.instances[idx]
        try:
            img = self.image(inst.image_path)
        except DataError as e:  # name the dataset item as well as the image file
            raise DataError(e.path, e.reason, record=f"item {idx} (image_id {inst.image_id}, ann_id {inst.ann_id})",
                            field="image") from None
        kpts, vis = inst.keypoints.astype(np.float64), inst.visibility.astype(np.int64)
        image_size = (int(img.shape[1]), int(img.shape[0]))  # (W, H) of the original image
        if self.transform is not None:
            img, kpts, vis = self.transform(img, kpts, vis, inst.bbox, idx)
        a, flip = self.affine_for(inst, img.shape[:2], idx)
        crop = warp_image(img, a, self.out_wh)
        xy = apply_affine(a, kpts)
        # Beyond the image border a point is not visible either (the crop shows black padding there).
        ih, iw = img.shape[:2]
        off = outside_frame(kpts[:, 0], kpts[:, 1], iw, ih)
        if flip:
            vis, xy = flip_keypoints(vis, xy, self.spec.flip_index)
            off = off[self.spec.flip_index]
        w, h = self.out_wh
        outside = off | outside_frame(xy[:, 0], xy[:, 1], w, h)
        labelled = vis.tolist()  # the annotation's own flags (the crop's below make a point it cuts off invisible)
        vis = np.where((vis == 2) & outside, 1, vis)
        xy = np.where(vis[:, None] > 0, xy, 0.0)
        return {
            "image": to_tensor_image(crop),
            "keypoints": torch.from_numpy(xy.astype(np.float32))[None],
            "visibility": torch.from_numpy(vis)[None],
            "meta": {
                "image_id": inst.image_id,
                "ann_id": inst.ann_id,
                "bbox": inst.bbox.tolist(),
                "area": inst.area,
                "affine": a,
                "image_path": inst.image_path,
                "image_size": image_size,
                "det_score": float(inst.extra.get("score", 1.0)),
                "labelled_visibility": labelled,
            },
        }
