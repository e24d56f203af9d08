"""The few lines ``adaanchor export`` prints."""

from __future__ import annotations

import os
from typing import Any


def format_export_report(res: dict[str, Any]) -> str:
    """A few lines for the command line."""
    lines = [
        (f"wrote {res['path']} ({res['size_bytes'] / 2**20:.2f} MiB, {res.get('strategy', '')}, exporter "
         f"{res['exporter']}, opset {res['opset']})"),
        f"input image {res['input_shape']} float32 ImageNet-normalised; outputs {', '.join(res['outputs'])}",
    ]
    if res.get("spatial_multiple"):
        lines.append(f"a multi-person run ({res.get('task')}): the graph is the network, its head maps at any height "
                     f"and width that are multiples of {res['spatial_multiple']}; the poses are grouped after it "
                     "(adaanchor predict RUN ... --backend onnx does)")
    if res.get("flip_test"):  # the run's eval did it; the file alone does not
        lines.append("note: eval.flip_test=true is not in the graph (one forward pass): predict --backend onnx runs it "
                     "around the graph as the torch backend does; another runtime using the file alone does not")
    if res.get("dynamo_error"):
        lines.append(f"dynamo exporter not used: {res['dynamo_error']}")
    if "max_rel_diff_heads" in res:
        sizes = " and ".join(f"{w}x{h}" for w, h in res["check_sizes"])
        diffs = ", ".join(f"{k} {v:.2e}" for k, v in res["max_rel_diff_heads"].items())
        lines.append(f"check (onnxruntime vs PyTorch, head maps at {sizes}): max relative |diff| {diffs} -> "
                     f"{'OK' if res['check_ok'] else 'MISMATCH'}")
    elif "check_ok" in res:
        lines.append(f"check (onnxruntime vs PyTorch, batch {res['check_batch']}): max |diff| {diff_parts(res)}; "
                     f"near-ties skipped {res['ambiguous']} -> {'OK' if res['check_ok'] else 'MISMATCH'}")
    if "latency_ms_torch" in res:
        what = "network only" if "max_rel_diff_heads" in res else "network and decoding"
        lines.append(f"latency batch 1 on CPU ({res['threads']} threads, {what}): PyTorch {res['latency_ms_torch']:.2f} ms, "
                     f"onnxruntime {res['latency_ms_onnxruntime']:.2f} ms" + _busy(res.get("load_average")))
    return "\n".join(lines)


def diff_parts(res: dict[str, Any], fmt: str = ".2e") -> str:
    """``keypoints 1.20e-05 px, scores 3.00e-07, anchors 0.00e+00 px``: the outputs the graph has (a regression
    run's has no scores or anchors, which read "scores n/a, anchors n/a px")."""
    parts = [("keypoints", res.get("max_abs_diff_keypoints"), " px"), ("scores", res.get("max_abs_diff_scores"), ""),
             ("anchors", res.get("max_abs_diff_anchors"), " px")]
    return ", ".join(f"{name} {format(v, fmt)}{unit}" for name, v, unit in parts if v is not None)


def _busy(load: float | None) -> str:
    """A remark when other work ran while the latency was measured (a load average of at least half the CPUs this
    process may use): the times are then not the machine's own."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if load is None or load < 0.5 * cpus:
        return ""
    return (f" (measured while other work ran: load average {load:.1f} on {cpus} CPU(s); not this machine's idle "
            "times: measure again when it is idle)")


__all__ = ["format_export_report"]
