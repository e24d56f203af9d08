"""Comparing the ONNX file in onnxruntime with PyTorch on image-like inputs, near-ties set apart."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .runtime import session
from .timing import median_ms

#: Check tolerances: keypoints and anchors in input pixels, scores absolute.
KEYPOINT_ATOL = 1e-3
SCORE_ATOL = 1e-4
#: An argmax whose best and second-best values differ by less than this (relative to max(1, |best|)) is a
#: near-tie: onnxruntime and PyTorch differ by ~1e-6 in the maps (float32 summation order), enough to pick
#: different cells. Those keypoints are
#: counted in ``ambiguous`` and left out of the keypoint/anchor comparison.
TIE_EPS = 1e-5


def check_images(batch: int, input_size: Sequence[int], seed: int = 0) -> Tensor:
    """A batch of image-like inputs (smooth random colour fields plus noise, ImageNet-normalised): unlike white
    noise they give the network spatially varying, image-like activations."""
    import cv2

    from ..data.types import to_tensor_image

    w, h = int(input_size[0]), int(input_size[1])
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(batch):
        coarse = rng.uniform(0, 255, size=(max(2, h // 12), max(2, w // 12), 3)).astype(np.float32)
        img = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 12, size=(h, w, 3))
        out.append(to_tensor_image(np.clip(img, 0, 255).astype(np.uint8)))
    return torch.stack(out)


def ambiguous_keypoints(outputs: dict[str, Tensor], strategy: Any, eps: float = TIE_EPS) -> Tensor:
    """``(B, K)`` bool: keypoints whose decoding hinges on a near-tie (see :data:`TIE_EPS`).

    Anchor strategies: the best and second-best confidence logits. Heatmap: the same for the heatmap, and the
    two neighbour pairs whose sign picks the quarter-cell shift. Regression: none.
    """
    name = getattr(strategy, "name", "")
    key = "heatmap" if name == "heatmap" else "conf" if "conf" in outputs else None
    if key is None:
        c = next(iter(outputs.values()))
        return torch.zeros(c.shape[0], strategy.num_keypoints, dtype=torch.bool)
    m = outputs[key].float()
    b, k, h, w = m.shape
    flat = m.reshape(b, k, h * w)
    top = flat.topk(min(2, h * w), dim=-1)
    best = top.values[..., 0]
    scale = best.abs().clamp(min=1.0)
    if h * w > 1:
        amb = top.values[..., 0] - top.values[..., -1] < eps * scale
    else:
        amb = torch.zeros_like(best, dtype=torch.bool)
    if key == "heatmap":
        idx = top.indices[..., 0]
        px, py = idx % w, idx // w

        def at(yy: Tensor, xx: Tensor) -> Tensor:
            lin = yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1)
            return torch.gather(flat, 2, lin.unsqueeze(-1))[..., 0]

        dx = (at(py, px + 1) - at(py, px - 1)).abs()
        dy = (at(py + 1, px) - at(py - 1, px)).abs()
        amb |= (dx < eps * scale) & (px > 0) & (px < w - 1)
        amb |= (dy < eps * scale) & (py > 0) & (py < h - 1)
    return amb


def nonfinite_outputs(outputs: dict[str, Any]) -> dict[str, int]:
    """``name -> count`` of the NaN or infinite values in each floating-point tensor of ``outputs`` that has any: a
    model whose own outputs are not finite (diverged weights) cannot be checked, and its NaN differences were
    reported as onnxruntime's disagreement, or as 0 (a multi-person run's maps: OK)."""
    out = {}
    for name, v in outputs.items():
        if isinstance(v, Tensor) and v.is_floating_point():
            n = int((~torch.isfinite(v)).sum())
            if n:
                out[name] = n
    return out


def torch_nonfinite(model: nn.Module, input_size: Sequence[int], seed: int = 0) -> dict[str, int]:
    """:func:`nonfinite_outputs` of one PyTorch forward of ``model`` (a float32 CPU copy in eval mode) on one
    image-like input at ``input_size`` ``(W, H)``: the finite check that ``export --no-check`` still makes (a
    fraction of a second; no onnxruntime)."""
    model = copy.deepcopy(model).cpu().float().eval()
    with torch.no_grad():
        return nonfinite_outputs(dict(model(check_images(1, input_size, seed))))


def nonfinite_weights(model: nn.Module) -> tuple[int, int]:
    """``(non-finite, all)`` floating-point values of the model's parameters and buffers."""
    bad = total = 0
    for v in model.state_dict().values():
        if v.is_floating_point():
            bad += int((~torch.isfinite(v)).sum())
            total += v.numel()
    return bad, total


def _max_diff(got: dict[str, np.ndarray], ref: dict[str, Tensor | None], name: str,
              mask: np.ndarray | None) -> float | None:
    """Largest ``|onnxruntime - PyTorch|`` of output ``name`` (per keypoint: the larger of x and y) where
    ``mask`` ``(B, K)`` holds; None when the output does not exist."""
    if name not in got or ref[name] is None:
        return None
    d = np.abs(got[name].astype(np.float64) - ref[name].float().numpy().astype(np.float64))
    if d.ndim == 3:
        d = d.max(-1)
    d = d[mask] if mask is not None else d
    return float(d.max()) if d.size else 0.0


def _open(path: str | Path, threads: int) -> Any:
    """An onnxruntime session of ``path``, or one line naming the file (onnxruntime raises its own NoSuchFile and
    InvalidProtobuf exceptions)."""
    from ..errors import AdaAnchorError

    if not Path(path).is_file():
        raise AdaAnchorError(f"{path}: no such ONNX file")
    try:
        return session(path, threads)
    except Exception as e:  # noqa: BLE001 - onnxruntime's exception classes are not importable by name
        raise AdaAnchorError(f"{path}: not a readable ONNX file ({type(e).__name__}: "
                             f"{str(e).strip().splitlines()[0][:200] if str(e).strip() else ''})") from None


