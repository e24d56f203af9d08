"""The timers of benchmarks/speed.py's rows: each function returns one timing callable per strategy (or variant) on
the same model and input, which :func:`speed.measure` calls interleaved."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from adaanchor.config import build_config
from adaanchor.engine.amp import autocast
from adaanchor.engine.run import build_system
from adaanchor.strategies import compute_loss

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "src" / "adaanchor" / "configs" / "demo.yaml"
TINY = {"base": DEMO, "overrides": [], "batch": 32, "size": (72, 96)}
RESNET50 = {"base": DEMO, "overrides": ["model.backbone=resnet50", "data.input_size=[192,256]"], "batch": 8,
            "size": (192, 256)}

Timer = Callable[[], None]


def _system(setup: dict[str, Any], name: str) -> tuple[torch.nn.Module, Any, Any]:
    cfg = build_config(setup["base"], [*setup["overrides"], f"strategy.name={name}"])
    torch.manual_seed(0)
    model, strategy = build_system(cfg)
    return model, strategy, cfg


def _batch(setup: dict[str, Any], batch: int, k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random images; keypoints in and slightly around the crop; visibility 0/1/2 (as in training data)."""
    g = torch.Generator().manual_seed(0)
    w, h = setup["size"]
    images = torch.randn(batch, 3, h, w, generator=g)
    kp = torch.rand(batch, 1, k, 2, generator=g) * torch.tensor([w * 1.1, h * 1.1]) - torch.tensor([w * 0.05, h * 0.05])
    vis = torch.randint(0, 3, (batch, 1, k), generator=g)
    return images, kp, vis


def train_step_timers(setup: dict[str, Any], names: list[str], steps: int = 2, device: torch.device | None = None,
                      batch: int | None = None, amp: str | None = None) -> dict[str, Timer]:
    """One timer per strategy: ``steps`` training steps as ``engine/train.py`` takes them (forward, under
    ``amp`` autocast when given, encode from detached outputs, loss, backward, gradient norm, Adam), on
    ``device`` (default the CPU) with ``batch`` images (default the setup's)."""
    device = device or torch.device("cpu")
    timers = {}
    for name in names:
        model, strategy, cfg = _system(setup, name)
        model.to(device).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        images, kp, vis = (t.to(device) for t in _batch(setup, batch or setup["batch"], strategy.num_keypoints))
        gamma = float(cfg.strategy.focal_gamma)

        def run(model=model, strategy=strategy, opt=opt, images=images, kp=kp, vis=vis, gamma=gamma) -> None:
            for _ in range(steps):
                with autocast(device, amp):
                    outputs = {k: v.float() for k, v in model(images).items()}
                enc = strategy.encode({k: v.detach() for k, v in outputs.items()}, kp, vis, step=0)
                loss = compute_loss(outputs, enc.targets, strategy.losses, gamma)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
                opt.step()

        timers[name] = run
    return timers


def inference_timers(setup: dict[str, Any], names: list[str], batch: int, calls: int = 3,
                     device: torch.device | None = None) -> dict[str, Timer]:
    """One timer per strategy: ``calls`` x ``strategy.predict`` in eval mode (forward + decode; the anchor
    strategies read their offset heads only where the decoding does), on ``device`` (default the CPU)."""
    device = device or torch.device("cpu")
    timers = {}
    for name in names:
        model, strategy, _ = _system(setup, name)
        model.to(device).eval()
        images = _batch(setup, batch, strategy.num_keypoints)[0].to(device)

        def run(model=model, strategy=strategy, images=images) -> None:
            with torch.inference_mode():
                for _ in range(calls):
                    strategy.predict(model, images)

        timers[name] = run
    return timers


def layout_timers(setup: dict[str, Any], steps: int = 1) -> dict[str, Timer]:
    """The heatmap's training step (``steps`` per call) with the backbone in the default (NCHW) and channels-last
    (NHWC) layout."""
    timers = {}
    for name, flag in (("nchw", "false"), ("channels_last", "true")):
        timers.update({name: train_step_timers({**setup, "overrides": [*setup["overrides"],
                                                f"model.channels_last={flag}"]}, ["heatmap"], steps)["heatmap"]})
    return timers


def onnx_timers(setup: dict[str, Any], name: str = "adaanchor", batch: int = 1, calls: int = 3) -> dict[str, Timer]:
    """Forward + decode of one model in torch (eager, inference mode) and as the exported graph in onnxruntime,
    with the same thread count."""
    import tempfile

    from adaanchor.export import export_onnx, session

    model, strategy, cfg = _system(setup, name)
    model.eval()
    images, _, _ = _batch(setup, batch, strategy.num_keypoints)
    with tempfile.TemporaryDirectory() as tmp:  # the session holds the graph: the file (100 MB for a ResNet-50) goes
        path = Path(tmp) / "model.onnx"
        export_onnx(model, strategy, path, list(cfg.data.input_size))
        sess = session(path, threads=torch.get_num_threads())
    feed = {sess.get_inputs()[0].name: images.numpy()}

    def eager() -> None:
        with torch.inference_mode():
            for _ in range(calls):
                strategy.predict(model, images)

    def ort() -> None:
        for _ in range(calls):
            sess.run(None, feed)

    return {"torch": eager, "onnxruntime": ort}


