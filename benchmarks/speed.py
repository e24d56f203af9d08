"""Speed of the anchor strategies against the heatmap, measured pairwise in one run.

    python benchmarks/speed.py [--rows ROW ...] [--reps N] [--threads 2] [--out benchmarks/results] [--name STEM]

Each row times one measure for two or more strategies on the same model and input, **interleaved**: every
repetition times each strategy once, in an order that alternates between repetitions, so a change of
machine load affects all of them alike. A row reports every strategy's median time and, for each ratio it
names, the median over repetitions of the paired ratio. ``speed.json`` and ``speed.md`` (``speed_rows.*`` for a
run of some rows, or ``--name``) record the machine, the thread count, the load average before and after, the
commit and the wall time.

Rows are entries of :data:`ROWS` (a name -> :class:`Row`); a new measure is a function that returns one
timing callable per strategy, plus a :class:`Row` entry.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from adaanchor.atomic import write_text_atomic
from adaanchor.config import build_config
from adaanchor.engine.amp import autocast
from adaanchor.engine.run import build_system
from adaanchor.errors import Terminated
from adaanchor.malloc import keep_freed_memory
from adaanchor.strategies import compute_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol import git_commit  # noqa: E402
from ratio_spread import spread_note  # noqa: E402
from script_exit import results_place_problem, run_main  # noqa: E402

from adaanchor.cli.argtypes import int_at_least  # noqa: E402

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
    path = Path(tempfile.mkdtemp()) / "model.onnx"
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

    def with_ratio(value: float) -> Timer:
        def run() -> None:
            deconv.MATMUL_MIN_RATIO = value
            try:
                timer()
            finally:
                deconv.MATMUL_MIN_RATIO = ratio
        return run

    return {"kernel": with_ratio(float("inf")), "matmul": with_ratio(ratio)}


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



@dataclass
class Row:
    """A measure: what it times, the timers' factory, the ratios it reports and their targets."""

    measure: str
    timers: Callable[[], dict[str, Timer]]
    ratios: dict[str, tuple[str, str]]  # label -> (numerator, denominator) strategy names
    target: dict[str, float] = field(default_factory=dict)  # label -> the most the ratio should be
    reps: int | None = None  # repetitions for this row (None: --reps)
    at_least: dict[str, float] = field(default_factory=dict)  # label -> the least the ratio should be
    units: dict[str, int] = field(default_factory=dict)  # timer -> batches or steps per call (default 1)
    # Seconds to wait before each timed call, so that one timer's idle threads stop spinning before the next
    # runs (onnxruntime's pool spins after a run and took 11 % of torch's time when torch ran right after it).
    settle_s: float = 0.0


