"""Prediction files: COCO keypoint results (JSON), DeepLabCut's CSV layout, SLEAP ``.slp`` and NWB (sleap-io).

One writer per output group (all image inputs together, or one video file). The JSON and CSV writers
stream: each frame is written when it is predicted, so memory does not grow with the video's length. Files
are written under a temporary name and renamed when complete.

- COCO results (``adaanchor score`` reads them): ``{"image_id", "category_id": 1, "keypoints": [x, y, s] *
  K, "score", "bbox", "file_name" (absolute)[, "frame", "time"]}`` per instance, original image pixels.
- DeepLabCut CSV, the layout of DeepLabCut's own analysis output: header rows ``scorer``, ``bodyparts``,
  ``coords`` (plus ``individuals`` when an image can hold several instances); then one row per frame
  (index = frame number for a video, the image path for images) with ``x, y, likelihood`` per keypoint.
  A missing instance is empty cells; ``likelihood`` is empty for a strategy without confidence. A video frame
  that could not be decoded is a row of empty cells, so that row ``i`` stays frame ``i``.
- ``.slp`` (sleap-io's ``save_slp``): a skeleton with the spec's edges and one ``PredictedInstance`` per
  instance; it is built in memory and saved at the end (sleap-io has no streaming writer).
- ``.nwb`` (sleap-io's NWB predictions writer, as ``save_nwb(..., nwb_format="predictions")``): the skeleton in
  ``processing/behavior/Skeletons`` and one ndx-pose ``PoseEstimation`` per instance slot (``track=untracked``;
  ``track=individual<i>`` when a frame can hold several instances, instance i of each frame) holding one
  ``PoseEstimationSeries`` per keypoint: its points (x, y) and confidences, on the frames where it was found
  (a missing keypoint is left out), times = frame numbers (sleap-io's convention: frame i at time i). A video's
  series names the video in ``original_videos``; all image inputs make one series, image i its frame i, and
  ``original_videos`` lists the images in that order. A strategy without confidence writes 1.0 (sleap-io leaves
  out a point without one); NWB keeps no instance score. Built in memory and saved at the end, like ``.slp``.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError
from .result import Prediction
from .sources import Frame

FORMATS = ("coco", "csv", "slp", "nwb")
FORMAT_ALIASES = {"dlc": "csv", "json": "coco", "sleap": "slp"}
SUFFIX = {"coco": ".json", "csv": ".csv", "slp": ".slp", "nwb": ".nwb"}


def input_path(path: Path) -> Path:
    """An input's absolute path as the user named it: its folder resolved, its own name kept. A symlinked
    file (git-annex, DataLad, DVC, the Hugging Face cache) was named by its target, a content hash
    (``.git/annex/objects/.../SHA256E-s...png``), not by the file the user gave."""
    return path.absolute().parent.resolve() / path.name


def _round(v: float, nd: int = 3) -> float:
    return round(float(v), nd)


class _AtomicFile:
    """A text file written as ``.name.tmp`` and renamed to ``name`` on :meth:`close`."""

    def __init__(self, path: Path):
        self.path, self.tmp = path, path.with_name(f".{path.name}.tmp")
        try:
            self.fh = open(self.tmp, "w", newline="", encoding="utf-8")
        except OSError as e:
            raise AdaAnchorError(f"{path}: cannot write ({e.strerror or e})") from None

    def finish(self) -> None:
        self.fh.close()
        os.replace(self.tmp, self.path)


class CocoWriter:
    """COCO keypoint results, streamed as a JSON list."""

    def __init__(self, path: Path, **_: Any):
        self.f = _AtomicFile(path)
        self.f.fh.write("[")
        self.n = 0

    def write(self, frame: Frame, pred: Prediction, image_id: int) -> None:
        scores = pred.scores
        inst = pred.instance_scores()
        for i in range(len(pred)):
            s = scores[i] if scores is not None else np.ones(pred.num_keypoints)
            # Coordinates to 0.001 px; confidences to 5 decimals, as the CSV (3 would make a 0.0004 a 0).
            kp = [v for x, y, c in zip(pred.keypoints[i, :, 0], pred.keypoints[i, :, 1], s)
                  for v in (_round(x), _round(y), _round(c, 5))]
            rec: dict[str, Any] = {"image_id": int(image_id), "category_id": 1, "keypoints": kp,
                                   "score": _round(inst[i], 5), "bbox": [_round(v, 2) for v in pred.boxes[i]],
                                   "file_name": str(input_path(frame.source))}  # absolute: not the cwd's
            if frame.kind == "video":
                rec["frame"] = frame.index
                if frame.time is not None:
                    rec["time"] = round(frame.time, 6)
            self.f.fh.write(("\n" if self.n == 0 else ",\n") + json.dumps(rec))
            self.n += 1

    def close(self) -> Path:
        self.f.fh.write("\n]\n" if self.n else "]\n")
        self.f.finish()
        return self.f.path


class DlcCsvWriter:
    """DeepLabCut's CSV layout, one row per frame (see the module docstring)."""

    def __init__(self, path: Path, keypoints: tuple[str, ...], scorer: str, max_instances: int = 1, **_: Any):
        self.f = _AtomicFile(path)
        self.w = csv.writer(self.f.fh)
        self.k, self.m, self.base = len(keypoints), max(1, int(max_instances)), path.parent
        per = 3 * self.k
        self.w.writerow(["scorer"] + [scorer] * per * self.m)
        if self.m > 1:
            self.w.writerow(["individuals"] + [f"individual{i + 1}" for i in range(self.m) for _ in range(per)])
        self.w.writerow(["bodyparts"] + [n for _ in range(self.m) for n in keypoints for _ in range(3)])
        self.w.writerow(["coords"] + ["x", "y", "likelihood"] * self.k * self.m)
        self.last: tuple[Path, int] | None = None  # the last video frame written

    def end_video(self, source: Path, frames: int) -> None:
        """The video ``source`` has ``frames`` frames: an empty row for each lost at its end, as for lost frames
        before (the CSV was shorter than the video)."""
        if self.last is not None and self.last[0] == source:
            for i in range(self.last[1] + 1, frames):
                self.w.writerow([str(i)] + [""] * (3 * self.k * self.m))
            self.last = (source, max(self.last[1], frames - 1))

    def write(self, frame: Frame, pred: Prediction, image_id: int) -> None:
        if frame.kind == "video":
            index = str(frame.index)
            # Frames that could not be decoded leave their indices out: an empty row each keeps row i on frame i,
            # also before the first frame that decoded (the CSV began at that frame's row).
            start = self.last[1] + 1 if self.last is not None and self.last[0] == frame.source else 0
            for i in range(start, frame.index):
                self.w.writerow([str(i)] + [""] * (3 * self.k * self.m))
            self.last = (frame.source, frame.index)
        else:  # relative to the CSV's folder, as DeepLabCut's labelled-data paths are
            index = os.path.relpath(input_path(frame.source), self.base.resolve()).replace(os.sep, "/")
        cells: list[str] = []
        missing = missing_keypoints(pred)
        for i in range(self.m):
            for j in range(self.k):
                if i >= len(pred):
                    cells += ["", "", ""]
                    continue
                if missing[i, j]:  # empty cells, as DeepLabCut writes an unlabelled point
                    cells += ["", "", ""]
                    continue
                x, y = pred.keypoints[i, j]
                s = "" if pred.scores is None else f"{float(pred.scores[i, j]):.5f}"
                cells += [f"{x:.3f}", f"{y:.3f}", s]
        self.w.writerow([index] + cells)

    def close(self) -> Path:
        self.f.finish()
        return self.f.path


