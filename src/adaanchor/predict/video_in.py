"""Reading videos with PyAV (FFmpeg's libraries): a forward decode, one frame at a time, no seeking, so memory
stays constant on a video of any length.

Frame indices survive damage. A frame's index is its position among the frames the container holds, by
presentation time (:class:`FrameClock`): on an undamaged video that is the count of frames before it (the
numbering of DeepLabCut, SLEAP and OpenCV's sequential reads, variable frame rate included), and a frame that
cannot be decoded leaves its own index out instead of shifting every later frame onto the wrong row. Decoding
goes on after such a frame. What is known to be lost is reported at the end of the video:

- frames whose data the container holds but that did not decode;
- fewer frames than the container lists (an AVI whose damaged chunks the demuxer skipped). The CSV keeps a row
  for each listed frame only when the file is large enough to hold them (:func:`padded_count`): a damaged AVI
  header listing 1,000,000 frames of a 7 kB file gave a CSV of a million empty rows;
- a stream that ends before the duration its header gives (a Matroska file cut or damaged part way).

Damage that a container without a frame index hides from the demuxer (a Matroska or WebM file read past a
damaged block) cannot be seen, and the frames after it are numbered as the demuxer delivers them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError
from .frame_clock import FrameClock


@dataclass
class Frame:
    """One image to predict on.

    Attributes:
        image: ``(H, W, 3)`` uint8 RGB.
        source: the file it came from.
        index: frame index in the video (0 for an image file); see the module docstring.
        time: presentation time in seconds (video), or None.
        kind: ``"image"`` or ``"video"``.
        turn: the file's orientation that changes how it is shown (``"EXIF orientation 6"``, ``"rotation
            -90"``), applied to ``image`` or not as the reader was asked; None when it has none.
    """

    image: np.ndarray
    source: Path
    index: int = 0
    time: float | None = None
    kind: str = "image"
    turn: str | None = None


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about its first video stream (``frames`` 0 when it does not say)."""

    frames: int
    fps: float
    width: int
    height: int


def _av() -> Any:
    try:
        import av
    except ImportError:
        raise AdaAnchorError("reading videos needs PyAV: pip install av") from None
    return av


def ff_reason(e: Exception) -> str:
    """FFmpeg's reason for an error, one line."""
    return getattr(e, "strerror", None) or str(e).splitlines()[0][:200]


#: Metadata that is not UTF-8 (a damaged header, another encoding) is read with replacement characters: PyAV's
#: default, "strict", raised UnicodeDecodeError out of ``av.open`` for an MP4 whose header was damaged.
METADATA_ERRORS = "replace"


def video_info(path: str | Path) -> VideoInfo:
    """Frame count, frame rate and size of a video file (no frame is decoded)."""
    av = _av()
    try:
        with av.open(str(path), metadata_errors=METADATA_ERRORS) as c:
            if not c.streams.video:
                raise AdaAnchorError(f"{path}: no video stream")
            s = c.streams.video[0]
            rate = s.average_rate or s.guessed_rate or 25
            return VideoInfo(int(s.frames or 0), float(rate), int(s.codec_context.width), int(s.codec_context.height))
    except av.error.FFmpegError as e:
        raise AdaAnchorError(f"{path}: cannot open the video ({ff_reason(e)})") from None


