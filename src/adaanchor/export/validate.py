"""Structural validation of an exported file: the ONNX checker, onnxruntime loading, dynamic batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from torch import Tensor

from .runtime import need_onnx, session


def validate_file(path: Path, example: Tensor, names: list[str], spatial_multiple: int | None = None) -> None:
    """The file passes the ONNX checker, loads in onnxruntime and runs at two batch sizes with the right shapes
    (and, with ``spatial_multiple``, at a larger input whose maps grow with it)."""
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
    if spatial_multiple:
        m = int(spatial_multiple)
        x = np.zeros((1, 3, example.shape[2] + m, example.shape[3] + 2 * m), np.float32)
        small = sess.run(None, {"image": example[:1].numpy()})
        big = sess.run(None, {"image": x})
        if any(bg.shape[-1] <= sm.shape[-1] or bg.shape[-2] <= sm.shape[-2] for bg, sm in zip(big, small)):
            raise RuntimeError(f"a larger input gave output shapes {[r.shape for r in big]}")


__all__ = ["validate_file"]
