"""The one rule that turns pixel values into ``(H, W, 3)`` uint8 RGB.

Image files (:func:`adaanchor.data.image_read.read_image`), PIL images and arrays given to the predictor all go
through :func:`rgb8`, so that the same pixels give the same image whichever way they arrive:

- ``uint8``: as they are.
- ``bool``: ``False`` 0, ``True`` 255 (what Pillow makes of a 1-bit image).
- other integer types (16-bit cameras, 32-bit TIFFs): negatives shifted up to 0, then scaled by their bit
  depth, the smallest of 8, 10, 12, 14 or 16 bits that holds their largest value (a 12-bit image with values up
  to 4095 reads 4095 as 255), and above 16 bits the bits their largest value needs (a 32-bit TIFF of values up
  to 127000 is read as 17-bit: scaled by 32 bits it was black). That guess is made per image, so a dark frame of
  a 12-bit camera (largest value 200) reads as 8-bit and comes out brighter than its neighbours: a declared
  ``bit_depth`` (``data.bit_depth``; ``adaanchor predict`` and ``viz`` take the run's, or ``data.bit_depth=N``) scales every such image alike and refuses a
  value above it. 8-bit files are read as they are whatever it says.
- float types: values in [0, 1] times 255; whole numbers in 0..255 as they are (8-bit data stored as
  floats); anything else stretched over its own min..max. NaN or infinite values are refused: no
  brightness can be read from them (a black image from them was a silently wrong prediction).
- anything else (complex, object, strings) is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError

#: Bit depths an integer image is scaled by: the smallest that holds its largest value (above the last one:
#: the bit length of the largest value).
BIT_DEPTHS = (8, 10, 12, 14, 16)
#: The accepted pixel types and how each is read, for error messages (one line).
PIXEL_RULE = ("expected uint8 (0..255), bool (0 or 255), another integer type (scaled by its bit depth) or a "
              "float type (finite: [0, 1] x 255, whole numbers 0..255 as they are, else its own min..max)")
#: Pillow modes with premultiplied alpha, which Pillow converts to RGB only through their plain-alpha mode.
UNPREMULTIPLIED = {"La": "LA", "RGBa": "RGBA"}


class ImageTypeError(AdaAnchorError, TypeError):
    """An image of a kind that has no reading (a dtype, a Python type): a TypeError, and one line for the CLI."""


class ImageValueError(AdaAnchorError, ValueError):
    """An image whose shape or values have no reading (NaN pixels, no channel axis): a ValueError, one line."""



#: Image suffixes that can hold several frames (a TIFF stack, an animated GIF or WebP): ``predict`` reads such a file
#: with more than one page page by page; a dataset reads its first page and says so.
STACK_SUFFIXES = frozenset({".tif", ".tiff", ".gif", ".webp"})


def image_file_problem(path: str | Path) -> str | None:
    """What makes ``path`` unreadable as an image, from its header alone: not found, a folder, empty, or not an image
    Pillow can open (text, a cut header); None when the header reads. Pixel data cut short past the header shows
    only when the image is decoded (:func:`adaanchor.data.image_read.read_image`). Reading headers is cheap next to
    decoding (a few hundred microseconds an image), so ``data stats`` and ``data.skip_invalid`` check every image."""
    import warnings

    from PIL import Image

    why = path_problem(path)
    if why is not None:
        return why
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a decompression-bomb warning: read_image decides about the size
            with Image.open(path):
                return None
    except Exception as e:  # Pillow raises many types for damaged files (UnidentifiedImageError, SyntaxError, ...)
        return unreadable(e)


def path_problem(path: str | Path) -> str | None:
    """What makes ``path`` no image file before it is opened: a folder, not found, empty; else None."""
    p = Path(path)
    if p.is_dir():
        return "a folder, not an image file"
    if not p.is_file():
        return "image file not found"
    if p.stat().st_size == 0:
        return "image file is empty (0 bytes)"
    return None


def unreadable(e: Exception) -> str:
    """The problem of an image file whose header Pillow could not read, with the error's first line."""
    detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"cannot read image ({type(e).__name__}{': ' + detail if detail else ''})"

def _named(what: str, message: str) -> str:
    return f"{what}: {message}" if what else message


