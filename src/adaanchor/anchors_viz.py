"""Predictions and anchors on any image file: the whole image is fitted into the model input, predictions
are mapped back to the original image, and one PNG per image shows them (drawn by :mod:`.anchors_draw`;
docs/export-and-visualize.md).
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .anchors_draw import grid_to_image, grid_to_view, render_prediction
from .data.image_read import read_image
from .data.readers import is_int_id
from .errors import AdaAnchorError, DataError, check_stop, unknown_name_error
from .predict.boxes import Boxes
from .predict.crops import fit_image_affine  # (the crop of TopDownDataset(crop="image")), re-exported
from .predict.images import check_orientation, orientation_notes
from .viz_inputs import crops_of, detections_by_input, expand_viz_inputs, guarded, split_image_args, video_frames
from .viz_predict import predict_image


def select_keypoints(names: Sequence[str] | None, valid: Sequence[str]) -> list[int]:
    """Indices of the keypoint ``names`` (all when None or empty); an unknown name is an error naming the option
    (``viz --keypoints``, ``keypoints=`` in Python) and listing the valid names."""
    if not names:
        return list(range(len(valid)))
    out = []
    for n in names:
        if n not in valid:
            raise AdaAnchorError(f"--keypoints: {unknown_name_error('keypoint', str(n), valid)}")
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
                     no_detections: list[str] | None = None, flip_index: Sequence[int] | None = None) -> list[Path]:
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
    boxes is not drawn and its title goes to ``no_detections`` (a list). ``flip_index``: the flip test's pairs, see
    :func:`predict_image`."""
    names = tuple(spec.keypoints) if spec is not None else tuple(str(i) for i in range(strategy.num_keypoints))
    skeleton = tuple(spec.skeleton) if spec is not None and draw_skeleton else ()
    sel = select_keypoints(keypoints, names)
    if isinstance(images, (list, tuple)) and not images:
        raise AdaAnchorError("no image given")
    out = _check_out(out_dir)
    if out.exists() and not out.is_dir():
        raise AdaAnchorError(f"{out}: exists and is not a folder")
    created = [d for d in (out, *out.parents) if not d.exists()]  # deepest first
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    used: set[str] = set()
    written: list[Path] = []
    try:
        for item in images:
            check_stop()  # a SIGTERM whose exception a finalizer swallowed (adaanchor.errors.check_stop)
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
                    pred = predict_image(model, strategy, img, input_size, device, multiple, box=box,
                                         flip_index=flip_index)
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
    finally:  # nothing written (an error, nothing to draw): the folders this call made are not left behind
        if not written:
            for d in created:  # deepest first; rmdir refuses a folder that is not empty
                with contextlib.suppress(OSError):
                    d.rmdir()
    return written


def _check_out(out_dir: str | Path) -> Path:
    """The output folder; an empty name is refused, as ``predict`` refuses it (``Path("")`` is ``.``: the PNGs went
    into the working folder)."""
    if not str(out_dir).strip():
        raise AdaAnchorError("--out is empty: give the output folder")
    return Path(out_dir)


def _run_notes(run: str, cfg, multi: bool, boxes: str | None = None) -> list[str]:
    """What ``viz`` draws differently from ``predict`` for this run: a multi-person run, or one trained on boxes; and
    what it draws of the flip test (``eval.flip_test``)."""
    notes = []
    if multi:
        notes.append(f"note: {run} is a multi-person run (task={cfg.task}): viz draws each keypoint type's most "
                     "confident cell over the image, not linked, and the confidence maps; `adaanchor predict` "
                     "draws the grouped poses")
    elif str(cfg.data.crop) == "box" and not boxes:  # as predict says it
        notes.append(f"note: {run} was trained on instance boxes (data.crop=box): viz fits the whole image into the "
                     "input, which the model never saw; give --boxes (COCO detections) to crop each instance as "
                     "training did")
    if cfg.eval.get("flip_test"):
        notes.append("note: eval.flip_test is true: viz draws the maps of the unmirrored pass only; predict's poses "
                     "are the flip test's" if multi else
                     "note: eval.flip_test is true: the keypoints and scores drawn are the mean of the pass on the "
                     "image and the mirrored pass, as predict writes them; the anchors and the confidence map are "
                     "the unmirrored pass's")
    return notes


