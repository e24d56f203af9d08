"""Images as the predictor takes them: arrays, PIL images or files, converted to ``(H, W, 3)`` uint8 RGB."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..data.dataset import load_image
from ..errors import AdaAnchorError


def is_single_image(images: Any) -> bool:
    """One image (a path, a PIL image, an ``(H, W)`` / ``(H, W, C)`` array) rather than a batch."""
    if isinstance(images, (str, Path)) or hasattr(images, "getbands"):  # getbands: a PIL image
        return True
    return isinstance(images, np.ndarray) and images.ndim in (2, 3)


def read_any(image: Any) -> np.ndarray:
    """A file path is read (:func:`adaanchor.data.dataset.load_image`: DataError naming the file when it is
    missing or not an image); a PIL image is converted to RGB; an array is returned as it is."""
    if isinstance(image, (str, Path)):
        return load_image(image)
    if hasattr(image, "getbands"):
        return np.asarray(image.convert("RGB"))
    return image


def as_rgb(image: Any) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped);
    other dtypes are clipped to [0, 255]."""
    img = np.asarray(image)
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or min(img.shape[:2]) < 1:
        raise AdaAnchorError(f"expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), got {img.shape}")
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img)
