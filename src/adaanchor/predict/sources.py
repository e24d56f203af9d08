"""Prediction sources: image files, folders, glob patterns and video files, read as a stream of frames.

Videos are decoded by :mod:`.video_in` (PyAV): frames come one at a time, each with its index and its presentation
time. A multi-frame image file (a TIFF stack, an animated GIF or WebP) is read page by page as a video is
(:mod:`.stacks`). Anything that cannot be read is reported as a :class:`Skip` and the stream goes on; a name that
is not UTF-8 or a path that is not a regular file is one when the sources are listed (:mod:`.source_checks`).
"""

from __future__ import annotations

import glob
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data.image_read import read_image
from ..data.media_suffixes import IMAGE_SUFFIXES, MEDIA_SUFFIXES, VIDEO_SUFFIXES
from ..errors import AdaAnchorError
from .source_checks import entry_problem, name_problem, not_regular, printable
from .stacks import STACK_SUFFIXES, is_stack, read_stack, stack_info
from .video_in import Frame, VideoInfo, read_video, video_info

__all__ = ["IMAGE_SUFFIXES", "MEDIA_SUFFIXES", "VIDEO_SUFFIXES", "Frame", "Skip", "Source", "VideoInfo", "count_frames",
           "expand_sources", "frames_info", "image_id_of", "iter_frames", "prefetch", "read_frames", "read_video",
           "video_info"]

_GLOB_CHARS = re.compile(r"[*?\[]")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")  # http://, https://, rtsp://, s3://


@dataclass(frozen=True)
class Source:
    """One input file: ``kind`` is ``"image"`` or ``"video"``."""

    path: Path
    kind: str


@dataclass(frozen=True)
class Skip:
    """An input that was not (or not completely) read, and why."""

    source: str
    reason: str
    frames: int | None = None  # a video's frame count when known, lost frames at its end included

    def __post_init__(self) -> None:  # a name that is not UTF-8 could not be printed
        object.__setattr__(self, "source", printable(str(self.source)))
        object.__setattr__(self, "reason", printable(str(self.reason)))

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}"


def kind_of(path: Path) -> str:
    """``"video"`` for a video file or a multi-frame image file (a stack), else ``"image"``."""
    suffix = path.suffix.lower()
    if suffix in VIDEO_SUFFIXES or (suffix in STACK_SUFFIXES and is_stack(path)):
        return "video"
    return "image"


def read_frames(path: str | Path, orientation: str = "displayed", bit_depth: int | None = None) -> Iterator[Frame]:
    """The frames of a ``"video"`` source: a video file's (:func:`read_video`; decoded to 8 bits, ``bit_depth`` does
    not apply) or an image stack's pages (:func:`~.stacks.read_stack`)."""
    p = Path(path)
    if p.suffix.lower() in STACK_SUFFIXES:
        return read_stack(p, orientation, bit_depth)
    return read_video(p, orientation)


def frames_info(path: str | Path) -> VideoInfo:
    """Frame count, frame rate and size of a ``"video"`` source (:func:`video_info`, :func:`~.stacks.stack_info`)."""
    p = Path(path)
    return stack_info(p) if p.suffix.lower() in STACK_SUFFIXES else video_info(p)


def expand_sources(args: Sequence[str | Path], notes: list[str] | None = None) -> tuple[list[Source], list[Skip]]:
    """Files to read, in order, from SOURCE arguments: an image or video file; a folder (its image and video
    files, sorted by name, not recursive); a glob pattern (``**`` recurses; matches sorted). A missing path,
    an empty folder or a pattern matching nothing is a :class:`Skip`, and so is a file whose name is not UTF-8,
    or something that is not a regular file (a link to nothing, a FIFO, in a folder a subfolder named ``x.png``:
    :mod:`.source_checks`). A file named twice is read once, under the name it was first given; ``notes``
    receives a line for a file named again under another name (a link and its target), whose name has no results."""
    out: list[Source] = []
    skips: list[Skip] = []
    seen: dict[Path, Path] = {}  # resolved path -> the name it was first given
    noted: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key in seen:
            if notes is not None and seen[key] != p and p not in noted:
                noted.add(p)
                notes.append(f"{p}: the same file as {seen[key]}, read once under that name")
        else:
            seen[key] = p
            why = name_problem(p)  # before any writer: the CSV, NWB and .slp writers failed on it half way
            if why:
                skips.append(Skip(str(p), why))
            else:
                out.append(Source(p, kind_of(p)))

    for arg in args:
        p = Path(arg)
        if _URL.match(str(arg)) and not p.exists():
            # Path() folds "//" and a "?" read as a glob character hid what it was: say it is a URL.
            skips.append(Skip(str(arg), "a URL: sources are local files, folders and glob patterns (download it "
                                        "first)"))
        elif p.is_file():
            add(p)
        elif p.is_dir():
            try:
                # Hidden files are passed over, as a glob's * does: macOS writes "._A.PNG" metadata beside each
                # image on other file systems, and each was a skipped input (exit 3).
                media = sorted(q for q in p.iterdir() if q.suffix.lower() in MEDIA_SUFFIXES and not q.name.startswith("."))
            except OSError as e:
                skips.append(Skip(str(p), f"cannot list the folder ({e.strerror or e})"))
                continue
            # A link to a missing file or a loop, a FIFO, a subfolder named x.png: counted, not left out unsaid.
            problems = {q: entry_problem(q) for q in media}
            skips += [Skip(str(q), why) for q, why in problems.items() if why]
            if not media:
                hidden = any(q.name.startswith(".") and q.suffix.lower() in MEDIA_SUFFIXES for q in p.iterdir())
                skips.append(Skip(str(p), "folder holds no image or video file" + (
                    " (only hidden ones, whose names start with '.', which are passed over)" if hidden
                    else _nested_hint(p))))
            for q in media:
                if not problems[q]:
                    add(q)
        elif not_regular(p):  # a FIFO (reading it waits for a writer), a link to nothing or a loop
            skips.append(Skip(str(p), str(not_regular(p))))
        elif _GLOB_CHARS.search(str(arg)):
            matches = sorted(Path(m) for m in glob.glob(str(arg), recursive=True) if Path(m).is_file())
            if not matches:
                skips.append(Skip(str(arg), "pattern matches no file"))
            for q in matches:
                add(q)
        else:
            skips.append(Skip(str(p), "no such file or folder"))
    return out, skips