def missing_keypoints(pred: Prediction) -> np.ndarray:
    """``(N, K)`` bool: the keypoints a pose does not have. A multi-person run marks them at (0, 0) with score 0
    (the exact pair no predicted point has); the CSV and ``.slp`` wrote them as points at the image's corner."""
    if pred.scores is None or len(pred) == 0:
        return np.zeros((len(pred), pred.num_keypoints), bool)
    return (np.asarray(pred.scores) == 0) & (np.asarray(pred.keypoints) == 0).all(-1)


class SlpWriter:
    """SLEAP labels (``.slp``) through sleap-io: built in memory, saved on :meth:`close`."""

    format = "slp"
    #: A keypoint's score when the strategy gives none.
    no_score = math.nan

    def __init__(self, path: Path, keypoints: tuple[str, ...], skeleton: tuple[tuple[int, int], ...] = (),
                 max_instances: int = 1, **_: Any):
        try:
            import sleap_io as sio
        except ImportError:
            raise AdaAnchorError(f"--format {self.format} needs sleap-io: pip install sleap-io") from None
        self.sio, self.path, self.max_instances = sio, path, max(1, int(max_instances))
        self.skeleton = sio.Skeleton(nodes=[sio.Node(n) for n in keypoints])
        for a, b in skeleton:
            self.skeleton.add_edge(keypoints[a], keypoints[b])
        self.image_files: list[str] = []
        self.frames: list[tuple[str, int, list[Any]]] = []

    def write(self, frame: Frame, pred: Prediction, image_id: int) -> None:
        sio = self.sio
        insts = []
        missing = missing_keypoints(pred)
        for i in range(len(pred)):
            pts = (pred.scores[i].astype(np.float64) if pred.scores is not None
                   else np.full(pred.num_keypoints, self.no_score))
            xy = np.where(missing[i][:, None], np.nan, pred.keypoints[i])  # NaN: sleap-io's missing point
            insts.append(sio.PredictedInstance.from_numpy(points_data=xy, skeleton=self.skeleton,
                                                          point_scores=pts, score=float(pred.instance_scores()[i])))
        if frame.kind == "video":
            self.frames.append((str(input_path(frame.source)), frame.index, insts))
        else:
            self.image_files.append(str(input_path(frame.source)))
            self.frames.append(("", len(self.image_files) - 1, insts))

    def _video(self, src: str) -> Any:
        """The sleap-io ``Video`` of ``src`` (a video file), or of the image inputs when ``src`` is empty."""
        # An image list needs its backend object: sleap-io reads it back through it.
        return (self.sio.Video(filename=src, open_backend=False) if src
                else self.sio.Video.from_filename(list(self.image_files)))

    def labels(self) -> Any:
        """The sleap-io ``Labels`` of everything written."""
        sio = self.sio
        videos: dict[str, Any] = {}
        lfs = []
        for src, idx, insts in self.frames:
            if src not in videos:
                videos[src] = self._video(src)
            lfs.append(sio.LabeledFrame(video=videos[src], frame_idx=idx, instances=insts))
        return sio.Labels(labeled_frames=lfs, videos=list(videos.values()), skeletons=[self.skeleton])

    def save(self, labels: Any, path: Path) -> None:
        self.sio.save_slp(labels, str(path), verbose=False)

    def close(self) -> Path:
        tmp = self.path.with_name(f".{self.path.stem}.tmp{self.path.suffix}")
        try:
            self.save(self.labels(), tmp)
            os.replace(tmp, self.path)
        except OSError as e:
            raise AdaAnchorError(f"{self.path}: cannot write ({e.strerror or e})") from None
        finally:
            tmp.unlink(missing_ok=True)
        return self.path


