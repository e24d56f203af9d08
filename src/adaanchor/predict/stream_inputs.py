"""The frames ``adaanchor predict`` reads, each with its detections (:mod:`.command`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .boxes import Boxes, no_boxes
from .predictor import Predictor
from .sources import Frame, Skip, Source, iter_frames, prefetch


def frame_id(frame: Frame, ids: dict[Path, int]) -> int:
    """The image id of an image input, the frame index of a video frame."""
    return ids[frame.source] if frame.kind == "image" else frame.index


def frame_inputs(predictor: Predictor, srcs: list[Source], dets: dict[int, Boxes] | None, ids: dict[Path, int],
                 skipped: list[Skip], turned: dict[str, str]) -> Iterator[tuple[Any, Boxes | None, Frame]]:
    """``(image, boxes, frame)`` of every frame of ``srcs``, read ahead; each source read turned is noted in
    ``turned`` (source -> its orientation), each one that cannot be read in ``skipped``."""
    outside: list[str] = []
    for fr in prefetch(iter_frames(srcs, skipped.append, predictor.orientation, predictor.bit_depth), 2 * predictor.batch_size):
        if fr.turn:
            turned.setdefault(str(fr.source), fr.turn)
        b = None if dets is None else inside_boxes(dets.get(frame_id(fr, ids), no_boxes()), fr, ids, outside)
        yield fr.image, b, fr
    if outside:  # counted with the skipped inputs, under the detections file's name (boxes.Detections.source)
        why = (f"{len(outside)} detection(s) lie outside their image and were left out (the first: {outside[0]}): "
               "boxes in another image's pixels, or image ids of other images?")
        skipped.append(Skip(getattr(dets, "source", "--boxes"), why))


def inside_boxes(boxes: Boxes, fr: Frame, ids: dict[Path, int], outside: list[str]) -> Boxes:
    """``boxes`` of frame ``fr`` without those that miss the image altogether (each noted in ``outside``): a
    detector's box never does, and the model's keypoints in such a crop came back off the image, exit code 0."""
    from ..data.readers.checks import box_outside_image

    h, w = fr.image.shape[:2]
    keep = np.array([not box_outside_image(b, (w, h)) for b in boxes.boxes], dtype=bool)
    if keep.all():
        return boxes
    for b in boxes.boxes[~keep]:
        outside.append(f"image id {frame_id(fr, ids)} ({fr.source.name}, {w}x{h}), box {[float(f'{v:.6g}') for v in b]}")
    return Boxes(boxes.boxes[keep], boxes.scores[keep])


__all__ = ["frame_id", "frame_inputs", "inside_boxes"]
