"""The two exporters: dynamo (``torch.onnx.export(..., dynamo=True)``, needs onnxscript) and TorchScript."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .runtime import file_opset

#: The TorchScript exporter's opset when none is asked for (the dynamo exporter uses its own default).
LEGACY_OPSET = 17
#: The dynamo exporter writes opset 18 or later (it cannot reliably convert down).
DYNAMO_MIN_OPSET = 18


def export_dynamo(graph: nn.Module, example: Tensor, path: Path, names: list[str], opset: int | None,
                  spatial_multiple: int | None = None) -> None:
    """Export ``graph`` at ``path`` with the dynamo exporter, batch axis dynamic (and height and width, any
    multiple of ``spatial_multiple``, when it is given); raises on any failure."""
    batch = torch.export.Dim("batch", min=1, max=65536)
    axes: dict[int, Any] = {0: batch}
    if spatial_multiple:
        m = int(spatial_multiple)
        # Sizes as multiples of m: the backbone's strides divide them exactly, so the export needs no guards.
        axes[2] = m * torch.export.Dim("height_blocks", min=1, max=16384 // m)
        axes[3] = m * torch.export.Dim("width_blocks", min=1, max=16384 // m)
    kwargs: dict[str, Any] = {}
    if opset is not None:
        kwargs["opset_version"] = int(opset)
    # The dynamo exporter reports its progress on stdout and its fallbacks through logging: keep the command
    # line quiet (a failure still raises, and its first line is reported).
    quiet = _quiet_loggers("torch.onnx", "onnxscript")
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), quiet:
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (example,), str(path), dynamo=True, input_names=["image"], output_names=names,
                          dynamic_shapes={"image": axes}, external_data=False, verbose=False, **kwargs)
    if opset is not None and file_opset(path) != int(opset):
        raise RuntimeError(f"asked for opset {opset}, the dynamo exporter wrote opset {file_opset(path)}")


@contextlib.contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)


def export_legacy(graph: nn.Module, example: Tensor, path: Path, names: list[str], opset: int | None,
                  spatial_multiple: int | None = None) -> None:
    """Export ``graph`` at ``path`` with the TorchScript exporter (opset :data:`LEGACY_OPSET` by default)."""
    dims = {0: "batch", 2: "height", 3: "width"} if spatial_multiple else {0: "batch"}
    axes = {"image": dims, **{n: {0: "batch", 2: "map_height", 3: "map_width"} if spatial_multiple else {0: "batch"}
                              for n in names}}
    with contextlib.redirect_stdout(io.StringIO()), _silent_stdout_fd(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (example,), str(path), dynamo=False, input_names=["image"], output_names=names,
                          dynamic_axes=axes, opset_version=int(opset or LEGACY_OPSET), do_constant_folding=True)



@contextlib.contextmanager
def _silent_stdout_fd() -> Iterator[None]:
    """Discard what is written to file descriptor 1 inside the block: on an unsupported operator the TorchScript
    exporter prints the whole graph (hundreds of lines of IR) from C++, past ``sys.stdout``, before it raises."""
    try:
        fd = sys.__stdout__.fileno() if sys.__stdout__ is not None else 1
        saved = os.dup(fd)
    except (OSError, ValueError, io.UnsupportedOperation):  # no real stdout (an embedding host): nothing to hide
        yield
        return
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), fd)
            try:
                yield
            finally:
                os.dup2(saved, fd)
    finally:
        os.close(saved)


__all__ = ["LEGACY_OPSET", "DYNAMO_MIN_OPSET", "export_dynamo", "export_legacy"]
