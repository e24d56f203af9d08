"""Comparing a multi-person run's exported network (its head maps) in onnxruntime with PyTorch, at two input
sizes: the graph's height and width are dynamic, so both are checked."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .check import check_images, load_average, nonfinite_outputs
from .runtime import session
from .timing import median_ms

#: Largest ``|onnxruntime - PyTorch|`` of a head map, relative to ``max(1, max |PyTorch map|)``: float32 sums in
#: another order differ by about 1e-6.
HEAD_RTOL = 1e-4


def check_heads_onnx(path: str | Path, model: nn.Module, input_size: Sequence[int], multiple: int, seed: int = 0,
                     latency_runs: int = 20) -> dict[str, Any]:
    """Run the head-map graph at ``path`` and ``model`` on the same image-like input at ``input_size`` ``(W, H)``
    and at one ``multiple`` taller and two wider, and compare every head map.

    Returns:
        ``check_sizes`` (``[[W, H], ...]``), ``max_rel_diff_heads`` (head -> the largest relative difference over
        both sizes; infinite where a NaN is), ``check_ok``, ``threads``, ``torch_nonfinite`` (only when PyTorch's own
        maps hold NaN or infinite values: head -> count; ``check_ok`` is then False) and, with ``latency_runs`` > 0, ``latency_ms_torch`` and
        ``latency_ms_onnxruntime`` (batch 1 at ``input_size``, network only in both).
    """
    model = copy.deepcopy(model).cpu().float().eval()
    threads = torch.get_num_threads()
    sess = session(path, threads)
    names = [o.name for o in sess.get_outputs()]
    w, h, m = int(input_size[0]), int(input_size[1]), int(multiple)
    sizes = [[w, h], [w + 2 * m, h + m]]
    worst = dict.fromkeys(names, 0.0)
    torch_bad: dict[str, int] = {}
    for size in sizes:
        x = check_images(1, size, seed)
        got = sess.run(None, {"image": x.numpy()})
        with torch.no_grad():
            ref = model(x)
        for name, n in nonfinite_outputs(dict(ref)).items():
            torch_bad[name] = torch_bad.get(name, 0) + n
        for name, g in zip(names, got):
            r = ref[name].float().numpy()
            if g.shape != r.shape:
                worst[name] = float("inf")
                continue
            d = float(np.abs(g.astype(np.float64) - r).max()) / max(1.0, float(np.abs(r).max()))
            worst[name] = max(worst[name], d) if np.isfinite(d) else float("inf")  # max(0.0, nan) was 0.0: OK
    res: dict[str, Any] = {"check_sizes": sizes, "max_rel_diff_heads": worst,
                           "check_ok": all(v <= HEAD_RTOL for v in worst.values()) and not torch_bad,
                           "threads": threads}
    if torch_bad:
        res["torch_nonfinite"] = torch_bad
    if latency_runs > 0:
        x1 = check_images(1, sizes[0], seed)
        x1_np = x1.numpy()

        def run_torch() -> None:
            with torch.inference_mode():
                model(x1)

        res["load_average"] = load_average()
        res["latency_ms_torch"], res["latency_ms_onnxruntime"] = median_ms(
            [run_torch, lambda: sess.run(None, {"image": x1_np})], latency_runs)
    return res


__all__ = ["HEAD_RTOL", "check_heads_onnx"]
