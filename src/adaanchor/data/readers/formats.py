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
from .mpii import read_mpii
from .mpii_mat import read_mpii_mat
from .pts import read_pts
from .slp import read_slp
from .wflw import read_wflw_coco, read_wflw_txt
from .yolo import read_yolo

#: format name -> (reader, the built-in keypoint spec that goes with it; None: the file decides, e.g. any
#: COCO-format set). ``synth`` is the built-in benchmark, written as COCO JSON. A new format is a reader module
#: plus one entry here.
REGISTRY: dict[str, tuple[Callable, str | None]] = {
    "coco": (read_coco, None),
    "synth": (read_coco, "coco"),
    "crowd": (read_coco, "coco"),  # the built-in crowd-figures benchmark (several people an image), COCO JSON
    "mpii": (read_mpii, "mpii"),
    "mpii_mat": (read_mpii_mat, "mpii"),
    "wflw_txt": (read_wflw_txt, "wflw"),
    "wflw": (read_wflw_coco, "wflw"),
    "crowdpose": (read_crowdpose, "crowdpose"),
    "pts": (read_pts, "face68"),
    "csv": (read_csv_landmarks, "face68"),
    "detections": (read_detections, "coco"),
    "dlc": (read_dlc, None),  # the file decides: data.spec=<the project or table> (docs/deeplabcut.md)
    "slp": (read_slp, None),
    "yolo": (read_yolo, None),  # an Ultralytics YOLO pose dataset: data.spec=<the dataset> (docs/deeplabcut.md)
}

#: format name -> reader (``data.format`` in a config picks one).
FORMATS: dict[str, Callable] = {name: reader for name, (reader, _) in REGISTRY.items()}
#: format name -> its built-in keypoint spec name, or None.
FORMAT_SPECS: dict[str, str | None] = {name: spec for name, (_, spec) in REGISTRY.items()}