def _nested_hint(folder: Path, limit: int = 10_000) -> str:
    """For a folder without media files of its own: how many its subfolders hold and a pattern that reads them
    (folders are not searched recursively), or ``""``. At most ``limit`` files are looked at."""
    counts: dict[str, int] = {}
    seen = 0
    for q in folder.rglob("*"):
        seen += 1
        if seen > limit:
            break
        suffix = q.suffix.lower()
        # hidden files and folders: a glob's ** passes over them, as the folder read does
        hidden = any(part.startswith(".") for part in q.relative_to(folder).parts)
        if suffix in MEDIA_SUFFIXES and not hidden and q.is_file():
            counts[suffix] = counts.get(suffix, 0) + 1
    if not counts:
        return ""
    common = max(counts, key=lambda k: counts[k])
    return (f" (its subfolders hold {sum(counts.values())}; folders are not searched recursively: name the "
            f"subfolders, or give a pattern such as '{folder / '**' / ('*' + common)}')")


def image_id_of(path: str | Path) -> int | None:
    """The COCO convention: an image file whose stem is an integer has that id (``000000000785.jpg`` -> 785)."""
    stem = Path(path).stem
    return int(stem) if stem.isascii() and stem.isdigit() else None


def iter_frames(sources: Sequence[Source], on_skip: Callable[[Skip], None],
                orientation: str = "displayed", bit_depth: int | None = None) -> Iterator[Frame]:
    """Every frame of every source, in order; an unreadable source (or the unreadable rest of a video) goes
    to ``on_skip`` and the stream continues with the next source. ``orientation="displayed"`` turns images by
    their EXIF orientation and video frames by their rotation, as viewers show them (``"stored"``: as stored);
    each frame's ``turn`` names what it had. ``bit_depth``: of 16-bit image files (``data.bit_depth``; None: guessed
    per image); video frames are decoded to 8 bits."""
    for src in sources:
        if src.kind == "video":
            try:
                yield from read_frames(src.path, orientation, bit_depth)
            except AdaAnchorError as e:
                on_skip(Skip(str(src.path), str(e).removeprefix(f"{src.path}: "), getattr(e, "frames", None)))
            continue
        try:
            img, tag = read_image(src.path, exif="apply" if orientation == "displayed" else "ignore", bit_depth=bit_depth)
        except AdaAnchorError as e:  # DataError: missing, empty, truncated, not an image
            on_skip(Skip(str(src.path), getattr(e, "reason", None) or str(e)))
            continue
        yield Frame(img, src.path, turn=f"EXIF orientation {tag}" if 2 <= tag <= 8 else None)


def count_frames(sources: Sequence[Source]) -> int | None:
    """The number of frames to expect (for the progress bar), or None when a video does not say."""
    total = 0
    for s in sources:
        if s.kind == "image":
            total += 1
            continue
        try:
            n = frames_info(s.path).frames
        except AdaAnchorError:
            n = 0
        if n <= 0:
            return None
        total += n
    return total


def prefetch(items: Iterator[Any], size: int) -> Iterator[Any]:
    """Yield from ``items``, produced ahead by a background thread, at most ``size`` items ahead (memory stays
    bounded). Decoding (FFmpeg, which releases the GIL) then overlaps the model's forward pass. An exception
    in the producer is raised here; closing this generator stops the producer."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=max(1, size))
    stop = threading.Event()
    done = object()

    def put(x: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(x, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for it in items:
                if not put((None, it)):
                    return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put((e, None))
            return
        put((None, done))

    th = threading.Thread(target=produce, name="adaanchor-prefetch", daemon=True)
    th.start()
    try:
        while True:
            err, it = q.get()
            if err is not None:
                raise err
            if it is done:
                return
            yield it
    finally:
        stop.set()
        th.join(timeout=5)