def rgb8(image: np.ndarray, what: str = "image", bit_depth: int | None = None) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped) pixels of any supported dtype
    as ``(H, W, 3)`` uint8 RGB, C-contiguous (the array itself when it already is one), by the module's rule.
    ``bit_depth``: the depth integer images wider than 8 bits are scaled by (None: guessed per image).

    Raises:
        ImageTypeError: a dtype that is not a pixel type.
        ImageValueError: another shape, an empty image, NaN / infinite float values, or an integer value above
            ``bit_depth``.
    """
    img = np.asarray(image)
    if img.dtype.kind not in "buif":
        raise ImageTypeError(_named(what, f"dtype {img.dtype} is not a pixel type: {PIXEL_RULE}"))
    if img.ndim == 2:
        img = img[..., None]
    if img.ndim == 3 and img.shape[2] in (1, 3, 4) and min(img.shape[:2]) < 1:
        raise ImageValueError(_named(what, f"an empty image (height x width {img.shape[0]} x {img.shape[1]})"))
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        hint = " (channels first? transpose it to (H, W, C))" if img.ndim == 3 and img.shape[0] in (1, 3, 4) else ""
        raise ImageValueError(_named(what, "expected an image of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), "
                                           f"got {img.shape}{hint}"))
    img = img[..., :3]  # alpha is dropped before the range is measured: it is not brightness
    if img.dtype != np.uint8:
        img = _scaled(img, what, bit_depth)
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img)


def guessed_bit_depth(image: np.ndarray) -> int | None:
    """The bit depth :func:`rgb8` scales ``image`` by when none is declared: for an integer type other than uint8
    (and bool), the smallest of :data:`BIT_DEPTHS` that holds its largest value (negatives shifted up to 0, above
    16 bits the bits it needs); None for the other types, which are not scaled by a depth."""
    img = np.asarray(image)
    if img.dtype.kind not in "iu" or img.dtype == np.uint8 or img.size == 0:
        return None
    img = img[..., :3] if img.ndim == 3 and img.shape[2] == 4 else img  # alpha is not brightness
    lo, hi = float(img.min()), float(img.max())
    return _depth_of(hi - min(lo, 0.0))


def _depth_of(top: float) -> int:
    return next((b for b in BIT_DEPTHS if top <= 2.0 ** b - 1), int(top).bit_length())


def _scaled(img: np.ndarray, what: str, bit_depth: int | None = None) -> np.ndarray:
    """Non-uint8 pixels ``(H, W, C)`` as uint8 ``(H, W, C)`` (see the module docstring)."""
    if img.dtype == bool:
        return img.astype(np.uint8) * np.uint8(255)
    if img.dtype.kind in "iu":
        arr = img.astype(np.float64)
        arr -= min(float(arr.min()), 0.0)  # signed images: negatives shifted up
        top = float(arr.max())
        if bit_depth is not None and top > 2.0 ** bit_depth - 1:
            # Scaled anyway, it would saturate silently: the declared depth or the file is wrong.
            raise ImageValueError(_named(what, f"a value of {top:.0f} does not fit the declared bit depth of "
                                               f"{bit_depth} (at most {2 ** bit_depth - 1}): set data.bit_depth to the "
                                               "depth the camera writes, or to null to guess it per image"))
        depth = bit_depth or _depth_of(top)
        return (arr * (255.0 / (2.0 ** depth - 1))).clip(0, 255).round().astype(np.uint8)
    arr = img.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        bad = int(arr.size - np.count_nonzero(finite))
        raise ImageValueError(_named(what, f"{bad} of {arr.size} values of a {img.dtype} image are NaN or infinite: "
                                           f"{PIXEL_RULE}"))
    lo, hi = float(arr.min()), float(arr.max())
    if lo >= 0 and hi <= 1:
        arr = arr * 255.0
    elif not (lo >= 0 and hi <= 255 and np.array_equal(arr, np.round(arr))):
        # Not [0, 1] and not 8-bit values stored as floats: its own range is the only scale it has.
        if hi > lo and not np.isfinite(hi - lo):  # a range beyond float64's (values near +-1.8e308): halved
            arr, lo, hi = arr / 2, lo / 2, hi / 2  # (arr - lo) overflowed to inf, RuntimeWarnings and a NaN image
        arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
    return arr.clip(0, 255).round().astype(np.uint8)


def pil_pixels(im: Any, what: str = "image") -> np.ndarray:
    """A PIL image's pixels as the array :func:`rgb8` takes: the raw values of integer (``I``, ``I;16``...)
    and float (``F``) images, so that they are scaled by the rule and not saturated by Pillow; ``(H, W, 3)``
    uint8 RGB from Pillow's own conversion for the 8-bit modes (palettes, CMYK, YCbCr, alpha dropped).

    Raises:
        ImageTypeError: a mode Pillow cannot convert to RGB.
    """
    if im.mode.startswith("I") or im.mode == "F":
        return np.asarray(im)
    try:
        plain = im.convert(UNPREMULTIPLIED[im.mode]) if im.mode in UNPREMULTIPLIED else im
        return np.asarray(plain.convert("RGB"))
    except ValueError as e:
        raise ImageTypeError(_named(what, f"a PIL image of mode {im.mode!r} cannot be converted to RGB ({e})")) from None
