"""Annotation formats by name: ``data.format`` in a config picks one. Every reader has the signature
``reader(path, spec, images_dir=None, skip_invalid=False, **options) -> ReadResult`` (docs/datasets.md
lists each format's conventions and options).
"""

from __future__ import annotations

from collections.abc import Callable

from .coco import read_coco
from .crowdpose import read_crowdpose
from .csv_landmarks import read_csv_landmarks
from .detections import read_detections
from .dlc import read_dlc
from .mpii import read_mpii, read_mpii_mat
from .pts import read_pts
from .slp import read_slp
from .wflw import read_wflw_coco, read_wflw_txt

#: format name -> reader. ``synth`` is the built-in benchmark, written as COCO JSON.
FORMATS: dict[str, Callable] = {
    "coco": read_coco,
    "synth": read_coco,
    "mpii": read_mpii,
    "mpii_mat": read_mpii_mat,
    "wflw_txt": read_wflw_txt,
    "wflw": read_wflw_coco,
    "crowdpose": read_crowdpose,
    "pts": read_pts,
    "csv": read_csv_landmarks,
    "detections": read_detections,
    "dlc": read_dlc,
    "slp": read_slp,
}

#: The built-in keypoint spec that goes with a format (None: the file decides, e.g. any COCO-format set).
FORMAT_SPECS: dict[str, str | None] = {
    "coco": None,
    "synth": "coco",
    "mpii": "mpii",
    "mpii_mat": "mpii",
    "wflw_txt": "wflw",
    "wflw": "wflw",
    "crowdpose": "crowdpose",
    "pts": "face68",
    "csv": "face68",
    "detections": "coco",
    "dlc": None,  # the file decides: data.spec=<the project or table> (docs/deeplabcut.md)
    "slp": None,
}