PAIR = ["heatmap", "adaanchor"]
ROWS: dict[str, Row] = {
    # FixAnchor beside them: adaanchor / fixanchor is the adaptive assignment's own cost (same heads and losses).
    "train_tiny": Row("train step, tiny 72x96, batch 32 (the demo)",
                      lambda: train_step_timers(TINY, [*PAIR, "fixanchor"], 3),
                      {"adaanchor / heatmap": ("adaanchor", "heatmap"), "fixanchor / heatmap": ("fixanchor", "heatmap"),
                       "adaanchor / fixanchor": ("adaanchor", "fixanchor")}, {"adaanchor / heatmap": 1.10},
                      reps=31),  # at 15 the row's median moved by +-0.03 from run to run
    "train_resnet50": Row("train step, ResNet-50 256x192, batch 8", lambda: train_step_timers(RESNET50, PAIR, 1),
                          {"adaanchor / heatmap": ("adaanchor", "heatmap")}, {"adaanchor / heatmap": 1.03}, reps=5),
    "infer_resnet50_b1": Row("inference (forward + decode), ResNet-50 256x192, batch 1",
                             lambda: inference_timers(RESNET50, PAIR, 1, 3),
                             {"adaanchor / heatmap": ("adaanchor", "heatmap")}, {"adaanchor / heatmap": 1.02}),
    "infer_resnet50_b8": Row("inference (forward + decode), ResNet-50 256x192, batch 8",
                             lambda: inference_timers(RESNET50, PAIR, 8, 1),
                             {"adaanchor / heatmap": ("adaanchor", "heatmap")}, {"adaanchor / heatmap": 1.02}, reps=7),
    "infer_tiny_b1": Row("inference (forward + decode), tiny 72x96, batch 1", lambda: inference_timers(TINY, PAIR, 1, 20),
                         {"adaanchor / heatmap": ("adaanchor", "heatmap")}, {"adaanchor / heatmap": 1.02}),
    "channels_last": Row("train step, heatmap, ResNet-50 256x192, batch 8: backbone layout",
                         lambda: layout_timers(RESNET50), {"channels_last / nchw": ("channels_last", "nchw")},
                         {"channels_last / nchw": 1.0}, reps=5),
    "channels_last_tiny": Row("train step, heatmap, tiny 72x96, batch 32: backbone layout",
                              lambda: layout_timers(TINY, steps=3), {"channels_last / nchw": ("channels_last", "nchw")},
                              {"channels_last / nchw": 1.0}, reps=15),
    "onnx_resnet50_b1": Row("forward + decode, adaanchor, ResNet-50 256x192, batch 1",
                            lambda: onnx_timers(RESNET50), {"onnxruntime / torch eager": ("onnxruntime", "torch")},
                            {"onnxruntime / torch eager": 0.5}, reps=9, settle_s=0.3),
    "deconv_resnet50_b1": Row("forward + decode, heatmap, ResNet-50 256x192, batch 1: first deconvolution",
                              lambda: deconv_timers(RESNET50, False, 1, 3), {"matmul / kernel": ("matmul", "kernel")},
                              {"matmul / kernel": 1.0}, reps=9),
    "deconv_resnet50_train": Row("train step, heatmap, ResNet-50 256x192, batch 8: first deconvolution",
                                 lambda: deconv_timers(RESNET50, True, 8), {"matmul / kernel": ("matmul", "kernel")},
                                 {"matmul / kernel": 1.0}, reps=5),
    "fold_resnet50_b1": Row("forward + decode, adaanchor, ResNet-50 256x192, batch 1: BatchNorm folded",
                            lambda: fold_timers(RESNET50, 1), {"folded / bn": ("folded", "bn")},
                            {"folded / bn": 1.0}, reps=9),
    # Measured, no target: CPUs without bfloat16 units refuse bf16 in the predictor (models/precision.py).
    "bf16_resnet50_b1": Row("forward + decode, adaanchor, ResNet-50 256x192, batch 1, BatchNorm folded: precision",
                            lambda: precision_timers(RESNET50, 1), {"bf16 / fp32": ("bf16", "fp32")}, reps=9),
    "bf16_resnet50_b8": Row("forward + decode, adaanchor, ResNet-50 256x192, batch 8, BatchNorm folded: precision",
                            lambda: precision_timers(RESNET50, 8, 1), {"bf16 / fp32": ("bf16", "fp32")}, reps=7),
    "loader_tiny": Row("data loader (2 persistent workers) against training, tiny 72x96, batch 32",
                       lambda: loader_timers(TINY), {"loader images/s / training images/s": ("train", "loader")},
                       at_least={"loader images/s / training images/s": 2.0}, reps=9,
                       units={"loader": LOADER_BATCHES}),
    "infer_tiny_b8": Row("inference (forward + decode), tiny 72x96, batch 8", lambda: inference_timers(TINY, PAIR, 8, 10),
                         {"adaanchor / heatmap": ("adaanchor", "heatmap")}, {"adaanchor / heatmap": 1.02}),
}


def measure(row: Row, reps: int, warmup: int = 1) -> dict[str, Any]:
    """Time a row's strategies interleaved; medians in ms per timer call and the median paired ratios."""
    timers = row.timers()
    names = list(timers)
    for _ in range(warmup):
        for fn in timers.values():
            fn()
    times: dict[str, list[float]] = {n: [] for n in names}
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            if row.settle_s:
                time.sleep(row.settle_s)
            t0 = time.perf_counter()
            timers[name]()
            times[name].append((time.perf_counter() - t0) * 1e3 / row.units.get(name, 1))  # ms per unit
    ratios = {}
    for label, (num, den) in row.ratios.items():
        paired = [a / b for a, b in zip(times[num], times[den])]
        ratios[label] = {"median": statistics.median(paired), "min": min(paired), "max": max(paired),
                         "target": row.target.get(label), "at_least": row.at_least.get(label)}
    return {"measure": row.measure, "reps": reps, "ms": {n: statistics.median(v) for n, v in times.items()},
            "ms_all": times, "ratios": ratios}


def machine(threads: int, malloc: str = "default") -> dict[str, Any]:
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__, "threads": threads, "commit": git_commit(REPO),
            "device": "cpu", "malloc": malloc}


def set_malloc(mode: str) -> str:
    """``keep``: keep freed memory as the ``adaanchor`` command, training and the predictor do
    (:mod:`adaanchor.malloc`); ``default``: glibc's own behaviour. Returns what is in effect, ``kept`` or
    ``default`` (off glibc, or turned off by the environment)."""
    return "kept" if mode == "keep" and keep_freed_memory() else "default"