def _open_single(path: str | Path, threads: int, w: int, h: int) -> Any:
    """An onnxruntime session of a single-person graph that takes ``w`` x ``h`` images (else an error)."""
    from ..errors import AdaAnchorError

    sess = _open(path, threads)
    if "adaanchor.spatial_multiple" in sess.get_modelmeta().custom_metadata_map:  # a TypeError deep inside before
        raise AdaAnchorError(f"{path}: a multi-person run's network (its head maps, no decoding): check it with "
                             "adaanchor.export.check_heads_onnx")
    shape = sess.get_inputs()[0].shape  # [batch, 3, H, W]; H and W are names where the graph takes any size
    if all(isinstance(v, int) for v in shape[2:]) and tuple(shape[2:]) != (h, w):
        raise AdaAnchorError(f"{path}: the graph takes {shape[3]}x{shape[2]} (W x H) images, input_size is {w}x{h}")
    return sess


def check_onnx(
    path: str | Path,
    model: nn.Module,
    strategy: Any,
    input_size: Sequence[int],
    batch: int = 2,
    seed: int = 0,
    latency_runs: int = 20,
) -> dict[str, Any]:
    """Run the ONNX file in onnxruntime (CPU) and PyTorch on the same image-like batch and compare.

    Keypoints and anchors are compared where the argmax is not a near-tie (:func:`ambiguous_keypoints`; the
    count of the others is ``ambiguous``), scores everywhere (a maximum's value does not depend on which of
    two tied cells is picked). Latency (with ``latency_runs`` > 0): batch 1, median of ``latency_runs`` runs
    after 3 warm-up runs, both on CPU with ``torch.get_num_threads()`` threads.

    Returns:
        ``max_abs_diff_keypoints`` (px), ``max_abs_diff_keypoints_all`` (near-ties included),
        ``max_abs_diff_scores``, ``max_abs_diff_anchors`` (px, or None), ``ambiguous``, ``compared``,
        ``check_batch``, ``check_ok``, ``threads``, ``torch_nonfinite`` (only when PyTorch's own outputs hold NaN
        or infinite values: output -> count; ``check_ok`` is then False) and, with ``latency_runs`` > 0, ``latency_ms_torch`` and
        ``latency_ms_onnxruntime``.
    """
    from ..errors import AdaAnchorError
    from .writer import input_wh

    w, h = input_wh(input_size)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise AdaAnchorError(f"batch: expected a whole number >= 1, got {batch!r}")
    model = copy.deepcopy(model).cpu().float().eval()
    threads = torch.get_num_threads()
    sess = _open_single(path, threads, w, h)
    names = [o.name for o in sess.get_outputs()]
    x = check_images(batch, (w, h), seed)
    got = dict(zip(names, sess.run(None, {"image": x.numpy()})))
    with torch.no_grad():
        raw = model(x)
        dec = strategy.decode(raw)
    ref = {"keypoints": dec.xy, "scores": dec.score, "anchors": dec.anchor}
    torch_bad = nonfinite_outputs(raw)
    amb = ambiguous_keypoints(raw, strategy).numpy()
    keep = ~amb

    res: dict[str, Any] = {
        "check_batch": int(batch),
        "max_abs_diff_keypoints": _max_diff(got, ref, "keypoints", keep),
        "max_abs_diff_keypoints_all": _max_diff(got, ref, "keypoints", None),
        "max_abs_diff_scores": _max_diff(got, ref, "scores", None),
        "max_abs_diff_anchors": _max_diff(got, ref, "anchors", keep),
        "ambiguous": int(amb.sum()),
        "compared": int(keep.sum()),
    }
    if torch_bad:
        res["torch_nonfinite"] = torch_bad
    ok = res["max_abs_diff_keypoints"] <= KEYPOINT_ATOL and not torch_bad
    ok &= res["max_abs_diff_scores"] is None or res["max_abs_diff_scores"] <= SCORE_ATOL
    ok &= res["max_abs_diff_anchors"] is None or res["max_abs_diff_anchors"] <= KEYPOINT_ATOL
    res["check_ok"] = bool(ok)
    res["threads"] = threads
    if latency_runs > 0:
        res["load_average"] = load_average()
        res["latency_ms_torch"], res["latency_ms_onnxruntime"] = latency_ms(sess, model, strategy, x[:1], latency_runs)
    return res


def load_average() -> float | None:
    """The 1-minute load average before a latency is measured (None where the system has none): the report says
    when other work was running, as times measured beside a training were 240-330 times the idle ones, unmarked."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def latency_ms(sess: Any, model: nn.Module, strategy: Any, x1: Tensor, runs: int) -> list[float]:
    """Median ms of PyTorch (model + decode) and onnxruntime on the same ``(1, 3, H, W)`` input."""
    x1 = x1.contiguous()
    x1_np = x1.numpy()

    def run_torch() -> None:
        with torch.inference_mode():
            strategy.predict(model, x1)

    return median_ms([run_torch, lambda: sess.run(None, {"image": x1_np})], runs)


__all__ = ["KEYPOINT_ATOL", "SCORE_ATOL", "TIE_EPS", "ambiguous_keypoints", "check_images", "check_onnx", "latency_ms", "load_average",
           "nonfinite_outputs", "nonfinite_weights", "torch_nonfinite"]
