"""Run a batch of model inputs through PyTorch or through the exported ONNX graph in onnxruntime.

Both backends take ``(B, 3, H, W)`` float32 ImageNet-normalised inputs and return the decoded graph
outputs of :mod:`adaanchor.export`: ``keypoints (B, K, 2)`` in input pixels, ``scores (B, K)`` and
``anchors (B, K, 2)`` when the strategy has them, as numpy arrays.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import AdaAnchorError


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"``: the first CUDA device when there is one, else the CPU."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):  # torch's message lists its twenty device types
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda"):  # mps, xla, meta, ... failed later inside the model
        raise AdaAnchorError(f"device {device!r}: expected auto, cpu, cuda or cuda:N")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise AdaAnchorError(f"device {device!r}: CUDA is not available on this machine (choose cpu, or auto)")
    return dev


class TorchBackend:
    """The model and its strategy's decoding in PyTorch (inference mode)."""

    name = "torch"

    def __init__(self, model: nn.Module, strategy: Any, device: torch.device):
        self.model, self.strategy, self.device = model.eval(), strategy, device

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        with torch.inference_mode():
            d = self.strategy.predict(self.model, torch.from_numpy(x).to(self.device, non_blocking=True))
        out = {"keypoints": d.xy.float().cpu().numpy()}
        if d.score is not None:
            out["scores"] = d.score.float().cpu().numpy()
        if d.anchor is not None:
            out["anchors"] = d.anchor.float().cpu().numpy()
        return out


def open_session(path: str | Path, device: torch.device, threads: int | None, spin: bool = True) -> Any:
    """:func:`adaanchor.export.runtime.session` with torch's thread count by default, CUDA when ``device`` is, and
    a one-line error for a file onnxruntime cannot load."""
    from ..export.runtime import session

    try:
        return session(path, int(threads or torch.get_num_threads()), cuda=device.type == "cuda", spin=spin)
    except AdaAnchorError:
        raise  # onnxruntime is missing: the error names the extra to install
    except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise AdaAnchorError(f"{path}: cannot load the ONNX model ({str(e).splitlines()[0][:200]})") from None


class OnnxBackend:
    """The exported graph (model + decoding) in onnxruntime, on the CPU (or CUDA when its provider exists)."""

    name = "onnx"

    def __init__(self, path: str | Path, input_size: tuple[int, int], device: torch.device, threads: int | None = None,
                 strategy: str | None = None, keypoints: Sequence[str] | None = None, digest: str | None = None):
        self.session = open_session(path, device, threads)
        self.path = Path(path)
        self.names = [o.name for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        if "adaanchor.spatial_multiple" in meta:  # said before its input size, which was given as the reason
            raise AdaAnchorError(f"{path}: the network of a multi-person run (head maps, no decoding), not a "
                                 "single-instance graph: export this run with adaanchor export RUN")
        # Another run's file first: its input size was given as the reason, and exporting again over it (the fix
        # that message gave) overwrote the other run's export.
        check_source(path, meta, strategy, keypoints, digest)
        want = f"{int(input_size[0])},{int(input_size[1])}"
        if meta.get("adaanchor.input_size", want) != want:
            raise AdaAnchorError(f"{path}: exported for input size {meta['adaanchor.input_size']}, the run uses {want}: "
                                 f"export it again (adaanchor export RUN FILE with the same overrides)")
        if "keypoints" not in self.names:
            raise AdaAnchorError(f"{path}: not an adaanchor graph (outputs {self.names}, no 'keypoints')")

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(self.names, self.session.run(None, {"image": np.ascontiguousarray(x, dtype=np.float32)})))


