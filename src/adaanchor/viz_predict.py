"""The prediction ``adaanchor viz`` draws (:mod:`adaanchor.anchors_viz`): one image, whole or one box of it, through the
model and the strategy's decoding, mapped back to the original image, with the confidence map on the model's grid."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data.bottomup import eval_affine
from .data.image_read import load_image
from .data.transforms import apply_affine, invert_affine, warp_image
from .data.types import to_tensor_image
from .errors import AdaAnchorError
from .predict.arguments import check_boxes_inside
from .predict.boxes import as_boxes
from .predict.crops import finite_box_affine, fit_image_affine
from .predict.images import as_rgb as _as_rgb
from .strategies.flip_test import predict_flip


def _confidence_maps(outputs: dict[str, torch.Tensor], strategy_name: str) -> np.ndarray | None:
    """``(K, h, w)`` in [0, 1]: ``sigmoid(conf)`` (anchor strategies) or the heatmap clipped; None for regression."""
    if "conf" in outputs:
        return torch.sigmoid(outputs["conf"][0].float()).numpy()
    if "heatmap" in outputs:
        return outputs["heatmap"][0].float().clamp(0, 1).numpy()
    return None


@torch.no_grad()
def predict_image(model: nn.Module, strategy: Any, image: np.ndarray | str | Path, input_size: Sequence[int],
                  device: torch.device | str = "cpu", multiple: int | None = None,
                  box: Sequence[float] | None = None, flip_index: Sequence[int] | None = None) -> dict[str, Any]:
    """Predict keypoints on a whole image, or in one box of it, returned in ORIGINAL image pixels.

    Args:
        model: in eval mode, on ``device``.
        image: ``(H, W, 3)`` uint8 RGB (grayscale ``(H, W)`` and RGBA are accepted), or an image file path.
        input_size: ``(W, H)`` of the model input.
        multiple: a multi-person model's input multiple: the image is then prepared as ``predict`` and ``eval``
            prepare it (short side to the input's, aspect kept, padded to the multiple), not fitted into
            ``input_size`` with borders.
        box: ``[x, y, w, h]`` in original pixels: the instance cropped as ``data.crop=box`` crops it (padded 1.25x to
            the input's aspect, :func:`adaanchor.predict.crops.box_affine`), as ``predict --boxes`` does; not with
            ``multiple``.
        flip_index: the spec's left-right pairs (``spec.flip_index``) to predict with the flip test, as ``predict``
            does with ``eval.flip_test=true``: the keypoints and scores are the mean of this pass and the mirrored
            one (:func:`adaanchor.strategies.flip_test.average_flipped`); the anchors and the confidence map stay
            this pass's, as ``predict``'s anchors do. Not with ``multiple``.

    Returns:
        ``keypoints (K, 2)`` float64 original pixels; ``scores (K,)`` or None (regression); ``anchors (K, 2)``
        original pixels or None; ``conf_map (K, h, w)`` float32 in [0, 1] on the model's output grid (stride
        ``stride``, cell ``(i, j)`` centred at input pixel ``(s*j + (s-1)/2, s*i + (s-1)/2)``) or None for
        regression; ``map_label`` (what the map is: ``sigmoid(conf)`` or ``heatmap``); ``affine`` (2x3,
        original -> input pixels); ``crop_keypoints`` and ``crop_anchors`` (input
        pixels, as decoded); ``stride``, ``input_size``, ``image_hw``, ``method``; ``box`` (the box given, or
        None); ``nonfinite``: the count of NaN or
        infinite values in the model's outputs (a diverged model: nothing can be drawn).
    """
    size = list(input_size) if isinstance(input_size, Sequence) and not isinstance(input_size, str) else None
    if size is None or len(size) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0
                                                 for v in size):  # 72 raised "'int' object is not subscriptable"
        raise TypeError(f"input_size: expected (W, H) of the model input in pixels, two integers (the run's "
                        f"data.input_size), got {input_size!r}")
    img = _as_rgb(load_image(image) if isinstance(image, (str, Path)) else image)
    w_in, h_in = int(size[0]), int(size[1])
    if multiple and box is not None:
        raise AdaAnchorError("a multi-person model finds the people itself: a box is for top-down models")
    if multiple and flip_index is not None:
        raise AdaAnchorError("flip_index: viz draws a multi-person model's maps of one pass, without the flip test")
    if box is not None:
        a, box = _box_crop(box, img.shape[:2], (w_in, h_in))  # box: the checked [x, y, w, h]
    elif multiple:
        a, (w_in, h_in) = eval_affine(img.shape[:2], min(w_in, h_in), int(multiple))
    else:
        a = fit_image_affine(img.shape[:2], (w_in, h_in))
    crop = warp_image(img, a, (w_in, h_in))
    x = to_tensor_image(crop)[None].to(device)
    outputs = model(x)
    dec = strategy.decode(outputs)
    xy, score = dec.xy, dec.score
    if flip_index is not None:  # the keypoints and scores of the flip test; the anchors and maps stay this pass's
        flipped = predict_flip(lambda t: strategy.decode(model(t)), x, np.asarray(flip_index), plain=dec)
        xy, score = flipped.xy, flipped.score
    inv = invert_affine(a)
    crop_xy = xy[0].float().cpu().numpy().astype(np.float64)
    crop_an = dec.anchor[0].float().cpu().numpy().astype(np.float64) if dec.anchor is not None else None
    name = str(getattr(strategy, "name", ""))
    return {
        "keypoints": apply_affine(inv, crop_xy),
        "scores": score[0].float().cpu().numpy() if score is not None else None,
        "anchors": apply_affine(inv, crop_an) if crop_an is not None else None,
        "conf_map": _confidence_maps({k: v.cpu() for k, v in outputs.items()}, name),
        "map_label": "sigmoid(conf)" if "conf" in outputs else "heatmap",
        "affine": a,
        "crop_keypoints": crop_xy,
        "crop_anchors": crop_an,
        "stride": int(strategy.stride),
        "input_size": (w_in, h_in),
        "image_hw": tuple(int(v) for v in img.shape[:2]),
        "method": name,
        "box": None if box is None else [float(v) for v in box],
        "nonfinite": sum(int((~torch.isfinite(v)).sum()) for v in outputs.values() if v.is_floating_point()),
    }


def _box_crop(box: Any, image_hw: tuple[int, ...], input_size: tuple[int, int]) -> tuple[np.ndarray, list[float]]:
    """The crop affine of one ``[x, y, w, h]`` box (a score after it is allowed, as ``Predictor.predict`` takes it),
    checked as ``Predictor.predict`` checks its boxes: numbers, a positive finite size, overlapping the image, a crop of
    finite size. Returns the affine and the checked ``[x, y, w, h]``."""
    b = as_boxes(box, "box")
    if len(b.boxes) != 1:
        raise AdaAnchorError(f"box: expected one [x, y, w, h] box, got {len(b.boxes)}")
    try:
        check_boxes_inside(b.boxes, (int(image_hw[0]), int(image_hw[1])), "box")
        return finite_box_affine(b.boxes[0], input_size, 0), [float(v) for v in b.boxes[0]]
    except AdaAnchorError as e:  # one box: "box [x, y, w, h] ...", not "boxes[0]: ..."
        raise AdaAnchorError(re.sub(r"^(box|boxes)\[0\]: ", "box ", str(e), count=1)) from None


__all__ = ["predict_image"]
