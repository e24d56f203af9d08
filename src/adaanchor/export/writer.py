"""``export_onnx``: write model + decoding as one ONNX file, atomically, with the dynamo exporter or the
TorchScript fallback, validated and with its metadata."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import AdaAnchorError, write_failure
from ..safe_torch import first_line
from .exporters import DYNAMO_MIN_OPSET, export_dynamo, export_legacy
from .graph import DecodedGraph, HeadsGraph, graph_outputs, head_names
from .metadata import DOC_DECODED, DOC_HEADS, add_metadata, graph_metadata
from .runtime import need_onnx
from .validate import validate_file


def input_wh(input_size: Any, name: str = "input_size") -> tuple[int, int]:
    """``(W, H)`` of a network input, two whole numbers >= 1 (``(72.5, 96)`` was cut to 72, ``(0, 96)`` or ``72``
    failed inside PyTorch)."""
    ok = isinstance(input_size, Sequence) and not isinstance(input_size, str) and len(input_size) == 2
    vals = list(input_size) if ok else []
    if not ok or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() and v >= 1
                         for v in vals):
        raise AdaAnchorError(f"{name}: expected (W, H), two whole numbers of pixels >= 1, got {input_size!r}")
    return int(vals[0]), int(vals[1])


def _prepare_output(out: Path) -> None:
    """Create the output's folder and make sure a file can be written there (one-line errors)."""
    if out.is_dir():
        raise AdaAnchorError(f"{out}: is a folder; give the path of the .onnx file to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".probe", dir=out.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot write the ONNX file ({write_failure(e)})") from None


def _error_line(e: BaseException) -> str:
    return first_line(e)[:300]


def _opset_hint(e: BaseException) -> str:
    """For an operator that a later opset has: which ``--opset`` to ask for (the anchor strategies' refinement
    reads its map with GridSample, ONNX opset 16)."""
    version = getattr(e, "supported_version", None) or _added_in(str(e))
    return f". Export with --opset {version} or later (or no --opset)" if version else ""


def _added_in(text: str) -> int | None:
    marker = "added in version "
    if marker not in text:
        return None
    digits = text.split(marker, 1)[1][:3].split(",")[0].strip()
    return int(digits) if digits.isdigit() else None


def _write(graph: nn.Module, example: Tensor, tmp: Path, names: list[str], opset: int | None,
           exporter: str, spatial: int | None = None) -> tuple[str, str | None]:
    """Export and validate at ``tmp``: dynamo first (unless ``exporter`` or ``opset`` rule it out), then
    TorchScript. Returns the exporter used and why dynamo was not (or None)."""
    dynamo_error = None
    if opset is not None and int(opset) < DYNAMO_MIN_OPSET:
        if exporter == "dynamo":
            raise AdaAnchorError(f"opset {opset}: the dynamo exporter needs opset {DYNAMO_MIN_OPSET} or later")
        dynamo_error = f"opset {opset} < {DYNAMO_MIN_OPSET}, the dynamo exporter's lowest"
        exporter = "torchscript"
    if exporter in ("auto", "dynamo"):
        try:
            export_dynamo(graph, example, tmp, names, opset, spatial)
            validate_file(tmp, example, names, spatial)
            return "dynamo", None
        except Exception as e:  # noqa: BLE001 - any failure of the new exporter means: fall back
            dynamo_error = _error_line(e)
            if exporter == "dynamo":
                raise AdaAnchorError(f"dynamo ONNX export failed: {dynamo_error}") from None
    try:
        export_legacy(graph, example, tmp, names, opset, spatial)
        validate_file(tmp, example, names, spatial)
    except AdaAnchorError:
        raise
    except Exception as e:  # noqa: BLE001
        why = f" (dynamo: {dynamo_error})" if dynamo_error else ""
        line = _error_line(e).replace(f"Load model from {tmp} failed:", "").replace(str(tmp), "the graph").strip()
        line = line.split(" [Caused by ")[0]  # the traced value's dump (types, strides) says nothing to a user
        hint = _opset_hint(e)
        if not hint and opset is not None and "Unsupported" in line:
            # An operator this opset cannot express (Slice with inputs computed at run time needs opset 10).
            hint = f". Opset {opset} cannot express this model: export with a later --opset (13 or later), or none"
        if not hint and opset is not None and "onnxruntime" not in line and "Invalid" in line:
            # onnxruntime refused the written graph at this opset (the heatmap's Clip on int64 needs 13).
            hint = f". onnxruntime cannot run this graph at opset {opset}: export with a later --opset, or none"
        raise AdaAnchorError(f"ONNX export failed: {line}{why}{hint}") from None
    return "torchscript", dynamo_error


