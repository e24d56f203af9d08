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
    5: lambda a: np.swapaxes(a, 0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: np.swapaxes(a[::-1, ::-1], 0, 1),
    8: lambda a: np.rot90(a, 1),
}
#: The orientation whose turn undoes each one's (a turn by 90 degrees undoes the other; the rest undo themselves).
UNDO = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 8, 7: 7, 8: 6}


def oriented(image: np.ndarray, orientation: int) -> np.ndarray:
    """``image (H, W[, C])`` turned and mirrored as the EXIF ``orientation`` tag (1-8) says; other values: as it is."""
    op = _ORIENT.get(int(orientation))
    return np.ascontiguousarray(op(image)) if op is not None else image


def read_sixteen_bit_colour(path: str | Path, orientation: int = 1, page: int = 0, tiff: Any = None) -> np.ndarray | None:
    """``(H, W, 3)`` uint16 RGB of a 16-bit colour file (alpha dropped; ``page`` of a multi-page TIFF), turned by
    ``orientation``; None where it does not read as such (then Pillow's reading stands). TIFF files are read with
    tifffile (``tiff``: an open ``tifffile.TiffFile`` of the file, for the pages of a stack), other files with
    OpenCV from their bytes: ``cv2.imread`` of a file name that is not UTF-8 crashed the process, and of a TIFF
    with an EXIF orientation of 5-8 failed."""
    p = Path(path)
    arr = _tiff_page(p, page, tiff) if p.suffix.lower() in (".tif", ".tiff") else None
    if arr is None and page == 0:  # not a TIFF, or one tifffile cannot decode alone (LZW needs imagecodecs)
        import cv2

        arr = cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_UNCHANGED)
        arr = None if arr is None or arr.ndim != 3 else arr[..., [2, 1, 0, 3][: arr.shape[2]]]  # BGR(A) -> RGB(A)
    if arr is None or arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (3, 4):
        return None
    return oriented(arr[..., :3], orientation)


def _tiff_page(path: Path, page: int, tiff: Any = None) -> np.ndarray | None:
    """One page of a TIFF as ``(H, W, C)`` (a planar page's samples moved last), or None where tifffile cannot
    read it."""
    import tifffile

    try:
        if tiff is None:
            with tifffile.TiffFile(path) as tf:
                return _tiff_page(path, page, tf)
        tp = tiff.pages[page]
        arr = tp.asarray()
        if arr.ndim == 3 and int(getattr(tp, "planarconfig", 1)) == 2:  # SEPARATE: (samples, H, W)
            arr = np.moveaxis(arr, 0, -1)
        return arr
    except Exception:  # noqa: BLE001 - a TIFF tifffile cannot read: Pillow's reading stands
        return None


__all__ = ["UNDO", "oriented", "read_sixteen_bit_colour", "sixteen_bit_colour"]