def read_video(path: str | Path, orientation: str = "displayed") -> Iterator[Frame]:
    """Decode a video front to back, one :class:`Frame` at a time (RGB); nothing is kept between frames.
    ``orientation="displayed"`` turns each frame as its stream's display rotation says (a phone's portrait
    video), as players and OpenCV show it; ``"stored"`` keeps the decoded pixels.

    Raises:
        AdaAnchorError: the file cannot be opened or has no video stream (before any frame); after the last
            frame: the container could not be read to its end, frames were lost (see the module docstring),
            or no frame decoded. The frames that decoded have been yielded.
    """
    av = _av()
    p = Path(path)
    try:
        container = av.open(str(p), metadata_errors=METADATA_ERRORS)
    except av.error.FFmpegError as e:
        raise AdaAnchorError(f"{p}: cannot open the video ({ff_reason(e)})") from None
    clock, n, demuxed, end, first, nbytes = FrameClock(), 0, 0, None, None, 0
    with container:
        if not container.streams.video:
            raise AdaAnchorError(f"{p}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # FFmpeg's own frame/slice threads: decode overlaps the model
        try:
            for packet in container.demux(stream):
                if packet.size:  # the last packet (size 0) only flushes the decoder
                    demuxed += 1
                    nbytes += packet.size
                    if not packet.is_discard:  # before an edit list's start: decoded, never output
                        clock.add(packet.pts)
                try:
                    frames = packet.decode()
                except av.error.FFmpegError:
                    continue  # this packet's frame is lost; the clock counts it when a later frame comes out
                for frame in frames:
                    idx = clock.index(frame.pts, bool(stream.codec_context.has_b_frames))
                    if idx is None:
                        continue
                    t = float(frame.time) if frame.time is not None else None
                    if clock.decode_order or clock.restarted:  # the frame's timestamp is another frame's or restarted
                        t = _counted_time(stream, idx, first)
                    first = t if n == 0 else first
                    img, turn = _turned(frame, orientation)
                    yield Frame(img, p, idx, t, "video", turn)
                    n += 1
                    end = t if t is not None else end
        except av.error.FFmpegError as e:  # the demuxer: the rest of the file cannot be read
            raise AdaAnchorError(f"{p}: reading failed after {n} frame(s) ({ff_reason(e)})") from None
        clock.finish()
        listed = padded_count(int(stream.frames or 0), demuxed, nbytes, p)
        problem = _losses(container, stream, clock, n, demuxed, end, listed)
        # The video's frame count, for the CSV to keep a row for each, lost ones too: the clock's (lost frames at
        # the end included) or the container's list when the file can hold that many, whichever is more.
        total = max(clock.frames() or 0, listed) or None
    if n == 0:
        raise AdaAnchorError(f"{p}: the video has no decodable frame")
    if problem:
        err = AdaAnchorError(f"{p}: {problem}")
        err.frames = total  # type: ignore[attr-defined]
        raise err


def _counted_time(stream: Any, idx: int, first: float | None) -> float | None:
    """The presentation time of frame ``idx`` of a constant-rate stream: frame 0's time (``first``) plus
    ``idx`` frames; None when either is unknown."""
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    return None if rate <= 0 or first is None else first + idx / rate


def _turned(frame: Any, orientation: str) -> tuple[np.ndarray, str | None]:
    """The frame's RGB pixels, turned (and mirrored) by its display matrix when ``orientation`` is ``"displayed"``,
    and what the matrix does as a note (None for nothing). A mirrored matrix (``[-1, 0, 0, 1]``: a front camera's
    video, or one flipped by an editor) was read as its rotation alone, 180 degrees: the frames came upside down."""
    img = frame.to_ndarray(format="rgb24")
    m = _display_matrix(frame)
    if m is None or not (_axis_aligned(m) and np.linalg.det(m) < 0):  # a rotation, as FFmpeg's rotation reads it
        rot = int(round(float(frame.rotation or 0) / 90.0)) % 4
        if not rot:
            return img, None
        if orientation == "displayed":
            img = np.ascontiguousarray(np.rot90(img, rot))  # np.rot90 turns counterclockwise, as the matrix says
        return img, f"rotation {int(round(float(frame.rotation)))}"
    signs = np.where(np.abs(m) < 1e-3, 0, np.sign(m)).astype(int)
    (a, b), (c, d) = signs
    if orientation == "displayed":  # x' = a x + c y, y' = b x + d y (FFmpeg's convention), as ffmpeg's autorotate does
        if a == 0:  # the axes swap
            img = img.transpose(1, 0, 2)
            a, d = c, b
        img = np.ascontiguousarray(img[:: d or 1, :: a or 1])
    what = {(-1, 0, 0, 1): "left-right", (1, 0, 0, -1): "top-bottom", (0, 1, 1, 0): "about the main diagonal",
            (0, -1, -1, 0): "about the other diagonal"}[tuple(int(v) for v in signs.ravel())]
    return img, f"display matrix mirrored {what}"


def _display_matrix(frame: Any) -> np.ndarray | None:
    """The 2x2 part ``[[a, b], [c, d]]`` of a frame's display matrix (FFmpeg's side data: 3x3 int32, 16.16 fixed
    point), or None when it has none."""
    try:
        sd = frame.side_data.get("DISPLAYMATRIX")
        raw = np.frombuffer(bytes(sd), dtype="<i4") if sd is not None else None
    except (AttributeError, KeyError, TypeError, ValueError):  # an older PyAV without side data by name
        return None
    if raw is None or raw.size != 9:
        return None
    return np.array([[raw[0], raw[1]], [raw[3], raw[4]]], dtype=np.float64) / 65536.0


def _axis_aligned(m: np.ndarray) -> bool:
    """Whether the matrix maps the axes onto the axes (a multiple of 90 degrees, mirrored or not)."""
    return bool((np.abs(m[0, 0]) < 1e-3 and np.abs(m[1, 1]) < 1e-3) or (np.abs(m[0, 1]) < 1e-3 and np.abs(m[1, 0]) < 1e-3))


def padded_count(listed: int, demuxed: int, nbytes: int, path: Path) -> int:
    """The container's frame count ``listed`` when the file could hold that many frames (its size at most twice
    over, at the mean size of the ``demuxed`` packets read, ``nbytes`` in all), else 0: a count the file cannot hold
    is a damaged header, and padding the CSV to it wrote a row for each (a million rows for a 7 kB AVI)."""
    if listed <= demuxed:
        return listed
    try:
        size = path.stat().st_size
    except OSError:
        return 0
    return listed if demuxed and nbytes > 0 and listed <= 2 * size * demuxed / nbytes else 0


def _losses(container: Any, stream: Any, clock: FrameClock, n: int, demuxed: int, end: float | None,
            padded: int | None = None) -> str | None:
    """What is known to be lost of a video read to its end (``n`` frames decoded from ``demuxed`` packets, the
    last at ``end`` seconds), in one line, or None. ``padded``: :func:`padded_count` (0: the listed count is more
    than the file can hold)."""
    if n == 0:
        return None
    found = []
    listed = int(stream.frames or 0)
    if clock.lost and listed > demuxed and padded != 0:  # (0: a count the file cannot hold)
        # Both kinds of loss: the total first, as either count alone was read as the loss (3 frames that could not be
        # decoded said, 9 of the 12 missing).
        found.append(f"{listed - n} of the {listed} frames the container lists are missing ({n} read)")
    if clock.lost:
        found.append(f"{clock.lost} frame(s) could not be decoded, the first of them frame {clock.first_lost}, and "
                     f"the other {n} keep their indices")
    if listed > demuxed:
        found.append(f"the container lists {listed} frames and {demuxed} could be read, so the frames after the "
                     f"damage are numbered as read, {listed - demuxed} index(es) early at most"
                     + (", and the lost ones' empty rows are at the CSV's end" if padded != 0 else
                        " (more frames than the file's size can hold at the size of those read: the CSV has no rows for "
                        "the listed ones not read)"))
    stop = _stopped_early(container, stream, end) if listed == 0 else None  # a listed count says it already
    if stop:
        found.append(stop)
    return "; ".join(found) or None


def _stopped_early(container: Any, stream: Any, end: float | None) -> str | None:
    """Whether the last frame (at ``end`` seconds) is short of the stream's duration by more than two frames and
    half a second (a variable-frame-rate video's last frame may be held that long)."""
    rate = float(stream.average_rate or stream.guessed_rate or 0)
    tb = stream.time_base
    total = None
    if stream.duration is not None and tb is not None:
        total = float(stream.duration * tb)
    elif container.duration is not None and len(container.streams) == 1:  # other streams may run longer
        total = container.duration / 1e6  # microseconds
    if end is None or total is None or rate <= 0:
        return None
    start = float(stream.start_time * tb) if stream.start_time is not None and tb is not None else 0.0
    if end + max(2.0 / rate, 0.5) < start + total:
        return f"reading stopped at {end - start:.2f} s of the video's {total:.2f} s and the rest could not be read"
    return None
