"""``adaanchor export``: find the run's weights, export, check."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import AdaAnchorError
from .check import KEYPOINT_ATOL, check_onnx, nonfinite_weights, torch_nonfinite
from .heads_check import HEAD_RTOL, check_heads_onnx
from .metadata import CHECKPOINT_DIGEST, checkpoint_digest, checkpoint_label
from .report import diff_parts
from .runtime import need_onnx
from .writer import check_opset, export_onnx


def check_onnx_name(path: str | Path) -> None:
    """An exported model is written only to a name ending in ``.onnx``: ``export RUN photo.jpg`` (by analogy with
    predict) replaced the photo with a model file, and ``predict --onnx notes.txt`` exported into the notes."""
    if Path(path).suffix.lower() != ".onnx":
        raise AdaAnchorError(f"{path}: the model would be exported to this file, and an ONNX file's name must end in "
                             ".onnx (nothing written)")


def default_onnx_path(target: str | Path, ckpt_path: str | Path | None, weights: str | None) -> Path:
    """Where a run's exported graph goes when no file is named: ``RUN/export/<checkpoint stem>.onnx`` (the folder
    of a config file for a config target); ``adaanchor export`` writes it and ``predict --backend onnx`` reads it."""
    target = Path(target)
    base = target if target.is_dir() else target.parent
    return base / "export" / f"{Path(str(ckpt_path or weights)).stem}.onnx"


def export_command(run: str, out: str | Path | None, overrides: str | Sequence[str] = (), ckpt: str | None = None,
                   opset: int | None = None, check: bool = True, latency_runs: int = 20) -> dict[str, Any]:
    """``adaanchor export RUN [OUT.onnx] [ckpt=PATH] [key=value ...] [--opset N] [--no-check]``; ``out`` None:
    :func:`default_onnx_path`.

    ``run`` is a run directory (its ``best.pt``, else ``last.pt``) or a config file (then ``ckpt=PATH`` or
    ``model.weights`` must give the weights). Returns :func:`export_onnx`'s dict, plus ``strategy``,
    ``checkpoint``, ``size_mb``, ``keypoint_names`` and, with ``check``, :func:`check_onnx`'s dict (latency
    measured over ``latency_runs`` runs; 0: not measured).

    Raises:
        AdaAnchorError: bad run path, missing or mismatched checkpoint, an output not named ``*.onnx`` or not
            writable, export failure,
            or (with ``check``) onnxruntime disagreeing with PyTorch beyond the tolerances, or PyTorch's own
            outputs holding NaN or infinite values (without ``check``: on one image-like input, nothing written).
    """
    from ..data.build import data_spec
    from ..engine.run import (
        image_multiple,
        is_multi_person,
        load_for_eval,
        resolve_run,
        split_checkpoint,
    )

    if out is not None and not Path(out).is_dir():  # a folder: its own error
        check_onnx_name(out)
    check_opset(opset)  # before the model loads
    if not isinstance(check, (bool, np.bool_)):  # "no" is truthy: it would check
        raise AdaAnchorError(f"check must be True or False, got {check!r}")
    if not isinstance(latency_runs, (int, np.integer)) or isinstance(latency_runs, bool) or latency_runs < 0:
        raise AdaAnchorError(f"latency_runs must be an integer >= 0 (0: not measured), got {latency_runs!r}")
    need_onnx(runtime=check)
    cfg, ckpt_path = resolve_run(run, ckpt, overrides, need_data=False, need_weights=True)
    run = str(split_checkpoint(Path(run), None)[0])  # a checkpoint path stands for its run (the default output)
    model, strategy, info = load_for_eval(cfg, ckpt_path)
    if out is None:
        out = default_onnx_path(run, ckpt_path, cfg.model.weights)
    spec = data_spec(cfg.data)
    input_size = (int(cfg.data.input_size[0]), int(cfg.data.input_size[1]))
    source = info["checkpoint"] or cfg.model.weights
    meta = {"adaanchor.keypoints": ",".join(spec.keypoints),
            # the file name and step only: a model file should not carry the local folder layout
            "adaanchor.checkpoint": checkpoint_label(source, info.get("step", -1))}
    digest = checkpoint_digest(source)
    if digest:  # what predict --backend onnx checks a file against (names and times say nothing)
        meta[CHECKPOINT_DIGEST] = digest
    # A multi-person run exports its network alone, for whole images of any size; its poses are grouped after it.
    multiple = image_multiple(cfg, strategy.stride) if is_multi_person(cfg) else None
    if multiple:
        meta["adaanchor.task"] = str(cfg.task)
    _check_strategy_opset(strategy, opset, multiple)
    if not check:  # no onnxruntime comparison: one PyTorch forward still refuses a diverged model
        bad = torch_nonfinite(model, input_size)
        if bad:
            raise _nonfinite_error(f"{out}: not written:", "an image-like input", bad, model)
    res = export_onnx(model, strategy, out, input_size, opset=opset, metadata=meta, spatial_multiple=multiple)
    res.update({"strategy": strategy.name, "checkpoint": info["checkpoint"], "size_mb": res["size_bytes"] / 2**20,
                "keypoint_names": list(spec.keypoints), "spatial_multiple": multiple, "task": str(cfg.task),
                "flip_test": bool(cfg.eval.get("flip_test"))})
    if check:
        res.update(_check_written(res["path"], model, strategy, input_size, multiple, latency_runs))
    return res


def _check_strategy_opset(strategy: Any, opset: int | None, multiple: int | None) -> None:
    """Refuse, before exporting, an ``opset`` below what the strategy's decoding needs (a multi-person graph holds
    the network alone, without the decoding). Below 16 the anchor strategies' export failed inside the exporter,
    at some opsets with a message that did not name the opset to ask for."""
    need = None if opset is None or multiple else strategy.export_needs()
    if need is not None and opset < need[0]:
        raise AdaAnchorError(f"opset {opset}: strategy '{strategy.name}' needs opset {need[0]} or later: {need[1]}; "
                             f"export with --opset {need[0]} or later (or no --opset)")


def _check_written(path: str, model: Any, strategy: Any, input_size: tuple[int, int], multiple: int | None,
                   latency_runs: int) -> dict[str, Any]:
    """onnxruntime against PyTorch on the written file: the head maps of a multi-person network (whole images, a
    multiple of ``multiple``), else the decoded keypoints; a disagreement beyond the tolerances is an error."""
    if multiple:
        res = check_heads_onnx(path, model, input_size, multiple, latency_runs=latency_runs)
        _refuse_nonfinite(path, res, model)
        if not res["check_ok"]:
            raise AdaAnchorError(f"{path}: written, but onnxruntime disagrees with PyTorch: max relative "
                                 f"|diff| of the head maps {res['max_rel_diff_heads']} (tolerance {HEAD_RTOL})")
        return res
    res = check_onnx(path, model, strategy, input_size, latency_runs=latency_runs)
    _refuse_nonfinite(path, res, model)
    if not res["check_ok"]:
        raise AdaAnchorError(f"{path}: written, but onnxruntime disagrees with PyTorch: max |diff| "
                             f"{diff_parts(res, '.3g')} (tolerance {KEYPOINT_ATOL} px)")
    return res


def _refuse_nonfinite(path: str, res: dict[str, Any], model: Any) -> None:
    """PyTorch's own outputs with NaN or infinite values on the check's images: the weights, not onnxruntime (whose
    NaN differences it was blamed for, or which passed a multi-person run's maps)."""
    bad = res.get("torch_nonfinite")
    if bad:
        raise _nonfinite_error(f"{path}: written, but", "the check's images", bad, model,
                               "onnxruntime could not be checked against them; ")


def _nonfinite_error(lead: str, inputs: str, bad: dict[str, int], model: Any, note: str = "") -> AdaAnchorError:
    """The error of a model whose PyTorch outputs on ``inputs`` hold ``bad`` (output -> count) NaN or infinite
    values, counting its non-finite weights; ``lead``: the file and whether it was written; ``note``: put before
    the advice."""
    n, total = nonfinite_weights(model)
    weights = f"{n} of the checkpoint's {total} weights are NaN or infinite" if n else "its weights are finite"
    counts = ", ".join(f"{k} {v}" for k, v in bad.items())
    return AdaAnchorError(f"{lead} the PyTorch model's own outputs are not finite on {inputs} (NaN or infinite "
                          f"values: {counts}; {weights}): diverged weights? {note}train again (lower train.lr, or "
                          "set train.grad_clip) or export another checkpoint (ckpt=PATH)")


__all__ = ["check_onnx_name", "default_onnx_path", "export_command"]