#: The opsets the exporters write: torch's lowest (TorchScript exporter) to its highest (dynamo exporter).
OPSET_RANGE = (7, 23)


def check_opset(opset: Any) -> None:
    """Refuse an opset outside :data:`OPSET_RANGE` (``--opset 0`` was read as no opset and wrote 17)."""
    lo, hi = OPSET_RANGE
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or not lo <= opset <= hi):
        raise AdaAnchorError(f"opset {opset!r}: the exporters write opsets {lo} to {hi} (the anchor strategies need "
                             "16 or later; no --opset: the dynamo exporter's default)")


def export_onnx(
    model: nn.Module,
    strategy: Any,
    out: str | Path,
    input_size: Sequence[int],
    opset: int | None = None,
    exporter: str = "auto",
    metadata: dict[str, str] | None = None,
    spatial_multiple: int | None = None,
) -> dict[str, Any]:
    """Export ``model`` (a float32 CPU copy in eval mode) and ``strategy.decode`` as one ONNX graph at ``out``
    (written to a temporary file in the same folder, then renamed: no half-written file is left behind).

    Args:
        input_size: ``(W, H)`` of the network input (fixed in the graph; the batch axis is dynamic).
        opset: ONNX opset; None = the dynamo exporter's default, or
            :data:`~adaanchor.export.exporters.LEGACY_OPSET` for the fallback.
        exporter: ``"auto"`` (dynamo, then TorchScript on failure), ``"dynamo"`` or ``"torchscript"``.
        metadata: extra ``metadata_props`` strings stored in the file.
        spatial_multiple: export the network alone with its head maps as outputs, for inputs of any height and
            width that are multiples of this (a multi-person run: its poses are grouped after the graph);
            None: the network and ``strategy.decode`` at ``input_size``.

    Returns:
        ``path``, ``size_bytes``, ``exporter`` (the one that produced the file), ``opset``, ``outputs``,
        ``input_shape`` and ``dynamo_error`` (why dynamo was not used, or None).
    """
    if exporter not in ("auto", "dynamo", "torchscript"):
        raise ValueError(f"exporter must be auto, dynamo or torchscript, got {exporter!r}")
    check_opset(opset)
    need_onnx()
    out = Path(out)
    _prepare_output(out)
    w, h = input_wh(input_size)
    model = copy.deepcopy(model).cpu().float().eval()  # the caller's model stays where it is
    graph, names, meta = _graph(model, strategy, (w, h), spatial_multiple, metadata)
    example = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))

    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp.onnx"
    try:
        used, dynamo_error = _write(graph, example, tmp, names, opset, exporter, spatial_multiple)
        used_opset = add_metadata(tmp, graph_metadata(strategy, (w, h), names, meta),
                                  DOC_HEADS if spatial_multiple else DOC_DECODED)
        os.replace(tmp, out)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot write the ONNX file ({e.strerror or e})") from None
    finally:
        if tmp.exists():
            tmp.unlink()
    return {
        "path": str(out),
        "size_bytes": out.stat().st_size,
        "exporter": used,
        "opset": used_opset,
        "outputs": names,
        "input_shape": ["batch", 3, "height", "width"] if spatial_multiple else ["batch", 3, h, w],
        "dynamo_error": dynamo_error,
    }


def _graph(model: nn.Module, strategy: Any, wh: tuple[int, int], spatial_multiple: int | None,
           metadata: dict[str, str] | None) -> tuple[nn.Module, list[str], dict[str, str]]:
    """The module to export (the network's head maps, or the network and the decode), its output names and the
    metadata strings to store."""
    if spatial_multiple:
        names = head_names(model, wh)
        meta = {**(metadata or {}), "adaanchor.spatial_multiple": str(int(spatial_multiple))}
        return HeadsGraph(model, names).eval(), names, meta
    names = graph_outputs(model, strategy, wh)
    return DecodedGraph(model, strategy, names).eval(), names, dict(metadata or {})


__all__ = ["export_onnx"]
