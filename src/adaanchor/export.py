"""ONNX export of a trained model together with its strategy's decoding, as one graph, and its check.

The graph (docs/export-and-visualize.md):

- input ``image``: float32 ``(B, 3, H, W)``, ImageNet-normalised (:func:`adaanchor.data.types.to_tensor_image`),
  ``(W, H)`` = the run's ``data.input_size``; the batch axis is dynamic, the spatial size is fixed;
- output ``keypoints``: float32 ``(B, K, 2)``, ``(x, y)`` in **input pixels** of the network input, pixel-centre
  convention (docs/conventions.md); map them to the original image with the inverse of the crop affine;
- output ``scores``: float32 ``(B, K)`` in [0, 1] (absent for ``regression``, which has no confidence);
- output ``anchors``: float32 ``(B, K, 2)``, the cell centre each keypoint was decoded from, input pixels
  (``fixanchor``, ``adaanchor``; for ``heatmap`` the argmax cell; absent for ``regression``).

The dynamo exporter (``torch.onnx.export(..., dynamo=True)``, needs onnxscript) is tried first; if it fails,
or its file does not load in onnxruntime, the TorchScript exporter is used instead. Which one ran is returned.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from .errors import AdaAnchorError

#: The TorchScript exporter's opset when none is asked for (the dynamo exporter uses its own default).
LEGACY_OPSET = 17
#: The dynamo exporter writes opset 18 or later (it cannot reliably convert down).
DYNAMO_MIN_OPSET = 18
#: Check tolerances: keypoints and anchors in input pixels, scores absolute.
KEYPOINT_ATOL = 1e-3
SCORE_ATOL = 1e-4
#: An argmax whose best and second-best values differ by less than this (relative to max(1, |best|)) is a
#: near-tie: onnxruntime and PyTorch differ by ~1e-6 in the maps (float32 summation order), enough to pick
#: different cells. Those keypoints are
#: counted in ``ambiguous`` and left out of the keypoint/anchor comparison.
TIE_EPS = 1e-5


def _need_onnx(runtime: bool = False) -> Any:
    try:
        import onnx
        if runtime:
            import onnxruntime
            return onnxruntime
        return onnx
    except ImportError as e:
        raise AdaAnchorError(f"ONNX export needs the export extras ({e.name} is missing): "
                             f"pip install 'adaanchor[export]'") from None


class DecodedGraph(nn.Module):
    """Model and decoding as one module: ``image (B,3,H,W) -> (keypoints, [scores], [anchors])``."""

    def __init__(self, model: nn.Module, strategy: Any, outputs: Sequence[str]):
        super().__init__()
        self.model = model
        self.strategy = strategy
        self.outputs = tuple(outputs)

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        d = self.strategy.decode(self.model(image))
        parts = {"keypoints": d.xy, "scores": d.score, "anchors": d.anchor}
        return tuple(parts[n].float() for n in self.outputs)


def graph_outputs(model: nn.Module, strategy: Any, input_size: Sequence[int]) -> list[str]:
    """The output names of the graph for this strategy (decided by a trial decode of one blank image)."""
    w, h = int(input_size[0]), int(input_size[1])
    with torch.no_grad():
        d = strategy.decode(model(torch.zeros(1, 3, h, w)))
    names = ["keypoints"]
    if d.score is not None:
        names.append("scores")
    if d.anchor is not None:
        names.append("anchors")
    return names


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
        raise AdaAnchorError(f"{out}: cannot write the ONNX file ({e.strerror or e})") from None


def _first_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return f"{type(e).__name__}: {lines[0] if lines else ''}"[:300]


def _session(path: str | Path, threads: int | None = None) -> Any:
    ort = _need_onnx(runtime=True)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _export_dynamo(graph: nn.Module, example: Tensor, path: Path, names: list[str], opset: int | None) -> None:
    batch = torch.export.Dim("batch", min=1, max=65536)
    kwargs: dict[str, Any] = {}
    if opset is not None:
        kwargs["opset_version"] = int(opset)
    # The dynamo exporter reports its progress on stdout and its fallbacks through logging: keep the command
    # line quiet (a failure still raises, and its first line is reported).
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings(), _quiet_loggers("torch.onnx", "onnxscript"):
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (example,), str(path), dynamo=True, input_names=["image"], output_names=names,
                          dynamic_shapes={"image": {0: batch}}, external_data=False, verbose=False, **kwargs)
    if opset is not None and _file_opset(path) != int(opset):
        raise RuntimeError(f"asked for opset {opset}, the dynamo exporter wrote opset {_file_opset(path)}")


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


def _file_opset(path: Path) -> int:
    onnx = _need_onnx()
    m = onnx.load(str(path), load_external_data=False)
    return next((int(o.version) for o in m.opset_import if o.domain in ("", "ai.onnx")), -1)


def _export_legacy(graph: nn.Module, example: Tensor, path: Path, names: list[str], opset: int | None) -> None:
    axes = {n: {0: "batch"} for n in ["image", *names]}
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (example,), str(path), dynamo=False, input_names=["image"], output_names=names,
                          dynamic_axes=axes, opset_version=int(opset or LEGACY_OPSET), do_constant_folding=True)


def _validate(path: Path, example: Tensor, names: list[str]) -> None:
    """The file passes the ONNX checker, loads in onnxruntime and runs at two batch sizes with the right shapes."""
    onnx = _need_onnx()
    onnx.checker.check_model(str(path))
    sess = _session(path)
    got = [o.name for o in sess.get_outputs()]
    if got != names:
        raise RuntimeError(f"outputs {got}, expected {names}")
    for b in (1, example.shape[0] + 1):
        x = example[:1].expand(b, *example.shape[1:]).contiguous().numpy()
        res = sess.run(None, {"image": x})
        if any(r.shape[0] != b for r in res):
            raise RuntimeError(f"batch {b} gave output shapes {[r.shape for r in res]}")


def _add_metadata(path: Path, meta: dict[str, str]) -> int:
    """Write ``meta`` into the model's metadata_props; returns the model's default-domain opset."""
    onnx = _need_onnx()
    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.doc_string = ("adaanchor keypoint model with decoding: image (B,3,H,W) ImageNet-normalised -> keypoints (B,K,2) "
                    "input pixels (pixel centres at integers), scores (B,K), anchors (B,K,2)")
    onnx.save(m, str(path))
    return next((int(o.version) for o in m.opset_import if o.domain in ("", "ai.onnx")), -1)


def export_onnx(
    model: nn.Module,
    strategy: Any,
    out: str | Path,
    input_size: Sequence[int],
    opset: int | None = None,
    exporter: str = "auto",
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Export ``model`` (a float32 CPU copy in eval mode) and ``strategy.decode`` as one ONNX graph at ``out``
    (written to a temporary file in the same folder, then renamed: no half-written file is left behind).

    Args:
        input_size: ``(W, H)`` of the network input (fixed in the graph; the batch axis is dynamic).
        opset: ONNX opset; None = the dynamo exporter's default, or :data:`LEGACY_OPSET` for the fallback.
        exporter: ``"auto"`` (dynamo, then TorchScript on failure), ``"dynamo"`` or ``"torchscript"``.
        metadata: extra ``metadata_props`` strings stored in the file.

    Returns:
        ``path``, ``size_bytes``, ``exporter`` (the one that produced the file), ``opset``, ``outputs``,
        ``input_shape`` and ``dynamo_error`` (why dynamo was not used, or None).
    """
    if exporter not in ("auto", "dynamo", "torchscript"):
        raise ValueError(f"exporter must be auto, dynamo or torchscript, got {exporter!r}")
    _need_onnx()
    out = Path(out)
    _prepare_output(out)
    model = copy.deepcopy(model).cpu().float().eval()  # the caller's model stays where it is
    w, h = int(input_size[0]), int(input_size[1])
    names = graph_outputs(model, strategy, (w, h))
    graph = DecodedGraph(model, strategy, names).eval()
    example = torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))

    tmp = out.parent / f".{out.name}.{os.getpid()}.tmp.onnx"
    used, dynamo_error = None, None
    if opset is not None and int(opset) < DYNAMO_MIN_OPSET:
        if exporter == "dynamo":
            raise AdaAnchorError(f"opset {opset}: the dynamo exporter needs opset {DYNAMO_MIN_OPSET} or later")
        dynamo_error = f"opset {opset} < {DYNAMO_MIN_OPSET}, the dynamo exporter's lowest"
        exporter = "torchscript"
    try:
        if exporter in ("auto", "dynamo"):
            try:
                _export_dynamo(graph, example, tmp, names, opset)
                _validate(tmp, example, names)
                used = "dynamo"
            except Exception as e:  # noqa: BLE001 - any failure of the new exporter means: fall back
                dynamo_error = _first_line(e)
                if exporter == "dynamo":
                    raise AdaAnchorError(f"dynamo ONNX export failed: {dynamo_error}") from None
        if used is None:
            try:
                _export_legacy(graph, example, tmp, names, opset)
                _validate(tmp, example, names)
            except AdaAnchorError:
                raise
            except Exception as e:  # noqa: BLE001
                why = f" (dynamo: {dynamo_error})" if dynamo_error else ""
                raise AdaAnchorError(f"ONNX export failed: {_first_line(e)}{why}") from None
            used = "torchscript"
        meta = {
            "adaanchor.strategy": str(getattr(strategy, "name", "")),
            "adaanchor.input_size": f"{w},{h}",
            "adaanchor.stride": str(int(getattr(strategy, "stride", 0))),
            "adaanchor.outputs": ",".join(names),
            "adaanchor.normalization": "imagenet mean/std on RGB in [0, 1]",
            "adaanchor.coordinates": "input pixels, pixel centres at integer coordinates",
            **(metadata or {}),
        }
        used_opset = _add_metadata(tmp, meta)
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
        "input_shape": ["batch", 3, h, w],
        "dynamo_error": dynamo_error,
    }


