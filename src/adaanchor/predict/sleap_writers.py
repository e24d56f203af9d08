"""Prediction files through sleap-io: SLEAP ``.slp`` and NWB (ndx-pose), both built in memory and saved at the end
(sleap-io has no streaming writer), under a temporary name renamed when complete.

- ``.slp`` (sleap-io's ``save_slp``): a skeleton with the spec's edges and one ``PredictedInstance`` per
  instance. An image predicted turned by its EXIF orientation (``--orientation displayed``) has its keypoints in
  its stored frame there: sleap-io and SLEAP read images as stored (OpenCV's ``IMREAD_UNCHANGED``, imageio), and
  the displayed frame's points sat on the wrong pixels (:func:`stored_frame_points`).
- ``.nwb`` (sleap-io's NWB predictions writer, as ``save_nwb(..., nwb_format="predictions")``): the skeleton in
  ``processing/behavior/Skeletons`` and one ndx-pose ``PoseEstimation`` per instance slot (``track=untracked``;
  ``track=individual<i>`` when a frame can hold several instances, instance i of each frame, numbered as the CSV's
  individuals: :func:`~.write_common.individual_names`) holding one
  ``PoseEstimationSeries`` per keypoint: its points (x, y) and confidences, on the frames where it was found
  (a missing keypoint is left out), with their timestamps: a video frame's presentation time in seconds (a lost
  frame's from its neighbours, :func:`frame_times`); for image inputs, which have no clock, image i at time i.
  A video's series names the video in ``original_videos``; all image inputs make one series, image i its frame
  i, and ``original_videos`` lists the images in that order. A strategy without confidence writes 1.0 (sleap-io
  leaves out a point without one); NWB keeps no instance score.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError
from .result import Prediction
from .sources import Frame
from .write_common import individual_names, input_path, missing_keypoints


class SlpWriter:
    """SLEAP labels (``.slp``) through sleap-io: built in memory, saved on :meth:`close`."""

    format = "slp"
    #: A keypoint's score when the strategy gives none.
    no_score = math.nan
    #: Keypoints of an image turned by its EXIF orientation are written in its stored frame (SLEAP's, see above).
    stored_frame = True

    def __init__(self, path: Path, keypoints: tuple[str, ...], skeleton: tuple[tuple[int, int], ...] = (),
                 max_instances: int = 1, orientation: str = "displayed", **_: Any):
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
        self.turned = orientation == "displayed"  # the images' EXIF orientation was applied when predicting

    def write(self, frame: Frame, pred: Prediction, image_id: int) -> None:
        sio = self.sio
        insts = []
        missing = missing_keypoints(pred)
        tag = exif_tag(frame.turn) if self.stored_frame and self.turned and frame.kind == "image" else 1
        for i in range(len(pred)):
            pts = (pred.scores[i].astype(np.float64) if pred.scores is not None
                   else np.full(pred.num_keypoints, self.no_score))
            xy = np.where(missing[i][:, None], np.nan, pred.keypoints[i])  # NaN: sleap-io's missing point
            xy = stored_frame_points(xy, tag, frame.image.shape[:2]) if tag != 1 else xy
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
    stored_frame = False  # no image is shown with it: the frame predicted, as the COCO results and the CSV

    def __init__(self, path: Path, keypoints: tuple[str, ...], skeleton: tuple[tuple[int, int], ...] = (),
                 max_instances: int = 1, scorer: str = "adaanchor", **_: Any):
        super().__init__(path, keypoints, skeleton, max_instances)
        self.skeleton.name = "skeleton"  # NWB names every object
        self.scorer = scorer
        self.times: dict[int, float] = {}  # video frame index -> presentation time, seconds

    def write(self, frame: Frame, pred: Prediction, image_id: int) -> None:
        super().write(frame, pred, image_id)
        if frame.kind == "video" and frame.time is not None:
            self.times[frame.index] = float(frame.time)

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
        slots = max((len(lf.instances) for lf in labels.labeled_frames), default=0)
        if self.max_instances > 1 or slots > 1:
            # Named as the CSV names the same slots (its width set by max_instances), so that the two agree.
            tracks = [self.sio.Track(n) for n in individual_names(max(slots, self.max_instances))[:slots]]
            for lf in labels.labeled_frames:
                for i, inst in enumerate(lf.instances):
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
        set_series_times(path, labels, frame_times(self.times, last))


def exif_tag(turn: str | None) -> int:
    """The EXIF orientation (2..8) a frame's ``turn`` names (``"EXIF orientation 6"``), else 1."""
    if turn and turn.startswith("EXIF orientation "):
        tag = turn.rsplit(" ", 1)[-1]
        if tag.isdigit() and 2 <= int(tag) <= 8:
            return int(tag)
    return 1


