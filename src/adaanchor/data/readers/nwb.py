"""Pose training data in NWB files (Neurodata Without Borders with the ndx-pose extension, the files of the DANDI
archive) through sleap-io (``data.format=nwb``).

- ``data.root`` is the ``.nwb`` file (``data.train``/``data.val`` = ``.``; split it with ``data.split``).
- The file's ndx-pose training data (``PoseTraining``: labelled frames of skeleton instances) is read as a SLEAP
  file is (:mod:`.slp`): every instance is a labelled one, a missing point is ``v = 0``, every other ``v = 2``;
  coordinates are pixel centres, 0-based. A file of pose predictions only (``PoseEstimation``, a model's output)
  is refused: it holds no labelled instance.
- Keypoint names and skeleton edges come from the file's skeleton; flip pairs are inferred from left/right names
  (NWB keeps no symmetries).
- The frames are those of the video file the training data names (an ``ImageSeries`` of one external file); a
  relative path is taken from the ``.nwb`` file's folder, as NWB defines it, and a path that is not there is
  looked for by its tail under that folder. They are decoded once into ``<file name>.frames/video<i>/`` beside
  the ``.nwb`` file, as a SLEAP file's. An image sequence as the video (several external image files) is refused:
  sleap-io (0.9.5) cannot read it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import DataError
from ..spec import KeypointSpec
from . import ReadResult, spec_by_name
from .slp import find_media, labels_spec, load_labels_file, read_labels


def _image_sequence(path: Path) -> int:
    """How many external files the ``ImageSeries`` of the file's training data name at the most (0: unknown)."""
    import h5py

    counts = [0]
    try:
        with h5py.File(path, "r") as f:
            def visit(name: str, obj: Any) -> None:
                if name.endswith("/external_file") and isinstance(obj, h5py.Dataset):
                    counts.append(int(obj.shape[0]) if obj.shape else 1)

            f.visititems(visit)
    except (OSError, ValueError):
        return 0
    return max(counts)


def _read_nwb(path: Path) -> Any:
    import sleap_io as sio

    try:
        labels = sio.load_nwb(str(path))
    except Exception as e:  # h5py, pynwb, hdmf and sleap-io raise many kinds for a file they cannot read
        n = _image_sequence(path)
        if "Unknown video file type" in str(e) and n > 1:
            raise DataError(path, f"the training data's video is an image sequence ({n} image files), which "
                                  f"sleap-io {sio.__version__} cannot read from an NWB file: give the frames as a "
                                  "video file, or the labels as a SLEAP .slp file (data.format=slp)",
                            field="video") from None
        raise DataError(path, f"sleap-io cannot read this NWB file ({type(e).__name__}: {e})") from None
    for video in labels.videos:  # relative to the NWB file, not to the working folder (sleap-io's reading)
        fn = video.filename
        if isinstance(fn, str) and not Path(fn).is_file():
            found = find_media(Path(fn), path)
            if found is not None:
                video.replace_filename(str(found))
    return labels


def load_nwb_file(path: str | Path) -> Any:
    """The sleap-io ``Labels`` of an NWB file (cached on its mtime and size)."""
    return load_labels_file(path, _read_nwb, "NWB file")


def nwb_spec(path: str | Path) -> KeypointSpec:
    """The keypoint spec of an NWB file's pose training data: its skeleton's nodes and edges, flip pairs from the
    names."""
    p = Path(path).expanduser()
    return labels_spec(load_nwb_file(p), p)


@spec_by_name
def read_nwb(path: str | Path, spec: KeypointSpec, images_dir: str | Path | None = None,
             skip_invalid: bool = False, **_: object) -> ReadResult:
    """Read an NWB file's pose training data (see the module docstring); ``images_dir`` is not used.

    Returns:
        As :func:`.slp.read_slp`: one instance per labelled instance, ``extra``: ``video``, ``frame``, ``track``.
    """
    p = Path(path).expanduser()
    return read_labels(p, load_nwb_file(p), spec, skip_invalid)


__all__ = ["load_nwb_file", "nwb_spec", "read_nwb"]
