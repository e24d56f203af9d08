"""Colour images of 16 bits a channel (48-bit PNG, 16-bit RGB TIFF, with or without alpha).

Pillow opens them as 8-bit ``RGB``, keeping the high byte of each value: a 12-bit camera's frame (values up to
4095, stored as 16-bit) came out with values up to 15, nearly black, and its keypoints were wrong without a word,
while the same pixels given as a uint16 array were scaled by their bit depth. Such files are read here with
OpenCV, which keeps the 16 bits, and then go through the one rule of :mod:`adaanchor.data.pixels` as arrays do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _rawmode(im: Any) -> str:
    """The raw mode Pillow decodes the first tile with (``"RGB;16B"``), read before ``load()`` clears the tiles."""
    tiles = getattr(im, "tile", None) or []
    if not tiles:
        return ""
    args = tiles[0][3]
    raw = args[0] if isinstance(args, tuple) and args else args
    return raw if isinstance(raw, str) else ""


def sixteen_bit_colour(im: Any) -> bool:
    """Whether the opened (not yet loaded) PIL image is colour with 16 bits a channel, which Pillow cuts to 8."""
    return im.mode in ("RGB", "RGBA") and ";16" in _rawmode(im)


#: EXIF orientation -> the array operation that shows the image as a viewer does (Pillow's ``exif_transpose``).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def oriented(image: np.ndarray, orientation: int) -> np.ndarray:
    """``image (H, W, C)`` turned and mirrored as the EXIF ``orientation`` tag (1-8) says; other values: as it is."""
    op = _ORIENT.get(int(orientation))
    return np.ascontiguousarray(op(image)) if op is not None else image


def read_sixteen_bit_colour(path: str | Path, orientation: int = 1) -> np.ndarray | None:
    """``(H, W, 3)`` uint16 RGB of a 16-bit colour file (alpha dropped), turned by ``orientation``; None where
    OpenCV does not read it as such (then Pillow's reading stands)."""
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        return None
    return oriented(arr[..., 2::-1], orientation)  # BGR(A) -> RGB


__all__ = ["oriented", "read_sixteen_bit_colour", "sixteen_bit_colour"]
