"""Prediction files: COCO keypoint results (JSON), DeepLabCut's CSV layout, SLEAP ``.slp`` and NWB (sleap-io).

One writer per output group (all image inputs together, or one video file). The JSON and CSV writers
stream: each frame is written when it is predicted, so memory does not grow with the video's length. Files
are written under a temporary name and renamed when complete.

- COCO results (``adaanchor score`` reads them): ``{"image_id", "category_id", "keypoints": [x, y, s] *
  K, "score", "bbox", "file_name" (absolute)[, "frame", "time"]}`` per instance, original image pixels.
- DeepLabCut CSV, the layout of DeepLabCut's own analysis output: header rows ``scorer``, ``bodyparts``,
  ``coords`` (plus ``individuals`` when an image can hold several instances); then one row per frame
  (index = frame number for a video, the image path for images) with ``x, y, likelihood`` per keypoint.
  A missing instance is empty cells; ``likelihood`` is empty for a strategy without confidence. A video frame
  that could not be decoded is a row of empty cells, so that row ``i`` stays frame ``i``.
- ``.slp`` and ``.nwb`` through sleap-io: :mod:`.sleap_writers`.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError, write_failure
from .result import Prediction
from .sleap_writers import NwbWriter, SlpWriter
from .sources import Frame
from .write_common import finite_instances, individual_names, input_path, missing_keypoints

FORMATS = ("coco", "csv", "slp", "nwb")
FORMAT_ALIASES = {"dlc": "csv", "json": "coco", "sleap": "slp"}
SUFFIX = {"coco": ".json", "csv": ".csv", "slp": ".slp", "nwb": ".nwb"}


def format_choices() -> str:
    """``coco (= json), csv (= dlc), slp (= sleap), nwb``: the formats with their aliases, for the messages."""
    alias = {v: k for k, v in FORMAT_ALIASES.items()}
    return ", ".join(f"{f} (= {alias[f]})" if f in alias else f for f in FORMATS)


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
        """Close and rename into place; on a write that fails (a full disk), the temporary file is removed and the
        error names the file (it was a traceback, the temporary file left behind)."""
        try:
            self.fh.close()
            os.replace(self.tmp, self.path)
        except OSError as e:
            self.tmp.unlink(missing_ok=True)
            raise AdaAnchorError(f"{self.path}: cannot write ({write_failure(e)}): not written") from None


class CocoWriter:
    """COCO keypoint results, streamed as a JSON list. An instance with a NaN or infinite value is left out (JSON
    has no NaN, and ``adaanchor score`` refuses one): a miss, as ``adaanchor eval`` counts it."""

    def __init__(self, path: Path, category_id: int = 1, **_: Any):
        self.f = _AtomicFile(path)
        self.f.fh.write("[")
        self.n = 0
        self.category_id = int(category_id)

    def write(self, frame: Frame, pred: Prediction, image_id: int) -> None:
        scores = pred.scores
        inst = pred.instance_scores()
        # Once per image: resolving the folder (system calls) for each of 30 people was a third of the writing.
        file_name = str(input_path(frame.source))  # absolute: not the cwd's
        finite = finite_instances(pred)
        for i in range(len(pred)):
            if not finite[i]:
                continue
            s = scores[i] if scores is not None else np.ones(pred.num_keypoints)
            # Coordinates to 0.001 px; confidences to 5 decimals, as the CSV (3 would make a 0.0004 a 0).
            kp = [v for x, y, c in zip(pred.keypoints[i, :, 0], pred.keypoints[i, :, 1], s)
                  for v in (_round(x), _round(y), _round(c, 5))]
            rec: dict[str, Any] = {"image_id": int(image_id), "category_id": self.category_id, "keypoints": kp,
                                   "score": _round(inst[i], 5), "bbox": [_round(v, 2) for v in pred.boxes[i]],
                                   "file_name": file_name}
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
            self.w.writerow(["individuals"] + [n for n in individual_names(self.m) for _ in range(per)])
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


WRITERS = {"coco": CocoWriter, "csv": DlcCsvWriter, "slp": SlpWriter, "nwb": NwbWriter}


def parse_formats(values: list[str] | None) -> list[str]:
    """``--format`` values (repeatable, comma-separated; ``dlc`` = ``csv``) as canonical names, in order."""
    out: list[str] = []
    for v in values or ["coco", "csv"]:
        for name in (s.strip().lower() for s in str(v).split(",") if s.strip()):
            name = FORMAT_ALIASES.get(name, name)
            if name not in FORMATS:
                raise AdaAnchorError(f"unknown format {name!r}: choose from {format_choices()}")
            if name not in out:
                out.append(name)
    if not out:  # `--format ''`: nothing would be written but overlays
        raise AdaAnchorError(f"--format {' '.join(map(repr, values or []))}: no format named; choose from {format_choices()}")
    return out