def deconv_timers(setup: dict[str, Any], train: bool, batch: int, calls: int = 1) -> dict[str, Timer]:
    """The heatmap model's forward + decode (``train=False``, ``calls`` per timer call) or training step with the
    first deconvolution of the neck as a matrix product + fold (``matmul``, the default where
    :class:`~adaanchor.models.deconv.FoldConvTranspose2d` takes it) and through the library kernel (``kernel``):
    one model, the switch flipped before each call."""
    from adaanchor.models import deconv

    setup = {**setup, "batch": batch}
    timer = (train_step_timers(setup, ["heatmap"], calls) if train else inference_timers(setup, ["heatmap"], batch, calls))["heatmap"]
    ratio = deconv.MATMUL_MIN_RATIO
    return {"kernel": patched(deconv, "MATMUL_MIN_RATIO", float("inf"), timer),
            "matmul": patched(deconv, "MATMUL_MIN_RATIO", ratio, timer)}


def patched(owner: Any, name: str, value: Any, timer: Timer) -> Timer:
    """``timer`` run with ``owner.name`` set to ``value`` for the call, and set back after it (an alternative timed
    against the current code in one process)."""
    def run() -> None:
        before = getattr(owner, name)
        setattr(owner, name, value)
        try:
            timer()
        finally:
            setattr(owner, name, before)
    return run


def _adaanchor_timers(setup: dict[str, Any], batch: int, calls: int,
                      variants: Callable[[torch.nn.Module, torch.nn.Module], dict[str, torch.nn.Module]]) -> dict[str, Timer]:
    """One timer per network of ``variants(model, folded)`` (AdaAnchor as trained and with its BatchNorms folded):
    ``calls`` x forward + decode of a batch of ``batch``."""
    from adaanchor.models.fuse import fold_batchnorm

    model, strategy, _ = _system(setup, "adaanchor")
    images = _batch(setup, batch, strategy.num_keypoints)[0]
    folded, _ = fold_batchnorm(model.eval(), images)

    def timer(net: torch.nn.Module) -> Timer:
        def run() -> None:
            with torch.inference_mode():
                for _ in range(calls):
                    strategy.predict(net, images)
        return run

    return {name: timer(net) for name, net in variants(model, folded).items()}


def fold_timers(setup: dict[str, Any], batch: int, calls: int = 3) -> dict[str, Timer]:
    """AdaAnchor's forward + decode as trained (``bn``) and with its BatchNorms folded into the convolutions
    (``folded``, what ``Predictor`` runs with the torch backend)."""
    return _adaanchor_timers(setup, batch, calls, lambda model, folded: {"bn": model, "folded": folded})


def precision_timers(setup: dict[str, Any], batch: int, calls: int = 3) -> dict[str, Timer]:
    """AdaAnchor's forward + decode with its BatchNorms folded, in float32 (``fp32``) and with the backbone in
    bfloat16 and the heads in float32 (``bf16``): ``Predictor``'s torch backend with ``precision`` fp32 / bf16."""
    from adaanchor.models.precision import Bf16Backbone

    return _adaanchor_timers(setup, batch, calls, lambda model, folded: {"fp32": folded, "bf16": Bf16Backbone(folded)})


LOADER_BATCHES = 16  # batches per call of the loader timer


def loader_timers(setup: dict[str, Any], workers: int = 2) -> dict[str, Timer]:
    """One batch from the training data loader (as engine/state.py builds it: persistent workers, the demo's
    benchmark images and augmentation) against one training step that consumes a batch of the same size."""
    from torch.utils.data import DataLoader

    from adaanchor.data.build import build_dataset
    from adaanchor.data.types import collate

    cfg = build_config(setup["base"], setup["overrides"])
    ds = build_dataset(cfg.data, "train", verbose=False)
    loader = DataLoader(ds, batch_size=setup["batch"], shuffle=True, collate_fn=collate, num_workers=workers,
                        persistent_workers=workers > 0, drop_last=True)
    state = {"it": iter(loader)}

    def batches() -> None:
        # LOADER_BATCHES per call, more than the 2 x workers batches prefetched while the other timer ran, so
        # that the call measures the workers' production rate rather than the prefetch buffer.
        for _ in range(LOADER_BATCHES):
            try:
                next(state["it"])
            except StopIteration:  # a new epoch: persistent workers keep their image cache
                state["it"] = iter(loader)
                next(state["it"])

    return {"loader": batches, "train": train_step_timers(setup, ["heatmap"], 1)["heatmap"]}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "speed.py"))
