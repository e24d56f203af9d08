"""CrowdPose: COCO-format JSON with 14 keypoints and a per-image ``crowdIndex``.

The annotations go through the COCO reader (same checks, same handling of ``iscrowd`` and of annotations
without labelled keypoints); each instance's ``extra["crowdIndex"]`` is its image's crowd index (None when
the image has none). The easy / medium / hard split of the CrowdPose AP is by this index (see
:mod:`adaanchor.metrics.coco`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import AdaAnchorError
from ..spec import KeypointSpec
from . import ReadResult, finite_number, spec_by_name
from .coco import read_coco


@spec_by_name
def read_crowdpose(
    path: str | Path,
    spec: KeypointSpec,
    images_dir: str | Path | None = None,
    skip_invalid: bool = False,
    **kw: object,
) -> ReadResult:
    """Read a CrowdPose JSON; ``kw`` goes to :func:`~adaanchor.data.readers.coco.read_coco`
    (``keep_crowd``, ``require_labelled``)."""
    if spec.num_keypoints != 14:
        raise AdaAnchorError(f"data.format=crowdpose needs the 14-keypoint spec (data.spec=crowdpose); "
                             f"spec '{spec.name}' has {spec.num_keypoints}")
    res = read_coco(path, spec, images_dir=images_dir, skip_invalid=skip_invalid, **kw)  # type: ignore[arg-type]
    for inst in res.instances:  # read_coco keeps the image's crowdIndex: the file is parsed once
        inst.extra["crowdIndex"] = finite_number(inst.extra.get("crowdIndex"))
    return res
