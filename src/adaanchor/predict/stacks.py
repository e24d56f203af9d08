"""Multi-frame image files read as a sequence of frames, as a video is: a TIFF stack (a microscope's or a
scientific camera's recording, often 12- or 16-bit), an animated GIF or WebP.

Read as a single image, only the first page of such a file was predicted, without a word. ``predict`` and ``viz``
take every page as a frame with its page index, in order, one page in memory at a time (Pillow seeks page by
page); the outputs are those of a video (a CSV row per page, ``--save-video``). Pages are read by the rule of
:mod:`adaanchor.data.pixels` with the run's ``data.bit_depth``, so that a 12-bit stack keeps one scale when it is
declared. A page that cannot be decoded, or whose pixels the rule refuses (a float page with NaN values, a value
above the declared bit depth: pages of one file need not share their values, nor their modes), is left out, keeps
its index, and is reported at the end, as a damaged video frame is; the pages after it are read. Frame times come from the file's per-page durations (GIF, WebP); a TIFF stack has none, and a
labelled video of it is written at 25 frames/s.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from ..data.pixels import STACK_SUFFIXES, ImageTypeError, ImageValueError, pil_pixels, rgb8
from ..errors import AdaAnchorError
from .video_in import Frame, VideoInfo


def page_count(path: str | Path) -> int:
    """The number of frames an image file holds (1 for a plain image, or for a file Pillow cannot open: the image
    reader then reports why)."""
    p = Path(path)
    if p.suffix.lower() not in STACK_SUFFIXES:
        return 1
    try:
        with Image.open(p) as im:
            return max(1, int(getattr(im, "n_frames", 1) or 1))
    except Exception:  # a damaged or not-an-image file: read as an image, whose reader names the problem
        return 1


def is_stack(path: str | Path) -> bool:
    return page_count(path) > 1


def stack_info(path: str | Path) -> VideoInfo:
    """Page count, frame rate (from the first page's duration; 0 when the file gives none) and size."""
    p = Path(path)
    try:
        with Image.open(p) as im:
            ms = float(im.info.get("duration") or 0)
            return VideoInfo(int(getattr(im, "n_frames", 1)), 1000.0 / ms if ms > 0 else 0.0, im.width, im.height)
    except Exception as e:
        raise AdaAnchorError(f"{p}: cannot open the image stack ({type(e).__name__}: {e})") from None


def read_stack(path: str | Path, orientation: str = "displayed", bit_depth: int | None = None) -> Iterator[Frame]:
    """Every page of a multi-frame image file, in order, as a :class:`Frame` of kind ``"video"`` (``index``: the
    page; ``time``: the sum of the earlier pages' durations, or None). ``orientation="displayed"`` turns each page
    by its EXIF orientation tag.

    Raises:
        AdaAnchorError: the file cannot be opened (before any frame); after the last page: pages that could not be
            read (``frames``: the page count; the first one's reason), or none read at all.
    """
    p = Path(path)
    try:
        im = Image.open(p)
    except Exception as e:
        raise AdaAnchorError(f"{p}: cannot open the image stack ({type(e).__name__}: {e})") from None
    lost: list[int] = []
    first_why = ""  # why the first lost page was lost
    t, n = 0.0, 0
    tiff: dict[str, Any] = {}  # a tifffile handle, opened for the first 16-bit colour page
    with im, contextlib.ExitStack() as stack:
        tiff["stack"] = stack
        total = int(getattr(im, "n_frames", 1))
        for i in range(total):
            try:
                im.seek(i)
                img = rgb8(_page_pixels(im, p, i, orientation == "displayed", tiff), what="", bit_depth=bit_depth)
            except (ImageTypeError, ImageValueError) as e:  # this page's pixels (a NaN page): the next may be fine
                first_why = first_why or str(e)
                lost.append(i)
                continue
            except Exception as e:  # a damaged page: lost, its index kept (as a damaged video frame)
                first_why = first_why or f"cannot decode it ({type(e).__name__})"
                lost.append(i)
                continue
            ms = float(im.info.get("duration") or 0)
            yield Frame(img, p, i, t if ms > 0 else None, "video", None)
            t += ms / 1000.0
            n += 1
    if n == 0:
        raise AdaAnchorError(f"{p}: page {lost[0]}: {first_why}; no page of the image stack could be read")
    if lost:
        err = AdaAnchorError(f"{p}: {len(lost)} page(s) could not be read, the first of them page {lost[0]} "
                             f"({first_why}), and the other {n} keep their indices")
        err.frames = total  # type: ignore[attr-defined]
        raise err


def _page_pixels(im: Any, path: Path, index: int, displayed: bool, tiff: dict[str, Any]) -> np.ndarray:
    """The pixels of the page ``im`` is at, as :func:`adaanchor.data.pixels.rgb8` takes them: a 16-bit colour page
    through tifffile (Pillow keeps the high byte, :mod:`adaanchor.data.wide_colour`); a TIFF page, which Pillow
    turns by its orientation tag as it loads it, turned back for ``displayed=False`` (the stored frame)."""
    from ..data.wide_colour import UNDO, oriented, read_sixteen_bit_colour, sixteen_bit_colour

    is_tiff = im.format == "TIFF"
    tag = int(im.getexif().get(0x0112, 1) or 1)  # before the page loads: a TIFF's tag is dropped then
    if is_tiff and sixteen_bit_colour(im):
        if "file" not in tiff:
            import tifffile

            tiff["file"] = tiff["stack"].enter_context(tifffile.TiffFile(path))
        wide = read_sixteen_bit_colour(path, tag if displayed else 1, page=index, tiff=tiff["file"])
        if wide is not None:
            return wide
    if is_tiff:
        pixels = pil_pixels(im, what="")
        return oriented(pixels, UNDO[tag]) if not displayed and tag != 1 else pixels
    return pil_pixels(ImageOps.exif_transpose(im) if displayed else im, what="")


__all__ = ["STACK_SUFFIXES", "is_stack", "page_count", "read_stack", "stack_info"]