def visualize_command(run: str, images: str | Path | Sequence[str | Path], out_dir: str,
                      overrides: str | Sequence[str] = (), ckpt: str | None = None, keypoints: str | list[str] | None = None,
                      device: torch.device | str = "cpu", every: int = 1, max_frames: int | None = 100,
                      skipped: list[str] | None = None, orientation: str = "displayed",
                      notes: list[str] | None = None, boxes: str | None = None,
                      gt: str | None = None, min_det_score: float = 0.0, box_category: Any = "auto") -> list[Path]:
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
    ``min_det_score``: detections scored below it are left out (counted in ``notes``), as ``data.det_score_thr``
    leaves them out of an evaluation. ``box_category``: the detections' categories drawn
    (:func:`adaanchor.predict.boxes.load_detections`).
    """
    from .data.build import bit_depth_of, data_spec
    from .engine.run import image_multiple, is_multi_person, load_for_eval, resolve_run
    from .predict.backends import resolve_device

    # One path or name given alone, not in a list: iterated, "a.png" was read as the files "a", ".", "p", ...
    images = [images] if isinstance(images, (str, Path)) else list(images)
    keypoints = [keypoints] if isinstance(keypoints, str) else keypoints
    check_orientation(orientation)
    _check_out(out_dir)
    _check_frame_options(every, max_frames)
    device = resolve_device(device)  # "auto" as predict takes it; CUDA missing or "mps" in one line, not inside torch
    cfg, ckpt_path = resolve_run(run, ckpt, overrides, need_data=False, need_weights=True)
    spec = data_spec(cfg.data)
    select_keypoints(keypoints, spec.keypoints)  # fail before loading anything heavy
    srcs = expand_viz_inputs(images, skipped)
    multi = is_multi_person(cfg)
    _check_min_det_score(min_det_score, boxes)
    if box_category != "auto" and boxes is None:  # it would be ignored
        raise AdaAnchorError("--box-category chooses among the --boxes detections; give --boxes too")
    boxes_of = (detections_by_input(boxes, gt, srcs, multi, run, orientation, skipped, notes, min_det_score,
                                    box_category)
                if srcs else None)
    if not srcs:  # none there, or none that --gt lists
        what = "nothing to draw" if boxes else "no input could be read"
        raise AdaAnchorError(f"{what} ({'; '.join(skipped)})"[:2000] if skipped else "no image given")
    model, strategy, _ = load_for_eval(cfg, ckpt_path, device)
    input_size = (int(cfg.data.input_size[0]), int(cfg.data.input_size[1]))
    depth = bit_depth_of(cfg.data)
    # With --boxes a video's frames without a detection are passed over, not counted against max_frames.
    keep = boxes_of.has if boxes_of is not None else None
    last = boxes_of.last_frame if boxes_of is not None else None  # no frame decoded past the last detection
    items = itertools.chain.from_iterable(
        guarded(video_frames(s.path, every, max_frames, orientation, depth, keep, last), s.path, skipped)
        if s.kind == "video" else [s.path] for s in srcs)
    if notes is not None:
        notes += _run_notes(run, cfg, multi, boxes)
    turned: dict[str, str] = {}
    bad: list[str] = []
    undetected: list[str] = []
    written = visualize_images(model, strategy, items, out_dir, input_size, spec, keypoints, device, skipped,
                               orientation, draw_skeleton=not multi,
                               multiple=image_multiple(cfg, strategy.stride) if multi else None, turned=turned,
                               bit_depth=depth, nonfinite=bad, boxes_of=boxes_of, no_detections=undetected,
                               flip_index=spec.flip_index if cfg.eval.get("flip_test") and not multi else None)
    if notes is not None:
        notes += _drawn_notes(undetected, boxes, turned, orientation, bad, len(written))
    if not written and boxes:  # exit 0 with nothing to look at told a script nothing
        why = "; ".join(skipped or []) or f"no input has a detection in {boxes}"
        raise AdaAnchorError(f"nothing drawn ({why})"[:2000])
    if not written and skipped:
        raise AdaAnchorError(f"no input could be read ({'; '.join(skipped)})"[:2000])
    return written


def _check_frame_options(every: Any, max_frames: Any) -> None:
    """``every`` an integer >= 1, ``max_frames`` one or None (all frames)."""
    if not is_int_id(every) or every < 1 or (max_frames is not None and (not is_int_id(max_frames) or max_frames < 1)):
        # an int() of 2.5 drew every 2nd frame, of "a" raised a bare ValueError
        raise AdaAnchorError(f"viz: every must be an integer >= 1 and max_frames an integer >= 1 or None (all), got "
                             f"{every!r} and {max_frames!r}")


def _check_min_det_score(min_det_score: float, boxes: str | None) -> None:
    """A finite score >= 0, and one above 0 only with a detections file (it would be ignored)."""
    if not (math.isfinite(min_det_score) and min_det_score >= 0) or (min_det_score and boxes is None):
        raise AdaAnchorError(f"--min-det-score must be a finite number >= 0 and goes with --boxes, got {min_det_score!r}"
                             + ("" if boxes else " without --boxes"))


def _drawn_notes(undetected: list[str], boxes: str | None, turned: dict[str, str], orientation: str,
                 bad: list[str], n_written: int) -> list[str]:
    """The notes after drawing: images without a detection, EXIF orientations, non-finite model outputs."""
    notes = []
    if undetected:
        notes.append(f"note: {len(undetected)} image(s) have no detection in {boxes}, not drawn (e.g. {undetected[0]})")
    # as predict says it: which files carried an orientation, and what was done with it
    notes += [f"note: {line}" for line in orientation_notes(turned, orientation)]
    if bad:  # a "mean score nan" title over an image with nothing drawn, said nowhere else
        notes.append(f"note: the model's outputs held NaN or infinite values on {len(bad)} of {n_written} image(s) "
                     f"(e.g. {bad[0]}; diverged weights?): their keypoints and maps could not be drawn")
    return notes


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
