"""Structural validation of an exported file: the ONNX checker, onnxruntime loading, dynamic batch."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from .runtime import need_onnx, session


def validate_file(path: Path, example: Tensor, names: list[str]) -> None:
    """The file passes the ONNX checker, loads in onnxruntime and runs at two batch sizes with the right shapes."""
    onnx = need_onnx()
    onnx.checker.check_model(str(path))
    sess = session(path)
    got = [o.name for o in sess.get_outputs()]
    if got != names:
        raise RuntimeError(f"outputs {got}, expected {names}")
    for b in (1, example.shape[0] + 1):
        x = example[:1].expand(b, *example.shape[1:]).contiguous().numpy()
        res = sess.run(None, {"image": x})
        if any(r.shape[0] != b for r in res):
            raise RuntimeError(f"batch {b} gave output shapes {[r.shape for r in res]}")


__all__ = ["validate_file"]