class OnnxHeads:
    """A multi-person run's exported network in onnxruntime: ``(1, 3, H, W)`` -> its head maps by name, as the
    PyTorch model returns them (the poses are grouped from them after the graph).

    Args:
        heads: the run's head names; the graph must have exactly these outputs and dynamic height and width.
    """

    name = "onnx"

    def __init__(self, path: str | Path, heads: list[str], device: torch.device, threads: int | None = None,
                 strategy: str | None = None, digest: str | None = None):
        self.session = open_session(path, device, threads, spin=False)  # the grouping runs in PyTorch next
        self.path = Path(path)
        self.names = [o.name for o in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        if "adaanchor.spatial_multiple" not in meta:
            got = f"strategy {meta['adaanchor.strategy']!r}, " if "adaanchor.strategy" in meta else ""
            raise AdaAnchorError(f"{path}: not the network of a multi-person run ({got}outputs {self.names}; a "
                                 "single-instance graph with decoding): export this run with adaanchor export RUN")
        check_source(path, meta, strategy, None, digest)
        if self.names != list(heads):
            raise AdaAnchorError(f"{path}: exported from another run (outputs {self.names}, this run's heads are "
                                 f"{list(heads)}): export this run (adaanchor export RUN) or give its own file")

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.session.run(None, {"image": np.ascontiguousarray(x.cpu().numpy(), dtype=np.float32)})
        return {n: torch.from_numpy(o) for n, o in zip(self.names, out)}


def check_source(path: str | Path, meta: dict[str, str], strategy: str | None, keypoints: Sequence[str] | None,
                 digest: str | None) -> None:
    """Refuse a graph exported from another run or checkpoint than the one it is used for (its metadata's
    strategy, keypoints and checkpoint digest; a key the file lacks is not checked). Another run's file of the
    same size ran without a word: a heatmap graph's keypoints reported as the run's AdaAnchor, another keypoint
    set under this run's names, or an older checkpoint's weights (108 px from PyTorch's keypoints)."""
    from ..export.metadata import CHECKPOINT_DIGEST

    for key, run_value in (("strategy", strategy), ("keypoints", ",".join(keypoints) if keypoints else None)):
        got = meta.get(f"adaanchor.{key}")
        if run_value is not None and got is not None and got != run_value:
            raise AdaAnchorError(f"{path}: exported from another run ({key} {got!r}, this run's {run_value!r}): "
                                 "export this run (adaanchor export RUN) or give its own file")
    got = meta.get(CHECKPOINT_DIGEST)
    if digest is not None and got is not None and got != digest:
        raise AdaAnchorError(f"{path}: exported from another checkpoint ({meta.get('adaanchor.checkpoint') or '?'}, "
                             f"SHA-256 {got}; the run's is {digest}): export it again (adaanchor export RUN) or "
                             "leave out --onnx, which exports the run's checkpoint when needed")


def ensure_onnx(model: nn.Module, strategy: Any, input_size: tuple[int, int], path: Path, ckpt: Path | None,
                keypoints: tuple[str, ...], spatial_multiple: int | None = None, step: Any = None,
                task: str | None = None) -> Path:
    """Export ``model`` + decoding (with ``spatial_multiple``: the network alone, a multi-person run's export) to
    ``path`` unless the file there was exported from the checkpoint ``ckpt`` (the SHA-256 of its content in the
    file's metadata: a name and a time say nothing when a checkpoint is restored with its old time, or another
    run's checkpoint was exported there) as the same kind of graph at ``input_size``. Without a checkpoint file, a
    file of that kind and size there is kept. Returns ``path``."""
    from ..export import export_onnx
    from ..export.metadata import CHECKPOINT_DIGEST, checkpoint_digest, checkpoint_label, read_metadata

    digest = checkpoint_digest(ckpt)
    if path.is_file():
        old = read_metadata(path)
        # The same kind of graph, at this input size (a single-instance graph's is fixed), from this checkpoint: the
        # file exported for data.input_size=[96,128] was kept for the run's own size and then refused.
        fits = ("adaanchor.spatial_multiple" in old) == bool(spatial_multiple) and (
            bool(spatial_multiple) or old.get("adaanchor.input_size") == f"{int(input_size[0])},{int(input_size[1])}")
        if fits and (digest is None or old.get(CHECKPOINT_DIGEST) == digest):
            return path
        why = "another kind of graph or input size" if not fits else "another checkpoint"
        # It was replaced without a word: the file's time changed, and a file copied in by hand was lost.
        print(f"note: {path} holds {why} than this run's: exported again", file=sys.stderr)
    meta = {"adaanchor.keypoints": ",".join(keypoints), "adaanchor.checkpoint": checkpoint_label(ckpt, step)}
    if digest:
        meta[CHECKPOINT_DIGEST] = digest
    if spatial_multiple and task:
        meta["adaanchor.task"] = str(task)
    export_onnx(model, strategy, path, input_size, metadata=meta, spatial_multiple=spatial_multiple)
    return path


def exported_onnx(model: nn.Module, strategy: Any, cfg: Any, target: Path, ckpt_path: Path | None,
                  onnx_path: str | Path | None, input_size: tuple[int, int], keypoints: Sequence[str],
                  spatial_multiple: int | None, step: Any) -> tuple[Path, str | None]:
    """The ONNX file of a run's onnx backend and the SHA-256 of the checkpoint it must hold (None without a file):
    a file named by the caller is used as it is (checked when opened), or written once; the run's default file
    (``RUN/export/<checkpoint>.onnx``) is exported again whenever it does not hold the checkpoint
    (:func:`ensure_onnx`)."""
    from ..export.command import default_onnx_path
    from ..export.metadata import checkpoint_digest

    source = ckpt_path or cfg.model.weights
    digest = checkpoint_digest(source)
    named = onnx_path is not None
    path = Path(onnx_path) if named else default_onnx_path(target, ckpt_path, cfg.model.weights)
    if not (named and path.is_file()):
        try:
            ensure_onnx(model, strategy, input_size, path, source, keypoints, spatial_multiple, step, str(cfg.task))
        except AdaAnchorError as e:
            if named or "cannot write the ONNX file" not in str(e):
                raise
            # A run folder that cannot be written (read-only, another user's): the file can be put elsewhere.
            raise AdaAnchorError(f"{e}; the onnx backend writes the run's graph there once: give another place with "
                                 "--onnx FILE (Predictor.from_run(..., onnx_path=FILE))") from None
    return path, digest


def batch_runner(model: nn.Module, strategy: Any, backend: str, onnx_path: Path | None, input_size: tuple[int, int],
                 keypoints: Sequence[str], device: torch.device, threads: int | None, digest: str | None,
                 spatial_multiple: int | None) -> tuple[Any, Any]:
    """What runs a batch of inputs through ``backend`` (``torch``, or ``onnx``: the file ``onnx_path``), and for a
    multi-person run (``spatial_multiple``: its input's size multiple) the
    :class:`~adaanchor.predict.multi.MultiPersonRunner` that is also that (else None)."""
    from .multi import MultiPersonRunner, TorchHeads

    if spatial_multiple:
        heads: Any = (OnnxHeads(Path(onnx_path), list(model.head_names), device, threads, strategy.name, digest)
                      if backend == "onnx" else TorchHeads(model, device))
        runner = MultiPersonRunner(heads, strategy, min(input_size), spatial_multiple)
        return runner, runner
    be: Any = (OnnxBackend(Path(onnx_path), input_size, device, threads, strategy.name, keypoints, digest)
               if backend == "onnx" else TorchBackend(model, strategy, device))
    return be, None


def fold_batchnorm_probe(model: Any, size: tuple[int, int], dev: Any) -> tuple[Any, int]:
    """``model`` with each BatchNorm folded into the convolution before it, and how many were; ``size`` is the
    input's ``(W, H)``."""
    import torch

    from ..models.fuse import fold_batchnorm

    # Which BatchNorm follows which convolution does not depend on the image size: a small probe keeps
    # the two forward passes it takes short for a large multi-person input (a multiple of 32 px).
    ph, pw = (max(32, min(v, 128) // 32 * 32) for v in (size[1], size[0]))
    probe = torch.randn(1, 3, ph, pw, generator=torch.Generator().manual_seed(0)).to(dev)
    return fold_batchnorm(model, probe)


def with_flip_test(be: Any, multi: Any, strategy: Any, eval_cfg: Any, flip_index: Any, info: dict[str, Any]) -> Any:
    """The predictor's batch runner ``be`` (top-down) or its multi-person runner ``multi`` with the flip test, when
    the run's ``eval.flip_test`` says so (an override ``eval.flip_test=true``): top-down, the decoded points of both
    passes averaged (a :class:`~adaanchor.strategies.flip_test.FlipBackend` replaces ``be``); multi-person, the maps
    of both passes merged and one set of people decoded (``multi.heads`` wrapped in place; the anchor offsets by the
    rules ``eval.flip_offsets`` and ``eval.flip_conf``, which :func:`adaanchor.engine.run.build_system` gave the strategy). Records
    ``flip_test`` (and each rule other than ``mean``) in ``info``. Returns the runner to use in place of ``be``."""
    from ..strategies.flip_test import FlipBackend, FlipHeads

    if not eval_cfg.get("flip_test"):
        return be
    info["flip_test"] = True
    if multi is None:
        return FlipBackend(be, flip_index)
    multi.heads = FlipHeads(multi.heads, strategy, flip_index)
    for key in ("flip_offsets", "flip_conf"):
        if str(eval_cfg.get(key, "mean")) != "mean":
            info[key] = str(eval_cfg[key])
    return be
