"""SLEAP labels (``.slp``, ``.pkg.slp``) through sleap-io (``data.format=slp``).

- ``data.root`` is the ``.slp`` file (``data.train``/``data.val`` = ``.``; split it with ``data.split``).
- User-labelled instances are read; predicted instances (a model's output stored in the file) are not. A file
  with no user-labelled instance at all is refused, saying what it holds.
- A point that is missing or marked not visible is ``v = 0``; every other point is ``v = 2``.
- Keypoint names, skeleton edges and flip pairs (SLEAP's symmetries; else inferred from left/right names)
  come from the file's skeleton. Coordinates are pixel centres, 0-based, as sleap-io gives them.
- Frames of an image-sequence video are read from their files (relative paths: from the ``.slp`` file's
  folder; a path that is not there is looked for by its tail under the ``.slp`` file's folder, for a project
  copied elsewhere). Frames of a video file or embedded in a ``.pkg.slp`` are decoded once through sleap-io and kept
  as PNG files in ``<file name>.frames/video<i>/`` beside the ``.slp`` file (``labels.v001.slp.frames/``: one
  folder per file, so that SLEAP's versioned copies ``labels.v001.slp`` and ``labels.v002.slp`` never share
  frames). Each video's folder records the video it was decoded from (path, size, modification time) in
  ``source.json``; frames of another video (the file's videos reordered or replaced) are decoded again.

The NWB reader (:mod:`.nwb`) reads sleap-io's ``Labels`` of an NWB file through the same functions.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import DataError
from ..spec import KeypointSpec
from . import Collector, ReadResult, spec_by_name
from .image_header import ImageHeaders
from .pts import image_ids
from .sleap_labels import column_order, far_from_image, make_spec, points_instance


@functools.lru_cache(maxsize=8)
def _load(path: Path, stamp: tuple[int, int], reader: Callable[[Path], Any]) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reader(path)


def load_labels_file(path: str | Path, reader: Callable[[Path], Any], what: str) -> Any:
    """The sleap-io ``Labels`` that ``reader`` makes of the file ``path`` (``what``: how a message names such a
    file), cached on its mtime and size: the spec and both splits read the same file."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(p, f"{what} not found")
    st = p.stat()
    return _load(p.resolve(), (st.st_mtime_ns, st.st_size), reader)


def _read_slp(path: Path) -> Any:
    import sleap_io as sio

    try:
        return sio.load_slp(str(path))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(path, f"sleap-io cannot read this SLEAP file ({type(e).__name__}: {e})") from None


def load_slp_file(path: str | Path) -> Any:
    """The sleap-io ``Labels`` of ``path`` (cached on its mtime and size)."""
    return load_labels_file(path, _read_slp, "SLEAP file")


def _skeleton(labels: Any, path: Path) -> Any:
    if len(labels.skeletons) != 1:
        raise DataError(path, f"expected one skeleton, found {len(labels.skeletons)}", field="skeletons")
    return labels.skeletons[0]


def labels_spec(labels: Any, path: Path) -> KeypointSpec:
    """The keypoint spec of the sleap-io ``Labels`` of the file ``path``: its skeleton's nodes, edges and
    symmetries (flip pairs inferred from the names where it has none)."""
    sk = _skeleton(labels, path)
    edges = [(e.source.name, e.destination.name) for e in sk.edges]
    sym = [tuple(n.name for n in s.nodes) for s in sk.symmetries]
    name = sk.name or path.name.split(".")[0]
    return make_spec(str(name), list(sk.node_names), edges, sym, str(path))


def slp_spec(path: str | Path) -> KeypointSpec:
    """The keypoint spec of a SLEAP file: its skeleton's nodes, edges and symmetries."""
    p = Path(path).expanduser()
    return labels_spec(load_slp_file(p), p)


def find_media(path: Path, labels_file: Path) -> Path | None:
    """A media file a labels file names: as named, beside the labels file, or the path's tail under the labels
    file's folder, longest first (a project copied elsewhere keeps its layout: /old/proj/frames/f000.png is
    NEW/proj/frames/f000.png beside NEW/proj/x.slp). None when none of these is a file."""
    tails = [Path(*path.parts[-k:]) for k in range(len(path.parts) - (1 if path.is_absolute() else 0), 0, -1)]
    for cand in (path, *(labels_file.parent / t for t in tails)):
        if cand.is_file():
            return cand
    return None


