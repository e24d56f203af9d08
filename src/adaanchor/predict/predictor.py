"""``Predictor``: a trained run applied to new images, keypoints back in original image pixels.

Each instance is cut out of its image by one affine (original pixels -> model input pixels), the same
geometry as training and evaluation (:mod:`adaanchor.data.transforms`): the whole image fitted into the
input as ``TopDownDataset(crop="image")`` does, or a box padded and aspect-corrected as ``crop="box"``
does. The decoded keypoints and anchors return through the exact inverse of that affine.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..data.spec import KeypointSpec
from ..data.transforms import apply_affine, invert_affine, warp_image
from ..errors import AdaAnchorError
from ..strategies import ANCHOR_STRATEGY_NAMES
from .arguments import (
    boxes_per_image,
    check_batch_size,
    check_boxes_inside,
    named_triples,
)
from .boxes import Boxes, FileBoxes, as_boxes
from .crops import box_affine, finite_box_affine, fit_image_affine, normalise
from .images import check_orientation, image_list, to_rgb
from .loading import load_run
from .result import Prediction, stack_instances

ANCHOR_STRATEGIES = ANCHOR_STRATEGY_NAMES  # fixanchor, adaanchor and its presets


class Predictor:
    """A model (PyTorch or ONNX backend) with its keypoint spec and input geometry.

    Build one with :meth:`from_run`; call :meth:`predict` on images, or :meth:`predict_stream` on an
    iterable of images (constant memory: at most ``batch_size`` instances are held at a time).

    Attributes:
        spec: the run's :class:`~adaanchor.data.spec.KeypointSpec` (``keypoint_names``, ``skeleton``).
        input_size: ``(W, H)`` of the model input, pixels.
        strategy: the strategy's name; ``stride``: its output stride, input pixels per output cell.
        batch_size: instances per forward pass; ``orientation``: how EXIF-tagged files are read.
        bit_depth: the bit depth integer images wider than 8 bits are scaled by (the run's ``data.bit_depth``;
            None: guessed per image, :mod:`adaanchor.data.pixels`).
        info: ``checkpoint``, ``step``, ``device``, ``backend``, ``run``, ``crop``, ``folded_bn`` (and ``onnx``).
        box_warning_said: whether the warning of a box-trained run given no boxes was given (once per Predictor);
            set it to True to silence it where the caller says so itself (``adaanchor predict`` prints a note).
    """

    def __init__(self, backend: Any, spec: KeypointSpec, input_size: Sequence[int], strategy: str, stride: int,
                 batch_size: int = 16, info: dict[str, Any] | None = None, multi: Any = None,
                 orientation: str = "displayed", bit_depth: int | None = None):
        self.backend, self.spec, self.strategy, self.stride = backend, spec, str(strategy), int(stride)
        # How image files and PIL images with an EXIF orientation tag are read (predict/images.py).
        self.orientation = check_orientation(orientation)
        self.bit_depth = None if bit_depth is None else int(bit_depth)  # as the run's training read its images
        self.multi = multi  # a MultiPersonRunner for a multi-person run (task=bottomup or centre): every person per image
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.batch_size = check_batch_size(batch_size)
        self.info = dict(info or {})
        self.box_warning_said = False  # the warning of a box-trained run given no boxes: said once

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def from_run(cls, run: str | Path, device: str = "auto", backend: str = "torch", ckpt: str | Path | None = None,
                 overrides: str | Sequence[str] = (), onnx_path: str | Path | None = None, batch_size: int = 16,
                 threads: int | None = None, fold_bn: bool = True, orientation: str = "displayed",
                 precision: str = "fp32") -> Predictor:
        """Load a run directory, a checkpoint inside one (``RUN/checkpoints/best.pt``) or a config file.

        A multi-person run (``task=bottomup`` or ``centre``) finds every person of each image itself (no boxes); with
        ``backend="onnx"`` its network runs as the exported graph of its head maps and the poses are grouped after it.

        Args:
            device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda:0"``, ...
            backend: ``"torch"``, or ``"onnx"``: the graph exported by :func:`adaanchor.export.export_onnx`,
                run in onnxruntime. ``onnx_path`` names the file; by default ``RUN/export/<checkpoint>.onnx``,
                exported on first use and again whenever it does not hold the run's checkpoint (SHA-256).
            threads: CPU threads of the onnxruntime session (``backend="onnx"`` only; an integer >= 1, default
                ``torch.get_num_threads()``). The torch backend uses torch's own (``torch.set_num_threads``).
            orientation: ``"displayed"`` (default) turns image files and PIL images with an EXIF orientation
                tag upright as a viewer shows them, keypoints then in that frame; ``"stored"`` keeps the stored
                pixels (the frame of a dataset's annotations under ``data.exif=ignore``). Arrays are taken as
                they are.
            overrides: ``key=value`` options over the run's config; ``data.bit_depth=12`` declares the bit depth of
                16-bit image files and integer arrays (by default the run's, as its training read its images);
                ``eval.flip_test=true`` predicts each crop also mirrored and averages the two (top-down runs: the
                keypoints; multi-person runs: the head maps, before the people are decoded;
                :mod:`adaanchor.strategies.flip_test`; ``info["flip_test"]`` says so).
            precision: ``"fp32"``, or ``"bf16"`` with the torch backend: the backbone in bfloat16, the heads in
                float32 (:mod:`adaanchor.models.precision`; refused where the device has no bfloat16 units).
            fold_bn: with the torch backend, fold each BatchNorm into the convolution before it
                (:func:`adaanchor.models.fuse.fold_batchnorm`: the same results to float rounding, a ResNet-50
                forward in about 0.92 of its time); ``info["folded_bn"]`` says how many were. Top-down runs only:
                a multi-person run's model runs unfolded, as ``adaanchor eval`` runs it, since its grouping can turn
                a rounding difference into another matching.
        """
        parts = load_run(run, device, backend, ckpt, overrides, onnx_path, batch_size, threads, fold_bn,
                         orientation, precision)
        return cls(**parts)

    def __repr__(self) -> str:
        """What was loaded and how it runs: run, strategy, backend, device, input size, keypoints, batch size, and the
        options that are not the default (bfloat16, the flip test, a declared bit depth)."""
        kind = f", task={self.info['task']}" if self.multi is not None and "task" in self.info else ""
        opts = [f"precision='{self.info['precision']}'" if self.info.get("precision", "fp32") != "fp32" else "",
                "flip_test=True" if self.info.get("flip_test") else "",
                *(f"{k}='{self.info[k]}'" for k in ("flip_offsets", "flip_conf") if self.info.get(k)),
                f"bit_depth={self.bit_depth}" if self.bit_depth is not None else ""]
        extra = "".join(f", {o}" for o in opts if o)
        return (f"Predictor(run={self.info.get('run')!r}, strategy={self.strategy!r}{kind}, "
                f"backend={self.info.get('backend', getattr(self.backend, 'name', '?'))!r}, "
                f"device={self.info.get('device')!r}, input_size={self.input_size} (W, H), "
                f"keypoints={self.spec.num_keypoints}, batch_size={self.batch_size}{extra})")

    @property
    def multi_person(self) -> bool:
        """Whether this is a multi-person run: each image gives every person found in it (no boxes)."""
        return self.multi is not None

    @property
    def max_instances(self) -> int:
        """The most instances a file column layout must hold per image: the decoder's ``max_candidates`` for a
        multi-person run (poses beyond it are left out of the DeepLabCut CSV, the lowest-scoring first), else 1."""
        return int(self.multi.strategy.options["max_candidates"]) if self.multi is not None else 1

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        """The ``K`` keypoint names, in the order of ``Prediction.keypoints``' second axis."""
        return tuple(self.spec.keypoints)

    @property
    def skeleton(self) -> tuple[tuple[int, int], ...]:
        """The limbs as pairs of keypoint indices in ``[0, K)`` (what ``draw_prediction`` takes)."""
        return tuple(self.spec.skeleton)

    @property
    def has_anchors(self) -> bool:
        """Whether each keypoint comes with the anchor it was decoded from: a single-instance run of an anchor
        strategy (``fixanchor``, ``adaanchor``, its presets). A multi-person run's grouped poses carry no
        anchors (``Prediction.anchors`` is None), whatever its strategy; its ``strategy`` names the wrapper
        (``adaanchor_ae``, ``heatmap_centre``)."""
        return self.multi is None and self.strategy in ANCHOR_STRATEGIES

    # ---- prediction -----------------------------------------------------------------------------------
    def predict(self, images: Any, boxes: Any = None, image_ids: Sequence[int] | int | None = None) -> Prediction | list[Prediction]:
        """Keypoints on one image or a batch.

        Args:
            images: one image (``(H, W, 3)`` uint8 RGB array, ``(H, W)`` grayscale, RGBA, another pixel dtype
                by the rule of :mod:`adaanchor.data.pixels`, a PIL image or a file path) or a list of them,
                or an ``(B, H, W, C)`` array. A torch tensor, nested lists, bytes or a file object are refused.
            boxes: None (whole-image mode: one instance per image); for one image an ``(N, 4)`` array of
                ``[x, y, w, h]`` in the image's pixels (not ``[x1, y1, x2, y2]`` corners; each box overlapping the
                image) (``(N, 5)``: with detection scores, finite and >= 0); for a batch a list of
                those, one per image (None: whole image); or the path of a COCO detections JSON (images then
                need ids: ``image_ids``, or file names whose stem is the integer id, ``000000000785.jpg`` -> 785;
                its categories as :func:`~adaanchor.predict.boxes.load_detections` chooses them by default, or the
                :class:`~adaanchor.predict.boxes.Detections` that ``load_detections(path, category=...)`` returns).
            image_ids: with a detections file only: one integer id per image (an int for one image).

        Returns:
            A :class:`Prediction` for one image, else a list of them in input order.

        Warns:
            UserWarning: once per Predictor, when a run trained on instance boxes (``info["crop"] == "box"``) is
                given an image without boxes: the whole image is then its one instance, which the model never saw.
        """
        batch, single = image_list(images)
        per_image = boxes_per_image(batch, boxes, single, image_ids)
        names = ["images"] if single else [f"images[{i}]" for i in range(len(batch))]
        out = [p for _, p in self._stream(zip(batch, per_image, range(len(batch)), names))]
        return out[0] if single else out

    def predict_stream(self, items: Iterable[tuple[Any, Boxes | Any | None, Any]]) -> Iterator[tuple[Any, Prediction]]:
        """Predict ``(image, boxes, tag)`` items lazily, batching instances across images; yields ``(tag,
        prediction)`` in input order. ``boxes`` is None (whole image) or what :func:`as_boxes` takes; a
        multi-person run takes no boxes (each image is one forward pass, every person found).

        Raises:
            TypeError: an item that is not an ``(image, boxes, tag)`` tuple or list (an image is not unpacked).

        Warns:
            UserWarning: as :meth:`predict`, for a box-trained run given an image without boxes.
        """
        yield from self._stream(named_triples(items))

    # ---- internals ------------------------------------------------------------------------------------
    def _stream(self, items: Iterable[tuple[Any, Any, Any, str]]) -> Iterator[tuple[Any, Prediction]]:
        """:meth:`predict_stream` of ``(image, boxes, tag, name)`` items; ``name`` names the image in errors. Each
        prediction's ``meta["orientation"]`` says how a file or PIL image was read (the overlay reads it so too)."""
        for tag, pred in self._predicted(items):
            pred.meta.setdefault("orientation", self.orientation)
            yield tag, pred

    def _predicted(self, items: Iterable[tuple[Any, Any, Any, str]]) -> Iterator[tuple[Any, Prediction]]:
        if self.multi is not None:
            yield from self._multi_stream(items)
            return
        queue: list[tuple[dict[str, Any], int, np.ndarray]] = []  # (entry, instance, crop)
        pending: list[tuple[Any, dict[str, Any]]] = []
        for image, boxes, tag, name in items:
            if boxes is None:
                self._warn_no_boxes()
            try:
                img = to_rgb(image, name, self.orientation, self.bit_depth)
                entry = self._entry(img, boxes, name)
            except Exception:
                # The items read before it are predicted and given first (a batch's worth was lost with the error)
                if queue:
                    self._run(queue)
                for done_tag, done in pending:
                    yield done_tag, self._finish(done)
                raise
            pending.append((tag, entry))
            queue.extend((entry, j, crop) for j, crop in enumerate(entry.pop("crops")))
            while len(queue) >= self.batch_size:
                self._run(queue[: self.batch_size])
                del queue[: self.batch_size]
            while pending and pending[0][1]["done"] == len(pending[0][1]["parts"]):
                yield pending[0][0], self._finish(pending.pop(0)[1])
        if queue:
            self._run(queue)
        for tag, entry in pending:
            yield tag, self._finish(entry)

    def _warn_no_boxes(self) -> None:
        """The warning of a box-trained run given an image without boxes, once per Predictor (as ``adaanchor
        predict`` notes it), from :meth:`predict` and :meth:`predict_stream` alike (the stream, the path of video
        frames, gave none), naming the caller's line."""
        if self.info.get("crop") == "box" and not self.box_warning_said:
            self.box_warning_said = True
            warnings.warn(f"{self.info.get('run')} was trained on instance boxes (data.crop=box) and no boxes were "
                          "given: each image is predicted as one instance, the whole image its box; pass boxes=[x, y, "
                          "w, h] per instance (or a detections file)", stacklevel=_outside_level())

    def _multi_stream(self, items: Iterable[tuple[Any, Any, Any, str]]) -> Iterator[tuple[Any, Prediction]]:
        for image, boxes, tag, name in items:
            if boxes is not None:
                raise AdaAnchorError(f"a multi-person run (task={self.info.get('task')}) finds the people itself: "
                                     "boxes are for top-down runs")
            yield tag, self.multi(to_rgb(image, name, self.orientation, self.bit_depth))

    def _entry(self, img: np.ndarray, boxes: Any, name: str = "images") -> dict[str, Any]:
        h, w = img.shape[:2]
        if boxes is None:
            regions = [(np.array([0.0, 0.0, w, h]), 1.0, fit_image_affine((h, w), self.input_size))]
        else:
            b, s = as_boxes(boxes)
            what = name.replace("images", "boxes") if name.startswith("images") else name.replace("image", "boxes")
            # A detections file's too (its image ids matched to the wrong images): keypoints came back far off the
            # image without a word, where adaanchor predict leaves such detections out and says so.
            check_boxes_inside(b, (h, w), f"{what} (from {boxes.source})" if isinstance(boxes, FileBoxes) else what)
            regions = [(bb, float(ss), finite_box_affine(bb, self.input_size, i)) for i, (bb, ss) in enumerate(zip(b, s))]
        crops = [warp_image(img, a, self.input_size) for _, _, a in regions]
        parts = [{"box": bb, "box_score": ss, "affine": a} for bb, ss, a in regions]
        return {"hw": (h, w), "parts": parts, "done": 0, "crops": crops}

    def _run(self, queue: list[tuple[dict[str, Any], int, np.ndarray]]) -> None:
        out = self.backend(normalise(np.stack([c for _, _, c in queue])))
        for i, (entry, j, _) in enumerate(queue):
            part = entry["parts"][j]
            inv = invert_affine(part["affine"])
            part["keypoints"] = apply_affine(inv, out["keypoints"][i].astype(np.float64))
            part["scores"] = out["scores"][i] if "scores" in out else None
            part["anchors"] = apply_affine(inv, out["anchors"][i].astype(np.float64)) if "anchors" in out else None
            entry["done"] += 1

    def _finish(self, entry: dict[str, Any]) -> Prediction:
        if not entry["parts"]:
            return Prediction.empty(self.spec.num_keypoints, entry["hw"], self.strategy != "regression",
                                    self.strategy != "regression")
        return stack_instances(entry["parts"], entry["hw"])


def _outside_level() -> int:
    """The ``stacklevel`` of the first frame outside this package for a warning raised by the caller of this
    function: the user's line, however many generator frames lie between (predict's and the stream's differ)."""
    here, frame, level = str(Path(__file__).parent), sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(here):
        frame, level = frame.f_back, level + 1
    return level


__all__ = ["ANCHOR_STRATEGIES", "Predictor", "box_affine", "check_batch_size", "fit_image_affine", "normalise"]
