"""Truncation: move a top-down crop off its object so that part of it falls outside the model's input.

Real crops cut people and faces off at the frame's edge; the benchmarks' boxes seldom do. :class:`Truncation`
shifts the crop's centre, in a random direction, by ``u * shift`` of the crop's size (``u`` uniform in
``[0.5, 1]``). With the 1.25x box padding of :func:`~adaanchor.data.transforms.box_to_center_scale`, the box
keeps a margin of 10 % of the crop on each side, so ``shift = 0.3`` moves the box's edge 5-20 % of the crop
out of the input. The keypoints the crop cuts off keep their true coordinates and become ``v = 1``
(:class:`~adaanchor.data.dataset.TopDownDataset`), which is what the ``inv_error_out`` and ``nme_out``
metrics score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..coords import outside_frame
from .transforms import apply_affine

TRUNCATION_DEFAULTS: dict[str, Any] = {
    "train": 0.0,  # probability that a training crop is shifted (augmentation)
    "val": 0.0,  # probability that an evaluation crop is shifted (seeded per sample: the same for every model)
    "shift": 0.3,  # the largest shift, as a fraction of the crop's size (each shift is 0.5-1 times it)
    "seed": 0,  # the evaluation shift of sample i depends only on (seed, i)
}

# A stream of its own: the occlusion compositor seeds sample i with (seed, i), and a shift drawn from the same
# numbers would be tied to that sample's occluders.
_STREAM = 0x7472756E


class Truncation:
    """Crop shifts of :data:`TRUNCATION_DEFAULTS`.

    Args:
        p: probability in [0, 1] that a crop is shifted.
        shift: the largest shift, a fraction of the crop's size, in (0, 1].
        seed: None for training (numpy's global RNG, which the training sampler seeds per sample); an integer
            for evaluation (sample ``i``'s shift depends only on ``(seed, i)``).
    """

    def __init__(self, p: float, shift: float = TRUNCATION_DEFAULTS["shift"], seed: int | None = None):
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"truncation probability must be in [0, 1], got {p!r}")
        if not 0.0 < float(shift) <= 1.0:
            raise ValueError(f"truncation shift must be in (0, 1], got {shift!r}")
        self.p, self.shift, self.seed = float(p), float(shift), seed

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None, train: bool) -> Truncation | None:
        """The shifts of a ``data.truncation`` section (missing keys: :data:`TRUNCATION_DEFAULTS`) for a training
        (random) or an evaluation (seeded) dataset; None when that split's probability is 0."""
        tr = {**TRUNCATION_DEFAULTS, **(section or {})}
        p = float(tr["train" if train else "val"])
        return cls(p, float(tr["shift"]), None if train else int(tr["seed"])) if p > 0 else None

    def offset(self, index: int, size: np.ndarray) -> np.ndarray:
        """``(2,)`` shift of the crop's centre in image pixels for sample ``index`` whose crop is ``size`` =
        ``(w, h)`` image pixels; zeros when the sample is not shifted. Nothing is drawn when ``p == 0``, so the
        training augmentation stream is the same as without truncation."""
        if self.p <= 0.0:
            return np.zeros(2)
        rng: Any = np.random if self.seed is None else np.random.default_rng([int(self.seed), int(index), _STREAM])
        if rng.random() >= self.p:
            return np.zeros(2)
        angle = rng.uniform(0.0, 2.0 * math.pi)
        mag = self.shift * rng.uniform(0.5, 1.0)
        return mag * np.asarray(size, dtype=np.float64) * np.array([math.cos(angle), math.sin(angle)])


def cut_off_counts(dataset: Any) -> dict[str, int]:
    """What the seeded evaluation shifts of ``dataset`` (a :class:`~adaanchor.data.dataset.TopDownDataset` with
    ``truncation``) cut off, from the crop affines alone: no image is decoded for ``crop="box"``.

    Returns ``instances``, ``shifted`` (crops moved), ``cut_instances`` (instances with a labelled keypoint
    outside the input), ``cut`` (such keypoints), ``labelled`` (all labelled keypoints). A keypoint is outside when
    its input location lies beyond the pixel-centre bounds ``[-0.5, W - 0.5]``, as the evaluation counts it."""
    w, h = dataset.out_wh
    out = {"instances": len(dataset.instances), "shifted": 0, "cut_instances": 0, "cut": 0, "labelled": 0}
    for i, inst in enumerate(dataset.instances):
        img_hw = dataset.image(inst.image_path).shape[:2] if dataset.crop == "image" else (0, 0)
        affine, _ = dataset.affine_for(inst, img_hw, i)
        if dataset.truncation is not None and np.any(dataset.truncation.offset(i, np.ones(2))):
            out["shifted"] += 1
        xy = apply_affine(affine, np.asarray(inst.keypoints, dtype=np.float64))
        labelled = np.asarray(inst.visibility) > 0
        off = labelled & outside_frame(xy[:, 0], xy[:, 1], w, h)
        out["labelled"] += int(labelled.sum())
        out["cut"] += int(off.sum())
        out["cut_instances"] += int(off.any())
    return out