# ---- check --------------------------------------------------------------------------------------------------

def check_images(batch: int, input_size: Sequence[int], seed: int = 0) -> Tensor:
    """A batch of image-like inputs (smooth random colour fields plus noise, ImageNet-normalised): unlike white
    noise they give the network spatially varying, image-like activations."""
    import cv2

    from .data.types import to_tensor_image

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
    amb = (top.values[..., 0] - top.values[..., -1] < eps * scale) if h * w > 1 else torch.zeros_like(best, dtype=torch.bool)
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


def _median_ms(fns: Sequence[Any], runs: int, warmup: int = 3) -> list[float]:
    """Median wall time (ms) of each of ``fns``, run interleaved so that load from other processes hits all alike."""
    for _ in range(warmup):
        for fn in fns:
            fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(runs):
        for fn, t in zip(fns, times):
            t0 = time.perf_counter()
            fn()
            t.append((time.perf_counter() - t0) * 1000.0)
    return [float(statistics.median(t)) for t in times]


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
    two tied cells is picked). Latency: batch 1, median of ``latency_runs`` runs after 3 warm-up runs, both on
    CPU with ``torch.get_num_threads()`` threads.

    Returns:
        ``max_abs_diff_keypoints`` (px), ``max_abs_diff_keypoints_all`` (near-ties included),
        ``max_abs_diff_scores``, ``max_abs_diff_anchors`` (px, or None), ``ambiguous``, ``compared``,
        ``check_batch``, ``check_ok``, ``latency_ms_torch``, ``latency_ms_onnxruntime``, ``threads``.
    """
    model = copy.deepcopy(model).cpu().float().eval()
    threads = torch.get_num_threads()
    sess = _session(path, threads)
    names = [o.name for o in sess.get_outputs()]
    x = check_images(batch, input_size, seed)
    got = dict(zip(names, sess.run(None, {"image": x.numpy()})))
    with torch.no_grad():
        raw = model(x)
        dec = strategy.decode(raw)
    ref = {"keypoints": dec.xy, "scores": dec.score, "anchors": dec.anchor}
    amb = ambiguous_keypoints(raw, strategy).numpy()
    keep = ~amb

    def diff(name: str, mask: np.ndarray | None) -> float | None:
        if name not in got or ref[name] is None:
            return None
        d = np.abs(got[name].astype(np.float64) - ref[name].float().numpy().astype(np.float64))
        if d.ndim == 3:
            d = d.max(-1)
        d = d[mask] if mask is not None else d
        return float(d.max()) if d.size else 0.0

    res: dict[str, Any] = {
        "check_batch": int(batch),
        "max_abs_diff_keypoints": diff("keypoints", keep),
        "max_abs_diff_keypoints_all": diff("keypoints", None),
        "max_abs_diff_scores": diff("scores", None),
        "max_abs_diff_anchors": diff("anchors", keep),
        "ambiguous": int(amb.sum()),
        "compared": int(keep.sum()),
    }
    ok = res["max_abs_diff_keypoints"] <= KEYPOINT_ATOL
    ok &= res["max_abs_diff_scores"] is None or res["max_abs_diff_scores"] <= SCORE_ATOL
    ok &= res["max_abs_diff_anchors"] is None or res["max_abs_diff_anchors"] <= KEYPOINT_ATOL
    res["check_ok"] = bool(ok)

    x1 = x[:1].contiguous()
    x1_np = x1.numpy()

    def run_torch() -> None:
        with torch.inference_mode():
            strategy.decode(model(x1))

    res["latency_ms_torch"], res["latency_ms_onnxruntime"] = _median_ms(
        [run_torch, lambda: sess.run(None, {"image": x1_np})], latency_runs)
    res["threads"] = threads
    return res


# ---- command --------------------------------------------------------------------------------------------------

def export_command(run: str, out: str, overrides: list[str] | Sequence[str] = (), ckpt: str | None = None,
                   opset: int | None = None, check: bool = True) -> dict[str, Any]:
    """``adaanchor export RUN OUT.onnx [ckpt=PATH] [key=value ...] [--opset N] [--no-check]``.

    ``run`` is a run directory (its ``best.pt``, else ``last.pt``) or a config file (then ``ckpt=PATH`` or
    ``model.weights`` must give the weights). Returns :func:`export_onnx`'s dict, plus ``strategy``,
    ``checkpoint``, ``size_mb``, ``keypoint_names`` and, with ``check``, :func:`check_onnx`'s dict.

    Raises:
        AdaAnchorError: bad run path, missing or mismatched checkpoint, output not writable, export failure,
            or (with ``check``) onnxruntime disagreeing with PyTorch beyond the tolerances.
    """
    from .data.spec import load_spec
    from .engine.run import load_for_eval, resolve_run

    _need_onnx(runtime=check)
    cfg, ckpt_path = resolve_run(run, ckpt, list(overrides))
    if ckpt_path is None and not cfg.model.weights:
        raise AdaAnchorError(f"{run}: no checkpoint found (checkpoints/best.pt or last.pt); pass ckpt=PATH")
    model, strategy, info = load_for_eval(cfg, ckpt_path)
    spec = load_spec(cfg.data.spec)
    input_size = (int(cfg.data.input_size[0]), int(cfg.data.input_size[1]))
    meta = {"adaanchor.keypoints": ",".join(spec.keypoints),
            # the file name and step only: a model file should not carry the local folder layout
            "adaanchor.checkpoint": f"{Path(str(info['checkpoint'] or cfg.model.weights)).name} "
                                    f"(step {info.get('step', -1)})"}
    res = export_onnx(model, strategy, out, input_size, opset=opset, metadata=meta)
    res.update({"strategy": strategy.name, "checkpoint": info["checkpoint"], "size_mb": res["size_bytes"] / 2**20,
                "keypoint_names": list(spec.keypoints)})
    if check:
        res.update(check_onnx(res["path"], model, strategy, input_size))
        if not res["check_ok"]:
            raise AdaAnchorError(
                f"{res['path']}: written, but onnxruntime disagrees with PyTorch: max |diff| keypoints "
                f"{res['max_abs_diff_keypoints']:.3g} px (tolerance {KEYPOINT_ATOL}), scores "
                f"{res['max_abs_diff_scores']}, anchors {res['max_abs_diff_anchors']}")
    return res


def format_export_report(res: dict[str, Any]) -> str:
    """A few lines for the command line."""
    lines = [
        (f"wrote {res['path']} ({res['size_bytes'] / 2**20:.2f} MiB, {res.get('strategy', '')}, exporter "
         f"{res['exporter']}, opset {res['opset']})"),
        f"input image {res['input_shape']} float32 ImageNet-normalised; outputs {', '.join(res['outputs'])}",
    ]
    if res.get("dynamo_error"):
        lines.append(f"dynamo exporter not used: {res['dynamo_error']}")
    if "check_ok" in res:
        def f(v: Any) -> str:
            return "n/a" if v is None else f"{v:.2e}"
        lines.append(
            f"check (onnxruntime vs PyTorch, batch {res['check_batch']}): max |diff| keypoints "
            f"{f(res['max_abs_diff_keypoints'])} px, scores {f(res['max_abs_diff_scores'])}, anchors "
            f"{f(res['max_abs_diff_anchors'])} px; near-ties skipped {res['ambiguous']} -> "
            f"{'OK' if res['check_ok'] else 'MISMATCH'}")
        lines.append(f"latency batch 1 on CPU ({res['threads']} threads): PyTorch {res['latency_ms_torch']:.2f} ms, "
                     f"onnxruntime {res['latency_ms_onnxruntime']:.2f} ms")
    return "\n".join(lines)


__all__ = [
    "DecodedGraph",
    "ambiguous_keypoints",
    "check_images",
    "check_onnx",
    "export_command",
    "export_onnx",
    "format_export_report",
    "graph_outputs",
]
