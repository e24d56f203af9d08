"""A labelled video, encoded with PyAV (H.264 when the FFmpeg build has it, else MPEG-4 Part 2)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError
from .video_in import _av

#: The labelled video's time base: frames are placed at their source frame's time to the millisecond.
TIME_BASE = Fraction(1, 1000)


class VideoWriter:
    """Frames in, one video file out; the size is set by the first frame (odd sizes are padded by one
    pixel: the yuv420p pixel format needs even sizes). Written as a temporary file, renamed on close.

    Each frame is shown at the time it is given (its source frame's presentation time), so that a labelled
    variable-frame-rate video keeps its source's timing (written at the average rate, its frames drifted from the
    source's: 1.7 s long for a 2.0 s source); a frame without a time, or one not after the last, follows the last
    by one frame at ``fps``."""

    def __init__(self, path: str | Path, fps: float, crf: int = 20):
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        self.fps = Fraction(fps).limit_denominator(1001) if fps > 0 else Fraction(25)
        self.crf = int(crf)
        self.container: Any = None
        self.stream: Any = None
        self.frames = 0
        self.t0: float | None = None  # the first frame's time
        self.last_pts = -1

    def _open(self, w: int, h: int) -> None:
        av = _av()
        try:
            self.container = av.open(str(self.tmp), mode="w")
        except av.error.FFmpegError as e:
            raise AdaAnchorError(f"{self.path}: cannot write the video ({getattr(e, 'strerror', e)})") from None
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        self.stream = self.container.add_stream(codec, rate=self.fps)
        self.stream.width, self.stream.height = w + (w % 2), h + (h % 2)
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = TIME_BASE
        if codec == "libx264":
            self.stream.options = {"crf": str(self.crf), "preset": "veryfast"}

    def write(self, image: np.ndarray, time: float | None = None) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame, shown at ``time`` seconds (its source frame's time)."""
        av = _av()
        h, w = image.shape[:2]
        if self.container is None:
            self._open(w, h)
        sw, sh = self.stream.width, self.stream.height
        if (w, h) != (sw, sh):
            canvas = np.zeros((sh, sw, 3), np.uint8)
            canvas[: min(h, sh), : min(w, sw)] = image[:sh, :sw]
            image = canvas
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
        frame.pts, frame.time_base = self._pts(time), TIME_BASE
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def _pts(self, time: float | None) -> int:
        """The frame's timestamp in :data:`TIME_BASE` units: its time after the first frame's, kept increasing."""
        step = max(1, round(1 / (self.fps * TIME_BASE)))
        if time is not None and self.t0 is None:
            self.t0 = float(time) - (self.last_pts + 1) * float(TIME_BASE)
        pts = round((float(time) - self.t0) / float(TIME_BASE)) if time is not None and self.t0 is not None else -1
        self.last_pts = pts if pts > self.last_pts else self.last_pts + step if self.last_pts >= 0 else 0
        return self.last_pts

    def close(self) -> Path | None:
        """Flush the encoder and finish the file; None when no frame was written."""
        if self.container is None:
            return None
        import os

        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
        os.replace(self.tmp, self.path)
        return self.path
