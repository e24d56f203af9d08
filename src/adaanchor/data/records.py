"""Reader output: one annotated instance (a person or a face) of one image, in original-image pixels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(slots=True)
class Instance:
    """One annotated instance.

    Attributes:
        image_path: path of the image file.
        image_id: integer id of the image (COCO ``image_id``; readers of other formats assign one).
        ann_id: integer id of the annotation (-1 if the format has none).
        keypoints: ``(K, 2)`` float64, original-image pixels, pixel-centre convention.
        visibility: ``(K,)`` int64 in {0, 1, 2} (see docs/conventions.md).
        bbox: ``(4,)`` float64 ``[x, y, w, h]``; readers without boxes use the keypoints' extent.
        area: instance area in pixels^2 (COCO ``area``; else ``w * h`` of the box).
        center: ``(2,)`` float64 or None, when the format gives one (MPII).
        scale: float or None, the format's own person scale (MPII: box height / 200).
        extra: format-specific fields, e.g. ``head_size`` (MPII), ``attributes`` (WFLW), ``iscrowd``.
    """

    image_path: str
    image_id: int
    ann_id: int
    keypoints: np.ndarray
    visibility: np.ndarray
    bbox: np.ndarray
    area: float
    center: np.ndarray | None = None
    scale: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