class NwbWriter(SlpWriter):
    """NWB pose predictions (ndx-pose ``PoseEstimation``) through sleap-io (see the module docstring)."""

    format = "nwb"
    no_score = 1.0  # sleap-io leaves out a point without a score: 1.0, as in the COCO results

    def __init__(self, path: Path, keypoints: tuple[str, ...], skeleton: tuple[tuple[int, int], ...] = (),
                 max_instances: int = 1, scorer: str = "adaanchor", **_: Any):
        super().__init__(path, keypoints, skeleton, max_instances)
        self.skeleton.name = "skeleton"  # NWB names every object
        self.scorer = scorer

    def _video(self, src: str) -> Any:
        # One series for all the images, the i-th image its frame i (its files are listed in original_videos),
        # named by their common folder.
        if not src:
            try:
                src = os.path.commonpath(self.image_files)
            except ValueError:  # on two drives
                src = self.image_files[0]
        return self.sio.Video(filename=src, open_backend=False)

    def labels(self) -> Any:
        labels = super().labels()
        # sleap-io writes the instances of a frame apart only by track (one PoseEstimation a track): instance i of
        # every frame is individual<i+1>, as in the CSV, when a frame can hold several.
        if self.max_instances > 1 or any(len(lf.instances) > 1 for lf in labels.labeled_frames):
            tracks: list[Any] = []
            for lf in labels.labeled_frames:
                for i, inst in enumerate(lf.instances):
                    while len(tracks) <= i:
                        tracks.append(self.sio.Track(f"individual{len(tracks) + 1}"))
                    inst.track = tracks[i]
            labels.tracks = tracks
        return labels

    def save(self, labels: Any, path: Path) -> None:
        import warnings

        from sleap_io.io.nwb_predictions import write_nwb

        from .. import __version__

        last = max((idx for _, idx, _ in self.frames), default=0)
        meta = {"video_timestamps": np.arange(last + 1, dtype=np.float64),  # frame i at time i (sleap-io's own)
                "scorer": self.scorer, "source_software": "adaanchor", "source_software_version": __version__,
                "labeled_videos": None}
        if self.image_files:
            meta["original_videos"] = list(self.image_files)
        if not any(lf.instances for lf in labels.labeled_frames):
            return _nwb_without_poses(labels, path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pynwb's and ndx-pose's deprecations of arguments sleap-io passes
            write_nwb(labels, str(path), nwb_file_kwargs={"session_description": "adaanchor predictions"},
                      pose_estimation_metadata=meta)
        _repair_times(path, labels)


def _nwb_without_poses(labels: Any, path: Path) -> None:
    """An NWB file holding only the skeleton: no instance was found (sleap-io writes no file without one)."""
    import datetime
    import uuid

    from pynwb import NWBHDF5IO, NWBFile
    from sleap_io.io.nwb_predictions import create_skeleton_container

    nwb = NWBFile(session_description="adaanchor predictions (no instance found)", identifier=str(uuid.uuid4()),
                  session_start_time=datetime.datetime.now(datetime.timezone.utc))
    create_skeleton_container(labels, nwb)
    with NWBHDF5IO(str(path), "w") as io:
        io.write(nwb)


def _repair_times(path: Path, labels: Any) -> None:
    """Give its frames' times to each series sleap-io (0.9.5) wrote with a wrong rate. It writes a keypoint found
    on evenly spaced frames as a start time and a rate, the rate cut to a whole number: a keypoint on every second
    frame (rate 0.5) was written with rate 0, all its points at one time. Such a series gets its timestamps, as
    sleap-io writes those of a keypoint found on unevenly spaced frames."""
    import h5py

    frames: dict[tuple[str, str], list[int]] = {}
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            track = f"track={inst.track.name if inst.track else 'untracked'}"  # sleap-io's PoseEstimation names
            for node, row in zip(labels.skeletons[0].node_names, inst.numpy(scores=True)):
                if not np.isnan(row).any():  # the points sleap-io writes
                    frames.setdefault((track, node), []).append(int(lf.frame_idx))
    with h5py.File(path, "r+") as f:
        for module in f["processing"].values():
            for name, pose in module.items():
                for node, series in (pose.items() if isinstance(pose, h5py.Group) else ()):
                    idx = sorted(frames.get((name, node), []))
                    if (not isinstance(series, h5py.Group) or "starting_time" not in series or len(idx) < 2
                            or len(series["data"]) != len(idx) or idx[1] - idx[0] == 1):
                        continue
                    del series["starting_time"]
                    ts = series.create_dataset("timestamps", data=np.asarray(idx, np.float64))
                    ts.attrs["interval"], ts.attrs["unit"] = np.int64(1), "seconds"

WRITERS = {"coco": CocoWriter, "csv": DlcCsvWriter, "slp": SlpWriter, "nwb": NwbWriter}


def parse_formats(values: list[str] | None) -> list[str]:
    """``--format`` values (repeatable, comma-separated; ``dlc`` = ``csv``) as canonical names, in order."""
    out: list[str] = []
    for v in values or ["coco", "csv"]:
        for name in (s.strip().lower() for s in str(v).split(",") if s.strip()):
            name = FORMAT_ALIASES.get(name, name)
            if name not in FORMATS:
                raise AdaAnchorError(f"unknown format {name!r}: choose from coco, csv (= dlc), slp, nwb")
            if name not in out:
                out.append(name)
    if not out:  # `--format ''`: nothing would be written but overlays
        raise AdaAnchorError(f"--format {' '.join(map(repr, values or []))}: no format named; choose from coco, csv (= dlc), slp, nwb")
    return out
