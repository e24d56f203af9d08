"""Reading one image file for a dataset: ``(H, W, 3)`` uint8 RGB by the pixel rule of :mod:`adaanchor.data.pixels`,
with its EXIF orientation applied or not, and a one-line error naming the file for anything that does not read."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from ..errors import DataError
from .pixels import STACK_SUFFIXES, ImageTypeError, ImageValueError, guessed_bit_depth, pil_pixels, rgb8
from .wide_colour import UNDO, oriented, read_sixteen_bit_colour, sixteen_bit_colour

#: EXIF orientations that swap width and height (rotations by 90 or 270 degrees, with or without a mirror).
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)
EXIF_MODES = ("ignore", "apply")


def load_image(path: str | Path, exif: str = "ignore", bit_depth: int | None = None) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` uint8 RGB (see :func:`read_image`)."""
    return read_image(path, exif, bit_depth)[0]


def read_image(path: str | Path, exif: str = "ignore", bit_depth: int | None = None,
               info: dict[str, Any] | None = None) -> tuple[np.ndarray, int]:
    """Read an image file as ``(H, W, 3)`` uint8 RGB, and its EXIF orientation tag (1 when it has none).

    Grayscale, RGBA (alpha dropped), palette, 16-bit and float images are converted by the rule that arrays
    given to the predictor follow too (:mod:`adaanchor.data.pixels`): 16-bit and 32-bit integer images are
    scaled by their bit depth (the smallest of 8, 10, 12, 14 or 16 bits that holds their largest value, above
    that the bits it needs; ``bit_depth`` declares it for every image, as ``data.bit_depth`` does; when it is None
    and ``info`` is a dict, ``info["guessed_bit_depth"]`` receives the depth guessed for such an image, and, when
    ``info`` holds the key ``"pages"``, it receives the number of pages of a multi-frame file,
    :data:`~adaanchor.data.pixels.STACK_SUFFIXES`, whose first page is read: counting them reads every page's header),
    float images by [0, 1] when they lie in it, as they are when they hold whole numbers 0..255, by their own
    min..max otherwise (never clipped to black); a float image with NaN or infinite values is refused.
    ``exif="ignore"`` keeps the stored pixels (the frame COCO-style annotations
    are made in by most tools); ``"apply"`` rotates / mirrors the image as its orientation tag says. Any
    size up to Pillow's decompression-bomb limit loads (a 10000 x 10000 image does; the crop then samples
    it down to the input size); above it the image is refused.

    Raises:
        DataError: the file is missing, empty, truncated, too large or not an image, or its pixels have no
            reading (NaN values).
    """
    from PIL import ImageOps

    p = Path(path)
    if p.is_dir():  # it exists: "not found" sent users looking for a typo
        raise DataError(p, "a folder, not an image file (give its image files; adaanchor predict and viz take folders)")
    if not p.is_file():
        raise DataError(p, "image file not found")
    if p.stat().st_size == 0:
        raise DataError(p, "image file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            # Between Pillow's warning limit and twice it: a large image on purpose (aerial, scans), not an attack.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                if info is not None and "pages" in info and p.suffix.lower() in STACK_SUFFIXES:
                    info["pages"] = int(getattr(im, "n_frames", 1) or 1)
                wide = sixteen_bit_colour(im)  # Pillow would keep the high byte of each value (data/wide_colour.py)
                # Pillow turns a TIFF by its orientation tag as it loads it, and drops the tag: read it first.
                tiff_tag = int(im.getexif().get(0x0112, 1) or 1) if im.format == "TIFF" else 1
                im.load()
                orientation = tiff_tag if im.format == "TIFF" else int(im.getexif().get(0x0112, 1) or 1)
                pixels = read_sixteen_bit_colour(p, orientation if exif == "apply" else 1) if wide else None
                if pixels is None:
                    if exif == "apply" and orientation != 1 and im.format != "TIFF":
                        im = ImageOps.exif_transpose(im)
                    pixels = pil_pixels(im, what="")
                    if exif != "apply" and tiff_tag != 1:  # the stored frame, as for every other format
                        pixels = oriented(pixels, UNDO[tiff_tag])
    except (ImageTypeError, ImageValueError) as e:  # decoded, but the pixels have no reading
        raise DataError(p, str(e)) from None
    except Image.DecompressionBombError as e:
        raise DataError(p, f"image too large to decode safely ({e})") from None
    except MemoryError:
        raise DataError(p, "image too large: out of memory while decoding it") from None
    except Exception as e:  # Pillow raises many types for damaged files (OSError, SyntaxError, struct.error, ...)
        detail = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise DataError(p, f"cannot decode image ({type(e).__name__}{': ' + detail if detail else ''})") from None
    try:
        if info is not None and bit_depth is None:
            info["guessed_bit_depth"] = guessed_bit_depth(pixels)
        return rgb8(pixels, what="", bit_depth=bit_depth), orientation
    except (ImageTypeError, ImageValueError) as e:
        raise DataError(p, str(e)) from None


__all__ = ["EXIF_MODES", "TRANSPOSING_ORIENTATIONS", "load_image", "read_image"]
