"""Loading a run for :class:`~adaanchor.predict.predictor.Predictor`: the checkpoint, the device, the backend
(PyTorch, BatchNorms folded, or the exported ONNX graph), the flip test and the multi-person runner."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..data.build import bit_depth_of, data_spec
from ..errors import AdaAnchorError
from ..malloc import keep_freed_memory
from ..models.precision import check_precision, with_precision
from .arguments import check_load_options, check_run_paths


def load_run(run: str | Path, device: str = "auto", backend: str = "torch", ckpt: str | Path | None = None,
             overrides: str | Sequence[str] = (), onnx_path: str | Path | None = None, batch_size: int = 16,
             threads: int | None = None, fold_bn: bool = True, orientation: str = "displayed",
             precision: str = "fp32") -> dict[str, Any]:
    """The keyword arguments of ``Predictor(...)`` for a run: the options are those of
    :meth:`~adaanchor.predict.predictor.Predictor.from_run`, checked before the model loads."""
    from ..engine.run import (
        image_multiple,
        is_multi_person,
        load_for_eval,
        resolve_run,
        split_checkpoint,
    )
    from .backends import batch_runner, exported_onnx, fold_batchnorm_probe, resolve_device, with_flip_test

    check_load_options(backend, onnx_path, batch_size, orientation, threads, fold_bn)  # before the model loads
    check_run_paths(run, ckpt)
    keep_freed_memory()  # batch after batch reuses the same memory (adaanchor/malloc.py)
    target, ckpt = split_checkpoint(Path(run), ckpt)
    cfg, ckpt_path = resolve_run(target, ckpt, overrides, need_data=False, need_weights=True)
    dev = resolve_device(device)
    if precision != "fp32" and backend != "torch":
        raise AdaAnchorError(f"precision={precision!r} is for the torch backend; the onnx graph runs in float32")
    check_precision(precision, dev)  # before the model loads
    spec = data_spec(cfg.data)
    size = (int(cfg.data.input_size[0]), int(cfg.data.input_size[1]))
    model, strategy, info = load_for_eval(cfg, ckpt_path, "cpu" if backend == "onnx" else dev)
    multiple = image_multiple(cfg, strategy.stride) if is_multi_person(cfg) else None
    info["folded_bn"] = 0  # also without folding (fold_bn=False, the ONNX backend): the key is always there
    # A multi-person run's model runs as eval runs it: the grouping turns the folding's float rounding into another
    # matching wherever two matchings' costs tie within it (a keypoint swapped between two poses, 26 px).
    if backend == "torch" and fold_bn and multiple is None:
        model, info["folded_bn"] = fold_batchnorm_probe(model, size, dev)
    model, info["precision"] = with_precision(model, precision), precision
    digest = None
    if backend == "onnx":
        onnx_path, digest = exported_onnx(model, strategy, cfg, target, ckpt_path, onnx_path, size, spec.keypoints,
                                          multiple, info.get("step"))
        info["onnx"] = str(onnx_path)
    info.update({"device": str(dev), "backend": backend, "run": str(target), "crop": str(cfg.data.crop)})
    be, multi = batch_runner(model, strategy, backend, onnx_path, size, spec.keypoints, dev, threads, digest,
                             multiple)
    be = with_flip_test(be, multi, strategy, cfg.eval, spec.flip_index, info)
    if multi is not None:
        info["task"] = str(cfg.task)
    return {"backend": be, "spec": spec, "input_size": size, "strategy": strategy.name, "stride": strategy.stride,
            "batch_size": batch_size, "info": info, "multi": multi, "orientation": orientation,
            "bit_depth": bit_depth_of(cfg.data)}


__all__ = ["load_run"]
