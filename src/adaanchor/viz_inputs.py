"""What ``adaanchor viz`` takes in: its arguments split into images, ``ckpt=`` and overrides, image and video
sources expanded, and the frames of a video as items of :func:`adaanchor.anchors_viz.visualize_images`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config_overrides import is_override
from .data.media_suffixes import media_kind
from .errors import AdaAnchorError
from .predict.sources import Source, expand_sources, read_frames


def video_frames(path: str | Path, every: int = 1, max_frames: int | None = None, orientation: str = "displayed",
                 bit_depth: int | None = None) -> Iterator[tuple[np.ndarray, str, str]]:
    """Every ``every``-th frame of a video (at most ``max_frames``), as ``(image, stem, title)`` items of
    :func:`visualize_images`, decoded as a stream (:func:`adaanchor.predict.sources.read_frames`, turned by the
    video's rotation with ``orientation="displayed"``; the pages of an image stack alike)."""
    p = Path(path)
    n = 0
    for fr in read_frames(p, orientation, bit_depth):
        if fr.index % every:
            continue
        if max_frames is not None and n >= max_frames:
            return
        t = f" {fr.time:.2f} s" if fr.time is not None else ""
        yield fr.image, f"{p.stem}_f{fr.index:06d}", f"{p.name} frame {fr.index}{t}"
        n += 1


#: What :func:`expand_sources` says of an argument that names nothing to read: an error for ``viz``.
_NOTHING_THERE = ("no such file or folder", "folder holds no image or video file", "pattern matches no file", "a URL")


def expand_viz_inputs(items: Sequence[str | Path], skipped: list[str] | None = None) -> list[Source]:
    """Image files, videos, folders (their images and videos) and glob patterns, as sources; a path that
    does not exist, an empty folder, a pattern without match or a URL is an error naming it. What cannot be read
    of what is there (a link to a missing file in a folder, a file name that is not UTF-8, a FIFO) goes to
    ``skipped`` as ``PATH: reason``, as ``predict`` skips it, or without a list is an error."""
    out: list[Source] = []
    for it in items:
        srcs, skips = expand_sources([it])
        for sk in skips:
            if skipped is not None and not sk.reason.startswith(_NOTHING_THERE):
                skipped.append(str(sk))
                continue
            kind = media_kind(sk.source) if sk.reason == "no such file or folder" else None
            reason = f"{kind} file not found" if kind else sk.reason  # a missing video was an 'image file'
            raise AdaAnchorError(f"{sk.source}: {reason}")
        out.extend(srcs)
    return out


def guarded(frames: Iterator[Any], path: Path, skipped: list[str] | None) -> Iterator[Any]:
    """``frames`` of a video; with a ``skipped`` list, a reading error ends them and goes to the list."""
    if skipped is None:
        yield from frames
        return
    try:
        yield from frames
    except AdaAnchorError as e:
        skipped.append(str(e) if str(e).startswith(f"{path}:") else f"{path}: {e}")


def split_image_args(items: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """Split the ``viz`` and ``predict`` positionals into image paths, ``ckpt=PATH`` and ``key=value`` overrides: an
    item whose text before its first ``=`` is a dotted key (:func:`~adaanchor.config_overrides.is_override`) and that
    is not an existing file or folder is an override. A path or URL with ``=`` in it (``shots/a=b.png``,
    ``http://host/v.mp4?t=1``) is a source, reported as one when it cannot be read (it was taken for an override and
    dropped: "no input given")."""
    images, overrides, ckpt = [], [], None
    for it in items:
        if is_override(it) and not Path(it).exists():  # a folder named a=b is a source too
            if it.startswith("ckpt="):
                ckpt = it.split("=", 1)[1]
            else:
                overrides.append(it)
        else:
            images.append(it)
    return images, ckpt, overrides
