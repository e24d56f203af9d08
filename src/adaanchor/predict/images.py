"""Images as the predictor takes them: arrays, PIL images or files, converted to ``(H, W, 3)`` uint8 RGB.

Every kind goes through the one pixel rule of :mod:`adaanchor.data.pixels` (the rule image files are read
by), so an array, a PIL image and a file of the same pixels predict the same. What has no reading as an
image (a torch tensor, nested lists, bytes, a file object, None, a number) is refused with a TypeError that
says what to pass instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..data.image_read import load_image
from ..data.pixels import ImageTypeError, ImageValueError, pil_pixels, rgb8
from ..errors import AdaAnchorError
from .stacks import page_count

#: What an image may be, for error messages.
IMAGE_KINDS = "an (H, W, 3) uint8 RGB numpy array, a PIL image or an image file path"


def _is_pil(image: Any) -> bool:
    return hasattr(image, "getbands") and hasattr(image, "mode")  # a PIL image, without importing PIL here


def _is_tensor(image: Any) -> bool:
    return type(image).__module__.split(".")[0] == "torch"  # torch.Tensor and its subclasses (Parameter, ...)


def is_single_image(images: Any) -> bool:
    """One image (a path, a PIL image, an ``(H, W)`` / ``(H, W, C)`` array) rather than a batch."""
    if isinstance(images, (str, os.PathLike)) or _is_pil(images):
        return True
    return isinstance(images, np.ndarray) and images.ndim in (2, 3)


def image_list(images: Any, what: str = "images") -> tuple[list[Any], bool]:
    """``images`` as a list of single images, and whether it was one image (not a batch).

    A batch is a list, tuple or other iterable of images, or an ``(B, H, W, C)`` array; every item is checked
    to be an image kind (:func:`check_image`) before anything is read.

    Raises:
        ImageTypeError: not an image nor a batch of images (naming the item).
        ImageValueError: an array of another number of dimensions.
    """
    if is_single_image(images):
        return [check_image(images, what)], True
    if isinstance(images, np.ndarray):
        if images.ndim != 4:
            raise ImageValueError(f"{what}: expected an image array (H, W) or (H, W, C), or a batch (B, H, W, C), "
                                  f"got shape {images.shape}")
        return list(images), False
    if _is_tensor(images) or isinstance(images, (bytes, bytearray, memoryview, Mapping, set, frozenset)) \
            or hasattr(images, "read") or not isinstance(images, Iterable):
        check_image(images, what)  # raises, saying what to pass instead
    items = list(images)
    return [check_image(x, f"{what}[{i}]") for i, x in enumerate(items)], False


def check_image(image: Any, what: str = "image") -> Any:
    """``image`` when it is an image kind (a path as ``str`` / ``os.PathLike``, a PIL image, a numpy array),
    a path-like turned into a :class:`~pathlib.Path`; anything else is an :class:`ImageTypeError` saying
    what to pass instead."""
    if isinstance(image, (str, Path, np.ndarray)) or _is_pil(image):
        return image
    if isinstance(image, os.PathLike):
        path = os.fspath(image)
        if isinstance(path, str):
            return Path(path)
    if _is_tensor(image):
        why = ("a torch tensor is not taken: pass an (H, W, 3) numpy array, e.g. tensor.permute(1, 2, 0).cpu().numpy() "
               "for a (3, H, W) tensor")
    elif isinstance(image, (bytes, bytearray, memoryview)) or isinstance(image, os.PathLike):
        why = ("bytes are not taken: pass a path as str or pathlib.Path, or decode image data with "
               "PIL.Image.open(io.BytesIO(data))")
    elif hasattr(image, "read"):
        why = "a file object is not taken: pass its path, or PIL.Image.open(f)"
    elif isinstance(image, (list, tuple)):
        why = f"a nested {type(image).__name__} is not taken: pass np.asarray(...) of shape (H, W, 3)"
    else:
        why = f"expected {IMAGE_KINDS}, got {type(image).__name__}"
    raise ImageTypeError(f"{what}: {why}")


#: Valid values of ``orientation``: ``displayed`` turns an image as its EXIF orientation tag says (and a video frame
#: as its stream's rotation says), as viewers, OpenCV and the detectors' readers show it; ``stored`` keeps the pixels
#: as the file stores them (the frame COCO-style annotations of most datasets are in: ``data.exif=ignore``).
ORIENTATIONS = ("displayed", "stored")


def check_orientation(orientation: Any) -> str:
    """``orientation`` when it is one of :data:`ORIENTATIONS`, else an AdaAnchorError naming them."""
    if not isinstance(orientation, str) or orientation not in ORIENTATIONS:
        raise AdaAnchorError(f"orientation must be one of {', '.join(ORIENTATIONS)}, got {orientation!r}")
    return orientation


def orientation_notes(turned: dict[str, str], orientation: str) -> list[str]:
    """A line saying which inputs had an orientation (``turned``: source -> "EXIF orientation 6", a video's
    rotation) and what was done with it (``predict`` and ``viz``)."""
    if not turned:
        return []
    src, turn = next(iter(turned.items()))
    eg = f"{len(turned)} input(s) carry an orientation (e.g. {src}: {turn})"
    if orientation == "displayed":
        return [f"{eg}: turned as a viewer shows them, and their keypoints are in that frame (--orientation stored "
                "keeps the stored pixels)"]
    return [f"{eg} that was not applied: the model saw the stored pixels, and their keypoints are in that frame "
            "(--orientation displayed turns them as a viewer shows them)"]


def read_any(image: Any, what: str = "image", orientation: str = "displayed", bit_depth: int | None = None) -> np.ndarray:
    """A file path is read (:func:`adaanchor.data.image_read.load_image`: DataError naming the file when it is
    missing or not an image); a PIL image gives its pixels (:func:`adaanchor.data.pixels.pil_pixels`); an
    array is returned as it is. With ``orientation="displayed"`` a file or a PIL image with an EXIF orientation
    tag is turned as the tag says (an array has no tag). ``bit_depth``: see :func:`adaanchor.data.pixels.rgb8`. A
    multi-frame file (a TIFF stack) is refused: it is not one image."""
    if isinstance(image, (str, os.PathLike)):
        from ..data.media_suffixes import media_kind

        if media_kind(image) == "video" and Path(image).is_file():  # "cannot decode image (UnidentifiedImageError)"
            raise AdaAnchorError(f"{image}: a video file, and the predictor takes images: read its frames with "
                                 "adaanchor.predict.sources.read_video(path) and give them to predict_stream, or run "
                                 "adaanchor predict on it")
        pages = page_count(image)
        if pages > 1:  # its first page alone was predicted, without a word
            raise AdaAnchorError(f"{image}: an image stack of {pages} pages, and the predictor takes one image per "
                                 "item: give its pages (adaanchor.predict.stacks.read_stack(path) yields them as "
                                 "frames), or run adaanchor predict on it, which reads it as a video")
        return load_image(image, exif="apply" if orientation == "displayed" else "ignore", bit_depth=bit_depth)
    if _is_pil(image):
        _loaded(image, what)
        if orientation == "displayed":
            from PIL import ImageOps

            image = ImageOps.exif_transpose(image)
        return pil_pixels(image, what)
    return image


def _loaded(image: Any, what: str) -> None:
    """A PIL image whose pixels can be read: one closed before it was loaded raised a bare ``AssertionError`` from
    inside Pillow, one closed after ``ValueError: Operation on closed image``."""
    try:
        image.load()
        if image.width and image.height:
            image.getpixel((0, 0))
    except (AssertionError, ValueError, OSError, AttributeError) as e:
        closed = isinstance(e, AssertionError) or "closed" in str(e)  # Pillow's two ways of saying it
        hint = "; closed? use it inside its `with Image.open(...)` block, or pass its path" if closed else ""
        raise ImageValueError(f"{what}: the PIL image cannot be read ({type(e).__name__}{': ' + str(e) if str(e) else ''}"
                              f"{hint})") from None


def as_rgb(image: Any, what: str = "image", bit_depth: int | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 RGB from ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` (alpha dropped)
    pixels of any pixel dtype, or a PIL image, by the rule of :mod:`adaanchor.data.pixels` (uint8 as it is,
    other integers by bit depth, ``bit_depth`` or guessed per image; floats [0, 1] x 255; NaN refused)."""
    if _is_pil(image):
        _loaded(image, what)
        image = pil_pixels(image, what)
    elif _is_tensor(image):
        check_image(image, what)  # raises
    return rgb8(image, what, bit_depth)


def to_rgb(image: Any, what: str = "image", orientation: str = "displayed", bit_depth: int | None = None) -> np.ndarray:
    """Any image kind the predictor takes (:func:`check_image`) as ``(H, W, 3)`` uint8 RGB (``orientation``: see
    :func:`read_any`; ``bit_depth``: :func:`adaanchor.data.pixels.rgb8`)."""
    return as_rgb(read_any(check_image(image, what), what, orientation, bit_depth), what, bit_depth)
