"""What ``adaanchor viz`` takes in: its arguments split into images, ``ckpt=`` and overrides, image and video
sources expanded, the frames of a video as items of :func:`adaanchor.anchors_viz.visualize_images`, and the boxes of
each input from a detections file (``--boxes``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .config_overrides import is_override
from .data.media_suffixes import media_kind
from .errors import AdaAnchorError
from .predict.boxes import Boxes
from .predict.sources import Source, expand_sources, read_frames


def video_frames(path: str | Path, every: int = 1, max_frames: int | None = None, orientation: str = "displayed",
                 bit_depth: int | None = None, keep: Callable[[int], bool] | None = None,
                 last: int | None = None) -> Iterator[tuple[np.ndarray, str, str, int]]:
    """Every ``every``-th frame of a video (at most ``max_frames``), as ``(image, stem, title, frame index)`` items of
    :func:`visualize_images`, decoded as a stream (:func:`adaanchor.predict.sources.read_frames`, turned by the
    video's rotation with ``orientation="displayed"``; the pages of an image stack alike). ``keep``: only the frames
    whose index it accepts are yielded and counted (``viz --boxes``: the frames with a detection); ``last``: no frame
    after this index is decoded (the last frame with a detection)."""
    p = Path(path)
    n = 0
    for fr in read_frames(p, orientation, bit_depth):
        if last is not None and fr.index > last:
            return
        if fr.index % every or (keep is not None and not keep(fr.index)):
            continue
        if max_frames is not None and n >= max_frames:
            return
        t = f" {fr.time:.2f} s" if fr.time is not None else ""
        yield fr.image, f"{p.stem}_f{fr.index:06d}", f"{p.name} frame {fr.index}{t}", int(fr.index)
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


#: Keys of the training alone, which viz and predict would take as a run's config override and ignore.
TRAINING_ONLY = {"out_dir": "out_dir is where a training writes its run; give the output folder as --out DIR",
                 "resume": "resume is a training's option; give a checkpoint as ckpt=PATH",
                 "overwrite": "overwrite is a training's option; viz and predict replace their own outputs in --out"}


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
            elif it.split("=", 1)[0] in TRAINING_ONLY:
                # predict wrote to --out's default "predictions" and took out_dir=preds for a key of the run's config
                raise AdaAnchorError(f"{it}: {TRAINING_ONLY[it.split('=', 1)[0]]}")
            else:
                overrides.append(it)
        else:
            images.append(it)
    return images, ckpt, overrides


def crops_of(boxes_of: Callable[[Path | int | None], Boxes] | None,
             key: Path | int | None) -> list[tuple[int, np.ndarray | None, float | None]]:
    """The crops to draw of one image as ``(index, box, score)``: ``[(0, None, None)]`` (the whole image) without
    ``boxes_of``, else each of its boxes with its position among the image's detections kept (file order) and its
    detection score (none: nothing drawn)."""
    if boxes_of is None:
        return [(0, None, None)]
    b = boxes_of(key)
    return [(i, box, float(score)) for i, (box, score) in enumerate(zip(b.boxes, b.scores))]


def detections_by_input(boxes: str | None, gt: str | None, srcs: list[Any], multi: bool, run: str, orientation: str,
                        skipped: list[str] | None, notes: list[str] | None,
                        min_score: float = 0.0, category: Any = "auto") -> BoxesOf | None:
    """``--boxes FILE``'s detections by image (its path) or video frame (its index), matched as ``predict`` matches
    them (:mod:`adaanchor.predict.image_ids`); image inputs that ``gt`` does not list are left out (``skipped``) or
    refused. ``category``: the detections' categories used (``--box-category``). None without ``boxes``."""
    from .predict.boxes import load_detections, no_boxes
    from .predict.image_ids import check_box_ids, image_ids

    if boxes is None:
        if gt is not None:  # it would be ignored: ids only match a detections file
            raise AdaAnchorError("--gt names the image ids of the --boxes detections; give --boxes too")
        return None
    if multi:
        raise AdaAnchorError(f"{run}: a multi-person run finds the people itself: --boxes is for top-down runs")
    if gt is not None and not any(s.kind == "image" for s in srcs):  # it would be ignored
        raise AdaAnchorError("--gt gives the image ids of image inputs; a video's frames are matched to the detections "
                             "by frame index: leave --gt out")
    said: list[str] = []
    dets = load_detections(boxes, score_thr=float(min_score), category=category, notes=said)

    def skip(s: Any) -> None:
        if skipped is None:
            raise AdaAnchorError(str(s))
        skipped.append(str(s))

    ids = image_ids([s for s in srcs if s.kind == "image"], gt, skip, orientation, command="viz")
    srcs[:] = [s for s in srcs if s.kind == "video" or s.path in ids]
    check_box_ids(srcs, ids, dets, gt, boxes, said, command="viz")
    if notes is not None:
        notes += [f"note: {line}" for line in said]
    return BoxesOf(dets, ids, no_boxes())


class BoxesOf:
    """The detections of an image input (by its path) or of a video frame (by its index); ``last_frame``: the highest
    image id with a detection, after which a video's frames need no decoding."""

    def __init__(self, dets: Any, ids: dict[Path, int], empty: Boxes):
        self.dets, self.ids, self.empty = dets, ids, empty
        self.last_frame = max((int(i) for i in dets if len(dets[i].boxes)), default=-1)

    def __call__(self, key: Path | int | None) -> Boxes:
        return self.dets.get(self.ids[key] if isinstance(key, Path) else key, self.empty)

    def has(self, frame: int) -> bool:
        """Whether video frame ``frame`` has a detection (the frames ``viz`` draws and counts)."""
        return len(self(frame).boxes) > 0
