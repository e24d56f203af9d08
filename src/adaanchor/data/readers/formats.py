"""Annotation formats by name: ``data.format`` in a config picks one. Every reader has the signature
``reader(path, spec, images_dir=None, skip_invalid=False, **options) -> ReadResult`` (docs/datasets.md
lists each format's conventions and options).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ...errors import AdaAnchorError
from .coco import read_coco
from .crowdpose import read_crowdpose
from .csv_landmarks import read_csv_landmarks
from .detections import read_detections
from .dlc import read_dlc
from .mpii import read_mpii
from .mpii_mat import read_mpii_mat
from .nwb import read_nwb
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
    "nwb": (read_nwb, None),  # ndx-pose training data in an NWB file, through sleap-io (docs/deeplabcut.md)
    "yolo": (read_yolo, None),  # an Ultralytics YOLO pose dataset: data.spec=<the dataset> (docs/deeplabcut.md)
}

class _Column(Mapping[str, Any]):
    """One column of :data:`REGISTRY` by format name, read from it on every access: an entry added to
    ``REGISTRY`` after import (a format of the user's own) is in :data:`FORMATS` and :data:`FORMAT_SPECS` too."""

    def __init__(self, index: int, what: str):
        self._index, self._what = index, what

    def __getitem__(self, name: str) -> Any:
        return REGISTRY[name][self._index]

    def __iter__(self) -> Iterator[str]:
        return iter(REGISTRY)

    def __len__(self) -> int:
        return len(REGISTRY)

    def __setitem__(self, name: str, value: Any) -> None:
        raise TypeError(f"{self._what} is derived from adaanchor.data.readers.formats.REGISTRY: add the format "
                        f"there, REGISTRY[{name!r}] = (reader, default spec)")

    def __repr__(self) -> str:
        return repr(dict(self))


#: format name -> reader (``data.format`` in a config picks one); a view of :data:`REGISTRY`.
FORMATS: Mapping[str, Callable] = _Column(0, "FORMATS")
#: format name -> its built-in keypoint spec name, or None; a view of :data:`REGISTRY`.
FORMAT_SPECS: Mapping[str, str | None] = _Column(1, "FORMAT_SPECS")


def check_reader_options(name: str, options: Mapping[str, Any]) -> None:
    """Refuse options that format ``name``'s reader does not take, naming those it does: a reader without
    ``**options`` (``coco``, ``yolo``) raised Python's ``TypeError`` for one (``adaanchor score --fmt coco
    --headboxes FILE``)."""
    params = list(inspect.signature(REGISTRY[name][0]).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    own = [p.name for p in params[4:]]  # after (path, spec, images_dir, skip_invalid)
    unknown = sorted(set(options) - set(own))
    if unknown:
        raise AdaAnchorError(f"format {name} takes no option {', '.join(unknown)} "
                             f"(its options: {', '.join(own) or 'none'})")
