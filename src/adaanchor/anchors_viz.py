"""Predictions and anchors on any image file: the whole image is fitted into the model input, predictions
are mapped back to the original image, and one PNG per image shows them (drawn by :mod:`.anchors_draw`;
docs/export-and-visualize.md).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .anchors_draw import grid_to_image, grid_to_view, render_prediction
from .data.bottomup import eval_affine
from .data.dataset import load_image, read_image
from .data.transforms import apply_affine, invert_affine, warp_image
from .data.types import to_tensor_image
from .errors import AdaAnchorError, DataError, unknown_name_error
from .predict.arguments import check_boxes_inside
from .predict.boxes import Boxes, as_boxes
from .predict.crops import finite_box_affine, fit_image_affine  # (the crops of TopDownDataset(crop="image" / "box"))
from .predict.images import as_rgb as _as_rgb
from .predict.images import check_orientation, orientation_notes
from .viz_inputs import crops_of, detections_by_input, expand_viz_inputs, guarded, split_image_args, video_frames


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
                  box: Sequence[float] | None = None) -> dict[str, Any]:
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
    if box is not None:
        a = _box_crop(box, img.shape[:2], (w_in, h_in))
    elif multiple:
        a, (w_in, h_in) = eval_affine(img.shape[:2], min(w_in, h_in), int(multiple))
    else:
        a = fit_image_affine(img.shape[:2], (w_in, h_in))
    crop = warp_image(img, a, (w_in, h_in))
    x = to_tensor_image(crop)[None].to(device)
    outputs = model(x)
    dec = strategy.decode(outputs)
    inv = invert_affine(a)
    crop_xy = dec.xy[0].float().cpu().numpy().astype(np.float64)
    crop_an = dec.anchor[0].float().cpu().numpy().astype(np.float64) if dec.anchor is not None else None
    name = str(getattr(strategy, "name", ""))
    return {
        "keypoints": apply_affine(inv, crop_xy),
        "scores": dec.score[0].float().cpu().numpy() if dec.score is not None else None,
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


def _box_crop(box: Any, image_hw: tuple[int, ...], input_size: tuple[int, int]) -> np.ndarray:
    """The crop affine of one ``[x, y, w, h]`` box (a score after it is allowed, as ``Predictor.predict`` takes it),
    checked as ``Predictor.predict`` checks its boxes: numbers, a positive finite size, overlapping the image, a crop of
    finite size."""
    b = as_boxes(box, "box")
    if len(b.boxes) != 1:
        raise AdaAnchorError(f"box: expected one [x, y, w, h] box, got {len(b.boxes)}")
    try:
        check_boxes_inside(b.boxes, (int(image_hw[0]), int(image_hw[1])), "box")
        return finite_box_affine(b.boxes[0], input_size, 0)
    except AdaAnchorError as e:  # one box: "box [x, y, w, h] ...", not "boxes[0]: ..."
        raise AdaAnchorError(re.sub(r"^(box|boxes)\[0\]: ", "box ", str(e), count=1)) from None


def select_keypoints(names: Sequence[str] | None, valid: Sequence[str]) -> list[int]:
    """Indices of the keypoint ``names`` (all when None or empty); an unknown name is an error listing the valid ones."""
    if not names:
        return list(range(len(valid)))
    out = []
    for n in names:
        if n not in valid:
            raise unknown_name_error("keypoint", str(n), valid)
        out.append(list(valid).index(n))
    return out


def _unique_name(stem: str, method: str, used: set[str]) -> str:
    name = f"{stem}_{method}.png"
    i = 1
    while name in used:
        name = f"{stem}_{i}_{method}.png"
        i += 1
    used.add(name)
    return name


def visualize_images(model: nn.Module, strategy: Any, images: Iterable[str | Path | tuple[np.ndarray, str, str]], out_dir: str | Path,
                     input_size: Sequence[int], spec: Any = None, keypoints: Sequence[str] | None = None,
                     device: torch.device | str = "cpu", skipped: list[str] | None = None,
                     orientation: str = "displayed", draw_skeleton: bool = True,
                     multiple: int | None = None, turned: dict[str, str] | None = None,
                     bit_depth: int | None = None, nonfinite: list[str] | None = None,
                     boxes_of: Callable[[Path | int | None], Boxes] | None = None,
                     no_detections: list[str] | None = None) -> list[Path]:
    """One PNG per image in ``out_dir`` (``<stem>_<method>.png``); returns the paths written. An item is an
    image file or an ``(image, stem, title)`` tuple (:func:`video_frames`). An image file that cannot be read
    raises ``DataError``, or, with a ``skipped`` list, is added to it (``PATH: reason``) and left out. An image
    file with an EXIF orientation tag is turned as a viewer shows it (``orientation="displayed"``) or drawn as
    stored (``"stored"``). ``draw_skeleton=False``: the points are not linked (a multi-person model's most
    confident cell of each type may each be another person's); ``multiple``: see :func:`predict_image`;
    ``turned`` (a dict) receives ``file -> "EXIF orientation N"`` for each file that carries one; ``bit_depth``: of
    16-bit image files (the run's ``data.bit_depth``; None: guessed per image); ``nonfinite`` (a list) receives the
    title of each image on which the model's outputs held NaN or infinite values. ``boxes_of``: the boxes of an image
    file (called with its path) or of a video frame (with its frame index, the fourth element of the item): one PNG
    per box, ``<stem>_box<i>_<method>.png``, the instance cropped as ``data.crop=box`` crops it; an image without
    boxes is not drawn and its title goes to ``no_detections`` (a list)."""
    names = tuple(spec.keypoints) if spec is not None else tuple(str(i) for i in range(strategy.num_keypoints))
    skeleton = tuple(spec.skeleton) if spec is not None and draw_skeleton else ()
    sel = select_keypoints(keypoints, names)
    if isinstance(images, (list, tuple)) and not images:
        raise AdaAnchorError("no image given")
    out = _check_out(out_dir)
    if out.exists() and not out.is_dir():
        raise AdaAnchorError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    used: set[str] = set()
    written = []
    for item in images:
        if isinstance(item, tuple):  # (image array, name stem, title[, frame index]): a video frame
            img, stem, title, *index = item
            key: Path | int | None = index[0] if index else None
        else:
            p = key = Path(item)
            try:
                exif = "apply" if orientation == "displayed" else "ignore"
                img, tag = read_image(p, exif, bit_depth)  # DataError naming the file when missing or corrupt
                stem, title = p.stem, p.name
                if turned is not None and 2 <= tag <= 8:
                    turned[str(p)] = f"EXIF orientation {tag}"
            except DataError as e:
                if skipped is None:
                    raise
                skipped.append(f"{p}: {getattr(e, 'reason', None) or e}")
                continue
        crops = crops_of(boxes_of, key)
        if not crops and no_detections is not None:
            no_detections.append(title)
        for i, box, score in crops:
            try:
                pred = predict_image(model, strategy, img, input_size, device, multiple, box=box)
            except AdaAnchorError as e:  # a box that misses its image: left out, as predict leaves it out
                if box is None or skipped is None:
                    raise
                skipped.append(f"{title}: detection {i}: {e}")
                continue
            if pred["nonfinite"] and nonfinite is not None:
                nonfinite.append(title)
            named = (stem, title) if box is None else (f"{stem}_box{i}", f"{title}, box {i} (score {score:.3g})")
            target = out / _unique_name(named[0], pred["method"] or "model", used)
            try:
                written.append(render_prediction(img, pred, target, skeleton, names, sel, title=named[1]))
            except OSError as e:
                raise AdaAnchorError(f"{target}: cannot write ({e.strerror or e})") from None
    return written


def _check_out(out_dir: str | Path) -> Path:
    """The output folder; an empty name is refused, as ``predict`` refuses it (``Path("")`` is ``.``: the PNGs went
    into the working folder)."""
    if not str(out_dir).strip():
        raise AdaAnchorError("--out is empty: give the output folder")
    return Path(out_dir)


def _run_notes(run: str, cfg, multi: bool, boxes: str | None = None) -> list[str]:
    """What ``viz`` draws differently from ``predict`` for this run: a multi-person run, or one trained on boxes."""
    if multi:
        return [f"note: {run} is a multi-person run (task={cfg.task}): viz draws each keypoint type's most "
                "confident cell over the image, not linked, and the confidence maps; `adaanchor predict` "
                "draws the grouped poses"]
    if str(cfg.data.crop) == "box" and not boxes:  # as predict says it
        return [f"note: {run} was trained on instance boxes (data.crop=box): viz fits the whole image into the "
                "input, which the model never saw; give --boxes (COCO detections) to crop each instance as training "
                "did"]
    return []


def visualize_command(run: str, images: str | Path | Sequence[str | Path], out_dir: str,
                      overrides: str | Sequence[str] = (), ckpt: str | None = None, keypoints: str | list[str] | None = None,
                      device: torch.device | str = "cpu", every: int = 1, max_frames: int | None = 100,
                      skipped: list[str] | None = None, orientation: str = "displayed",
                      notes: list[str] | None = None, boxes: str | None = None,
                      gt: str | None = None) -> list[Path]:
    """``adaanchor viz RUN IMAGE [IMAGE ...] --out DIR [ckpt=PATH] [key=value ...] [--keypoints name ...]
    [--boxes FILE [--gt FILE]]``.

    ``run`` is a run directory (its ``best.pt``, else ``last.pt``) or a config file (with ``ckpt=PATH`` or
    ``model.weights``). ``images`` are image files, videos, folders or glob patterns; of a video, every
    ``every``-th frame is drawn, at most ``max_frames`` (None: all), turned by the video's rotation and images by
    their EXIF orientation as a viewer shows them (``orientation="displayed"``; ``"stored"``: as stored).
    ``device`` is what :meth:`adaanchor.predict.Predictor.from_run` takes (``"cpu"``, ``"auto"``: CUDA when
    available, ``"cuda:N"``, a ``torch.device``). Returns the PNGs written.

    An image or video that cannot be read (or a video read only in part) raises ``AdaAnchorError``, or, with a
    ``skipped`` list, is added to it as ``PATH: reason`` and the others are drawn (``adaanchor viz`` then exits
    with 3, as ``predict`` does); nothing readable at all is an error either way.

    A multi-person run (bottom-up, centres) is drawn as its maps show it, on the image prepared as ``predict``
    prepares it: each keypoint type's most confident cell over the whole image, not linked, and its confidence
    maps; the grouped poses are ``adaanchor predict``'s overlays. ``notes`` (a list) receives a line saying so,
    one for a run trained on instance boxes, one naming the images that carried an EXIF orientation, and one
    counting the images on which the model's outputs were not finite (a diverged model).

    ``boxes``: a COCO detections file, as ``predict --boxes`` reads it: each box of an image is drawn in its own PNG,
    the instance cropped as a box-trained run (``data.crop=box``) was trained; images are matched to the detections
    by ``image_id`` as ``predict`` matches them (the ``images`` of the COCO-style ``gt`` file, else integer file
    stems), the frames of one video by frame index. Images without detections are not drawn (said in ``notes``).
    """
    from .data.build import bit_depth_of, data_spec
    from .data.readers import is_int_id
    from .engine.run import image_multiple, is_multi_person, load_for_eval, resolve_run
    from .predict.backends import resolve_device

    # One path or name given alone, not in a list: iterated, "a.png" was read as the files "a", ".", "p", ...
    images = [images] if isinstance(images, (str, Path)) else list(images)
    keypoints = [keypoints] if isinstance(keypoints, str) else keypoints
    check_orientation(orientation)
    _check_out(out_dir)
    if not is_int_id(every) or every < 1 or (max_frames is not None and (not is_int_id(max_frames) or max_frames < 1)):
        # an int() of 2.5 drew every 2nd frame, of "a" raised a bare ValueError
        raise AdaAnchorError(f"viz: every must be an integer >= 1 and max_frames an integer >= 1 or None (all), got "
                             f"{every!r} and {max_frames!r}")
    device = resolve_device(device)  # "auto" as predict takes it; CUDA missing or "mps" in one line, not inside torch
    cfg, ckpt_path = resolve_run(run, ckpt, overrides, need_data=False, need_weights=True)
    spec = data_spec(cfg.data)
    select_keypoints(keypoints, spec.keypoints)  # fail before loading anything heavy
    srcs = expand_viz_inputs(images, skipped)
    multi = is_multi_person(cfg)
    boxes_of = detections_by_input(boxes, gt, srcs, multi, run, orientation, skipped, notes) if srcs else None
    if not srcs:  # none there, or none that --gt lists
        what = "nothing to draw" if boxes else "no input could be read"
        raise AdaAnchorError(f"{what} ({'; '.join(skipped)})"[:2000] if skipped else "no image given")
    model, strategy, _ = load_for_eval(cfg, ckpt_path, device)
    input_size = (int(cfg.data.input_size[0]), int(cfg.data.input_size[1]))
    depth = bit_depth_of(cfg.data)
    # With --boxes a video's frames without a detection are passed over, not counted against max_frames.
    keep = (lambda i: len(boxes_of(i).boxes) > 0) if boxes_of is not None else None
    items = itertools.chain.from_iterable(
        guarded(video_frames(s.path, every, max_frames, orientation, depth, keep), s.path, skipped)
        if s.kind == "video" else [s.path] for s in srcs)
    if notes is not None:
        notes += _run_notes(run, cfg, multi, boxes)
    turned: dict[str, str] = {}
    bad: list[str] = []
    undetected: list[str] = []
    made = not Path(out_dir).exists()
    try:
        written = visualize_images(model, strategy, items, out_dir, input_size, spec, keypoints, device, skipped,
                                   orientation, draw_skeleton=not multi,
                                   multiple=image_multiple(cfg, strategy.stride) if multi else None, turned=turned,
                                   bit_depth=depth, nonfinite=bad, boxes_of=boxes_of, no_detections=undetected)
    finally:  # a folder made for nothing (an error, nothing to draw) is not left behind
        if made and Path(out_dir).is_dir() and not any(Path(out_dir).iterdir()):
            Path(out_dir).rmdir()
    if notes is not None and undetected:
        notes.append(f"note: {len(undetected)} image(s) have no detection in {boxes}, not drawn (e.g. {undetected[0]})")
    if notes is not None:  # as predict says it: which files carried an orientation, and what was done with it
        notes += [f"note: {line}" for line in orientation_notes(turned, orientation)]
    if notes is not None and bad:  # a "mean score nan" title over an image with nothing drawn, said nowhere else
        notes.append(f"note: the model's outputs held NaN or infinite values on {len(bad)} of {len(written)} image(s) "
                     f"(e.g. {bad[0]}; diverged weights?): their keypoints and maps could not be drawn")
    if not written and boxes:  # exit 0 with nothing to look at told a script nothing
        why = "; ".join(skipped or []) or f"no input has a detection in {boxes}"
        raise AdaAnchorError(f"nothing drawn ({why})"[:2000])
    if not written and skipped:
        raise AdaAnchorError(f"no input could be read ({'; '.join(skipped)})"[:2000])
    return written


__all__ = [
    "fit_image_affine",
    "grid_to_image",
    "grid_to_view",
    "predict_image",
    "render_prediction",
    "select_keypoints",
    "split_image_args",
    "visualize_command",
    "visualize_images",
    "video_frames",
]