def stored_frame_notes(turned: Mapping[str, str], formats: list[str], orientation: str) -> list[str]:
    """A line when the ``.slp`` file has images' keypoints in their stored frame (``turned``: source -> what turned
    it) while the other files have them as predicted, turned."""
    exif = [(src, turn) for src, turn in turned.items() if exif_tag(turn) != 1]
    if "slp" not in formats or orientation != "displayed" or not exif:
        return []
    return [f"the .slp file has the keypoints of the {len(exif)} image(s) turned by their EXIF orientation (e.g. "
            f"{exif[0][0]}) in their stored frame, as SLEAP and sleap-io show them (they do not apply the tag); the "
            "other files have them in the frame predicted, turned"]


def stored_frame_points(xy: np.ndarray, tag: int, shown_hw: tuple[int, int]) -> np.ndarray:
    """``xy (..., 2)`` on an image shown turned by EXIF orientation ``tag`` (``shown_hw``: its size so) as points on
    its stored pixels (pixel centres at integer coordinates: a flip maps x to W - 1 - x)."""
    h, w = shown_hw
    x, y = xy[..., 0], xy[..., 1]
    if tag in (5, 6, 7, 8):  # turned by 90 degrees: the stored image is w x h transposed
        sw, sh = h, w
        sx = {5: y, 6: y, 7: sw - 1 - y, 8: sw - 1 - y}[tag]
        sy = {5: x, 6: sh - 1 - x, 7: sh - 1 - x, 8: x}[tag]
    else:
        sx = {2: w - 1 - x, 3: w - 1 - x, 4: x}.get(tag, x)
        sy = {2: y, 3: h - 1 - y, 4: h - 1 - y}.get(tag, y)
    return np.stack([sx, sy], axis=-1)


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


def frame_times(known: Mapping[int, float], last: int) -> np.ndarray:
    """``(last + 1,)`` times in seconds of frames ``0 .. last``: a frame's presentation time where ``known``; a lost
    frame's interpolated between its neighbours' and, before the first or after the last known frame, extrapolated
    at the median frame interval. With fewer than two known times (image inputs, a one-frame video), frame numbers
    stand in for seconds, shifted to the one known time."""
    idx = np.arange(last + 1, dtype=np.float64)
    if len(known) < 2:
        k, t = next(iter(known.items()), (0, 0.0))
        return idx - k + t
    ks = np.asarray(sorted(known), dtype=np.float64)
    ts = np.asarray([known[int(k)] for k in ks])
    step = float(np.median(np.diff(ts) / np.diff(ks)))
    out = np.interp(idx, ks, ts)
    out[idx < ks[0]] = ts[0] - (ks[0] - idx[idx < ks[0]]) * step
    out[idx > ks[-1]] = ts[-1] + (idx[idx > ks[-1]] - ks[-1]) * step
    return out


def set_series_times(path: Path, labels: Any, times: np.ndarray) -> None:
    """Give every pose series of the NWB file ``path`` its frames' ``times`` as timestamps.

    sleap-io (0.9.5) writes the frames' numbers as times (it is given them: it indexes its times by frame and fails
    on a video whose frames are not all there), and writes a keypoint found on evenly spaced frames as a start and
    a rate cut to a whole number (a keypoint on every second frame got rate 0: all its points at one time). Each
    series is rewritten here with the times of the frames its points are on, in the order sleap-io wrote them."""
    import h5py

    frames: dict[tuple[str, str], list[int]] = {}
    for lf in labels.labeled_frames:
        for inst in lf.instances:
            track = f"track={inst.track.name if inst.track else 'untracked'}"  # sleap-io's PoseEstimation names
            for node, row in zip(labels.skeletons[0].node_names, inst.numpy(scores=True), strict=True):
                if not np.isnan(row).any():  # the points sleap-io writes
                    frames.setdefault((track, node), []).append(int(lf.frame_idx))
    with h5py.File(path, "r+") as f:
        for module in f["processing"].values():
            for name, pose in module.items():
                for node, series in (pose.items() if isinstance(pose, h5py.Group) else ()):
                    if not isinstance(series, h5py.Group) or "data" not in series:
                        continue
                    idx = sorted(frames.get((name, node), []))
                    if len(series["data"]) != len(idx):
                        raise AdaAnchorError(f"{path}: the series of {node} ({name}) holds {len(series['data'])} "
                                             f"points, {len(idx)} were written")
                    for key in ("starting_time", "timestamps"):
                        if key in series:
                            del series[key]
                    ts = series.create_dataset("timestamps", data=times[np.asarray(idx, dtype=np.int64)])
                    ts.attrs["interval"], ts.attrs["unit"] = np.int64(1), "seconds"
