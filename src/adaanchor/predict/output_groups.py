"""The output groups of ``adaanchor predict`` (:mod:`.command`): the image inputs' files together, each video's
files of its own (closed when the next source starts), and the overlay or labelled-video frame drawn for each
prediction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError
from .overlay import draw_prediction, legend_corner, save_png
from .predictor import Predictor
from .sources import Frame, Skip, frames_info
from .video_out import VideoWriter
from .writers import SUFFIX, WRITERS

#: The name of the image inputs' files (``predictions.json`` ...); a video of that name gets ``predictions_1.*``.
IMAGES_GROUP = "predictions"


class OutputGroup:
    """The writers of one output group (all images, or one video)."""

    def __init__(self, out: Path, name: str, formats: list[str], predictor: Predictor, max_instances: int,
                 video: Path | None, save_video: bool, category_id: int = 1):
        self.files: list[Path] = []
        kw = {"keypoints": predictor.keypoint_names, "skeleton": predictor.skeleton, "max_instances": max_instances,
              "scorer": f"adaanchor_{predictor.strategy}", "orientation": predictor.orientation,
              "category_id": category_id}
        self.writers = [WRITERS[f](out / f"{name}{SUFFIX[f]}", **kw) for f in formats]
        self.source = video
        self.video = VideoWriter(out / f"{name}_labeled.mp4", frames_info(video).fps) if video and save_video else None
        self.legend: bool | str = True  # a labelled video's legend keeps its first frame's corner

    def write(self, frame: Frame, pred: Any, image_id: int) -> None:
        for w in self.writers:
            w.write(frame, pred, image_id)

    def close(self, frames: int | None = None) -> list[Path]:
        """``frames``: the video's frame count when frames at its end were lost (its CSV keeps their rows)."""
        for w in self.writers:
            if frames and self.source is not None and hasattr(w, "end_video"):
                w.end_video(self.source, frames)
        files, failed = [], None
        for close in [w.close for w in self.writers] + ([self.video.close] if self.video is not None else []):
            try:  # every file is closed (its temporary file removed) when one cannot be written
                p = close()
            except (AdaAnchorError, OSError) as e:
                failed = failed or e
                continue
            files += [p] if p else []
        if failed is not None:
            raise failed
        return files


def unique_name(name: str, used: set[str]) -> str:
    stem, i = name, 1
    while name in used:
        name, i = f"{stem}_{i}", i + 1
    used.add(name)
    return name


class OutputGroups:
    """The output groups of a prediction run: all the images in one, each video in its own, which closes as soon as
    the next source starts. ``files`` lists the files written, in the order they were closed."""

    def __init__(self, out: Path, fmts: list[str], predictor: Predictor, max_inst: int, save_video: bool,
                 skipped: list[Skip], category_id: int = 1):
        self.out, self.fmts, self.predictor, self.max_inst, self.save_video = out, fmts, predictor, max_inst, save_video
        self.category_id = category_id
        self.skipped = skipped
        self.groups: dict[str, OutputGroup] = {}
        # The images' files are always predictions.*: a video of that name gets predictions_1.* whatever the order of
        # the inputs (the images' results went to predictions_1.json when the video came first).
        self.used: set[str] = {IMAGES_GROUP}
        self.files: list[Path] = []
        self.open_video: str | None = None  # the key of the open video group
        self.write_s = 0.0  # seconds spent closing groups (writing their files)

    def of(self, frame: Frame) -> OutputGroup:
        """The group of ``frame``, opened for its first frame (closing the video group before it)."""
        key = IMAGES_GROUP if frame.kind == "image" else str(frame.source)
        if key not in self.groups:
            if self.open_video is not None and self.open_video != key and self.open_video != IMAGES_GROUP:
                done, self.open_video = self.open_video, None
                self._close(self.groups.pop(done), self.frames_of(done))
            name = IMAGES_GROUP if frame.kind == "image" else unique_name(frame.source.stem, self.used)
            self.groups[key] = OutputGroup(self.out, name, self.fmts, self.predictor, self.max_inst,
                                      frame.source if frame.kind == "video" else None, self.save_video, self.category_id)
            if frame.kind == "video":
                self.open_video = key
        return self.groups[key]

    def frames_of(self, key: str) -> int | None:
        """A skipped video's frame count (read before its group closes)."""
        return next((sk.frames for sk in self.skipped if sk.source == key and sk.frames), None)

    def close_all(self, stopped: bool) -> None:
        """Close every open group; ``stopped`` (SIGTERM): the lost frames at a video's end are not counted. A group
        that cannot be written (a full disk) does not keep the others open: each is closed, then the first failure
        is raised."""
        failed: Exception | None = None
        for key, g in self.groups.items():
            try:
                self._close(g, None if stopped else self.frames_of(key))
            except (AdaAnchorError, OSError) as e:
                failed = failed or e
        if failed is not None:
            raise failed

    def _close(self, group: OutputGroup, frames: int | None) -> None:
        """Close ``group``, adding its files to :attr:`files` and the time it took to :attr:`write_s` (a .slp or
        .nwb file is written whole at its close, seconds for a short video: told apart from the predicting)."""
        t0 = time.perf_counter()
        self.files.extend(group.close(frames))
        self.write_s += time.perf_counter() - t0


def draw_frame(frame: Frame, pred: Any, g: OutputGroup, predictor: Predictor, overlays: bool, min_score: float, out: Path,
          overlay_names: set[str]) -> None:
    """The instances of ``pred`` scored at least ``min_score`` drawn on ``frame``: an image's overlay PNG (with
    ``overlays``), a video's labelled frame (when ``g`` writes a labelled video)."""
    draw = (frame.kind == "image" and overlays) or (frame.kind == "video" and g.video is not None)
    if not draw:
        return
    shown = pred if min_score <= 0 else pred.select(pred.instance_scores() >= min_score)
    if frame.kind == "video" and g.legend is True:
        g.legend = legend_corner(shown, predictor.has_anchors, predictor.multi_person)
    img = draw_prediction(frame.image, shown, predictor.skeleton, anchors=predictor.has_anchors,
                          stride=predictor.stride, multi_person=predictor.multi_person,
                          legend=g.legend if frame.kind == "video" else True)
    if frame.kind == "image":
        name = unique_name(frame.source.stem, overlay_names)
        save_png(img, out / "overlays" / f"{name}.png")
    else:
        g.video.write(img, frame.time)


__all__ = ["IMAGES_GROUP", "OutputGroup", "OutputGroups", "draw_frame", "unique_name"]