def add_malloc_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--malloc", choices=("keep", "default"), default="keep",
                   help="keep freed memory as adaanchor's commands do (default), or glibc's default behaviour")


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["# Speed: anchor strategies against the heatmap", "",
             f"Machine: {m['processor']}, {m['cpu_count']} cores ({m['platform']}), torch {m['torch']}, "
             f"{m['threads']} threads, CPU, malloc {m.get('malloc', 'default')}; commit {m['commit']}. Load average before / after: "
             f"{result['load_before']} / {result['load_after']}. Wall time {result['wall_s']:.0f} s. Strategies are "
             "timed interleaved; a ratio is the median over repetitions of the paired ratio (min-max in brackets).",
             ""]
    return "\n".join(lines + ratio_table(result["rows"])) + "\n"


def ratio_table(rows: dict[str, dict[str, Any]]) -> list[str]:
    """The markdown table of measured rows (:func:`measure`'s results): times, paired ratios and targets."""
    lines = ["| measure | ms per call | ratio | target |", "|---|---|---|---|"]
    for r in rows.values():
        ms = ", ".join(f"{n} {v:.1f}" for n, v in r["ms"].items())
        for label, q in r["ratios"].items():
            target = (f"<= {q['target']:.2f}" if q["target"] is not None
                      else f">= {q['at_least']:.2f}" if q.get("at_least") is not None else "")
            wide = " (wide spread: see the warning)" if spread_note(label, q, r["reps"]) else ""
            lines.append(f"| {r['measure']} ({r['reps']} reps) | {ms} | {label}: **{q['median']:.3f}** "
                         f"({q['min']:.2f}-{q['max']:.2f}){wide} | {target} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--reps", type=int_at_least(1), default=15, help="repetitions per row (rows may set their own)")
    p.add_argument("--threads", type=int_at_least(1), default=2)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--name", help="stem of the files written under --out (default: speed for every row, speed_rows "
                   "for some: a run of a few rows does not replace the full table)")
    add_malloc_option(p)
    a = p.parse_args(argv)
    if (why := results_place_problem(a.out, a.name)) is not None:  # before the work, not after it
        p.error(why)
    # Ctrl-C and SIGTERM in one line (a KeyboardInterrupt traceback; SIGTERM ended it without a word)
    return run_main(lambda: _measure_and_write(a), "the rows measured before the stop are in "
                    f"{a.out}/<name>_partial.{{json,md}}", resume=False)


def _measure_and_write(a: argparse.Namespace) -> int:
    stem = a.name or ("speed" if set(a.rows) == set(ROWS) else "speed_rows")
    torch.set_num_threads(a.threads)  # explicit: the default depends on the machine and the environment
    mode = set_malloc(a.malloc)  # before anything is timed: the process then runs as adaanchor's commands do
    t0 = time.time()
    result: dict[str, Any] = {"machine": machine(a.threads, mode), "load_before": [round(x, 2) for x in os.getloadavg()],
                              "rows": {}}
    try:
        for name in a.rows:
            row = ROWS[name]
            result["rows"][name] = measure(row, row.reps or a.reps)
            r = result["rows"][name]
            print(name, {n: round(v, 1) for n, v in r["ms"].items()},
                  {k: round(v["median"], 3) for k, v in r["ratios"].items()}, flush=True)
            for label, q in r["ratios"].items():
                if (note := spread_note(label, q, r["reps"])) is not None:
                    print(f"warning: {name}: {note}", file=sys.stderr, flush=True)
    except (KeyboardInterrupt, Terminated):
        if result["rows"]:  # rows take minutes each: a stop kept none of them
            result.update(stopped=True, load_after=[round(x, 2) for x in os.getloadavg()], wall_s=time.time() - t0)
            write_results(a.out, f"{stem}_partial", result, to_markdown(result))
        raise
    result["load_after"] = [round(x, 2) for x in os.getloadavg()]
    result["wall_s"] = time.time() - t0
    write_results(a.out, stem, result, to_markdown(result))
    return 0


def write_results(out: Path, stem: str, result: dict[str, Any], markdown: str) -> None:
    """``out/stem.json`` and ``out/stem.md``; the markdown is printed too."""
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / f"{stem}.json", json.dumps(result, indent=1) + "\n")
    write_text_atomic(out / f"{stem}.md", markdown)
    print(markdown)


if __name__ == "__main__":
    sys.exit(main())
