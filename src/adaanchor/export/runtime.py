"""The optional ONNX dependencies: a clear error when they are missing, and a quiet CPU onnxruntime session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError


def need_onnx(runtime: bool = False) -> Any:
    """The ``onnx`` module (``onnxruntime`` with ``runtime``); a one-line error naming the missing extra."""
    try:
        import onnx
        if runtime:
            import onnxruntime
            return onnxruntime
        return onnx
    except ImportError as e:
        raise AdaAnchorError(f"ONNX export and the onnx backend need the export extras ({e.name} is missing): "
                             f"pip install 'adaanchor[export]'") from None


def session(path: str | Path, threads: int | None = None, cuda: bool = False, spin: bool = True) -> Any:
    """A quiet onnxruntime session of ``path`` on the CPU (``threads``: intra-op threads, default onnxruntime's).

    ``cuda``: CUDA first when its provider exists. ``spin=False``: the worker threads sleep as soon as a run ends,
    for a session whose outputs PyTorch works on next (they otherwise busy-wait for the next run and take the cores
    from PyTorch's)."""
    ort = need_onnx(runtime=True)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    if not spin:
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = ["CPUExecutionProvider"]
    if cuda and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(str(path), so, providers=providers)


def file_opset(path: str | Path) -> int:
    """The default-domain opset of an ONNX file (-1 when it has none)."""
    onnx = need_onnx()
    m = onnx.load(str(path), load_external_data=False)
    return model_opset(m)


def model_opset(m: Any) -> int:
    """The default-domain opset of a loaded ``onnx.ModelProto`` (-1 when it has none)."""
    return next((int(o.version) for o in m.opset_import if o.domain in ("", "ai.onnx")), -1)


__all__ = ["need_onnx", "session", "file_opset", "model_opset"]
