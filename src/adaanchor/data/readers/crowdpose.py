"""CrowdPose: COCO-format JSON with 14 keypoints and a per-image ``crowdIndex``.

The annotations go through the COCO reader (same checks, same handling of ``iscrowd`` and of annotations
without labelled keypoints); each instance's ``extra["crowdIndex"]`` is its image's crowd index (None when
the image has none). The easy / medium / hard split of the CrowdPose AP is by this index (see
:mod:`adaanchor.metrics.coco`).
"""

from __future__ import annotations

from pathlib import Path

from ...errors import AdaAnchorError
from ..jsonio import load_json
from ..spec import KeypointSpec
from . import ReadResult, finite_number, is_int_id
from .coco import read_coco


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
    data = load_json(path)  # read_coco keeps only width/height of an image; crowdIndex comes from here
    crowd = {img["id"]: img.get("crowdIndex") for img in data.get("images", [])
             if isinstance(img, dict) and is_int_id(img.get("id"))}
    for inst in res.instances:
        inst.extra["crowdIndex"] = finite_number(crowd.get(inst.image_id))
    return res