def _frame_file(video: Any, vid: int, frame_idx: int, slp: Path) -> Path:
    """The image file of one labelled frame (see the module docstring).

    Raises:
        DataError: the image or video is missing or the frame cannot be decoded.
    """
    fn = video.filename
    if isinstance(fn, list):  # an image sequence: one file per frame
        if not 0 <= frame_idx < len(fn):
            raise DataError(slp, f"frame {frame_idx} of an image sequence of {len(fn)} images (frames 0..{len(fn) - 1})",
                            record=f"video {vid} frame {frame_idx}", field="frame_idx")
        p = Path(fn[frame_idx])
        found = find_media(p, slp)
        if found is not None:
            return found
        raise DataError(slp, "image file not found", record=f"video {vid} frame {frame_idx} ({p})", field="image")
    out = frames_dir(video, vid, slp) / f"{frame_idx:06d}.png"
    if out.is_file():
        return out
    if isinstance(fn, (str, Path)) and find_media(Path(fn), slp) is None:  # was "cannot decode ... (FileNotFoundError)"
        raise DataError(slp, f"video file not found: {fn} (looked for it as named and under {slp.parent}); move it "
                             "back, or re-link it in SLEAP (File > Replace videos)", record=f"video {vid}", field="video")
    try:
        frame = np.asarray(video[frame_idx])
    except Exception as e:  # sleap-io's video backends raise many kinds (missing file, codec, index)
        raise DataError(slp, f"cannot decode the frame from {fn} ({type(e).__name__})",
                        record=f"video {vid} frame {frame_idx}", field="video") from None
    from PIL import Image

    out.parent.mkdir(parents=True, exist_ok=True)
    img = frame[..., 0] if frame.ndim == 3 and frame.shape[2] == 1 else frame
    # Written under a name of its own and renamed when complete: a frame cut short (Ctrl-C during the first read,
    # another process of a torchrun reading the same file) was taken for decoded, and training stopped later at
    # its truncated PNG.
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.{threading.get_ident()}.png")
    try:
        Image.fromarray(img.astype(np.uint8)).save(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _video_identity(video: Any) -> dict[str, Any]:
    """What names a video's frames: its file's resolved path, size and modification time (the path alone when
    the file is not there: frames decoded from it before are still its own)."""
    p = Path(str(video.filename)).expanduser()
    try:
        st = p.stat()
    except OSError:
        return {"file": str(p.resolve())}
    return {"file": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


_checked: set[tuple[str, str]] = set()  # (folder, identity) pairs checked in this process


def frames_dir(video: Any, vid: int, slp: Path) -> Path:
    """The folder of the decoded frames of video ``vid`` of ``slp``, emptied first when they were decoded from
    another video than ``video`` (see the module docstring)."""
    d = slp.parent / f"{slp.name}.frames" / f"video{vid}"
    ident = _video_identity(video)
    key = (str(d), json.dumps(ident, sort_keys=True))
    if key in _checked:
        return d
    stamp = d / "source.json"
    try:
        old = json.loads(stamp.read_text()) if stamp.is_file() else None
    except (OSError, ValueError):
        old = None
    same = old is not None and (old == ident or ("size" not in ident and old.get("file") == ident["file"]))
    try:
        if not same:
            for f in d.glob("*.png"):  # another video's frames (or of unknown origin)
                f.unlink()
            d.mkdir(parents=True, exist_ok=True)
            stamp.write_text(json.dumps(ident))
    except OSError as e:
        raise DataError(slp, f"cannot write the decoded frames to {d} ({e.strerror or e})", field="video") from None
    _checked.add(key)
    return d


def read_labels(path: Path, labels: Any, spec: KeypointSpec, skip_invalid: bool = False) -> ReadResult:
    """The user-labelled instances of the sleap-io ``Labels`` of the file ``path`` (see :func:`read_slp`).

    Raises:
        DataError: the file holds no user-labelled instance at all (only a model's predicted instances, or none).
    """
    order = column_order(spec, list(_skeleton(labels, path).node_names), str(path))
    if not any(lf.user_instances for lf in labels.labeled_frames):
        preds = [lf for lf in labels.labeled_frames if lf.predicted_instances]
        what = (f"only predicted instances (a model's output: {sum(len(lf.predicted_instances) for lf in preds)} on "
                f"{len(preds)} frames)" if preds else "no instance at all")
        raise DataError(path, f"no labelled instance to train on: the file holds {what}", field="instances")
    col = Collector(str(path), skip_invalid)
    vids = {id(v): i for i, v in enumerate(labels.videos)}
    gone: set[int] = set()  # videos not found: said once, their other frames passed over
    rows: list[tuple[str, str, np.ndarray, dict]] = []
    headers = ImageHeaders()  # each frame file's header opened once
    for lf in labels.labeled_frames:
        users = lf.user_instances
        if not users:
            continue  # predictions only: nothing labelled by a person
        vid = vids.get(id(lf.video), -1)
        if vid in gone:
            continue
        try:
            img = str(_frame_file(lf.video, vid, int(lf.frame_idx), path))
        except DataError as e:
            if e.reason.startswith("video file not found"):
                gone.add(vid)
                n = sum(1 for f in labels.labeled_frames if f.user_instances and f.video is lf.video)
                col.fail(f"{e.reason}; its {n} labelled frame(s) are not read", record=e.record, field=e.field)
            else:
                col.fail(e.reason, record=e.record, field=e.field)
            continue
        for inst in users:
            extra = {"video": vid, "frame": int(lf.frame_idx), "track": inst.track.name if inst.track else None}
            pts, rec = inst.numpy()[order], f"video {vid} frame {lf.frame_idx}"
            far = far_from_image(pts, img, spec.keypoints, headers)
            if far is not None:  # the box is the points' extent: nothing else would say so
                col.fail(far, record=rec, field="keypoints")
                continue
            rows.append((img, rec, pts, extra))
    ids = image_ids(r[0] for r in rows)
    out = []
    for ann, (img, rec, pts, extra) in enumerate(rows):
        inst = points_instance(img, ids[img], ann, pts, col, rec, extra)
        if inst is not None:
            out.append(inst)
    return col.result(out)


@spec_by_name
def read_slp(path: str | Path, spec: KeypointSpec, images_dir: str | Path | None = None,
             skip_invalid: bool = False, **_: object) -> ReadResult:
    """Read a SLEAP file (see the module docstring). ``images_dir`` is not used: the file names its media.

    Returns:
        One instance per user-labelled instance (``ann_id`` in reading order, ``image_id`` by image file),
        box = the extent of its labelled points, ``extra``: ``video``, ``frame`` and ``track`` (or None).
    """
    p = Path(path).expanduser()
    return read_labels(p, load_slp_file(p), spec, skip_invalid)


__all__ = ["find_media", "labels_spec", "load_labels_file", "load_slp_file", "read_labels", "read_slp", "slp_spec"]
