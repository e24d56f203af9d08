"""Speed of the anchor strategies against the heatmap on a CUDA GPU, at real sizes, measured pairwise in one run.

    python benchmarks/gpu_speed.py [--reps 15] [--out benchmarks/results] [--name gpu_speed]

The GPU twin of ``benchmarks/speed.py``: the same models, batches, interleaving and paired ratios
(:func:`speed.measure`), with each timed call ending in ``torch.cuda.synchronize()`` so that a call's time is
the GPU's work, not its launch. Training steps run as ``engine/train.py`` runs them on a GPU: bf16 autocast
(``train.amp=auto``), channels-last where the config says so. Writes ``NAME.json`` and ``NAME.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from adaanchor.engine.session import autocast
from adaanchor.strategies import compute_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import PAIR, REPO, RESNET50, TINY, Row, Timer, _batch, _system, measure, write_results  # noqa: E402

CUDA = torch.device("cuda")


def _sync(fn: Timer) -> Timer:
    def run() -> None:
        fn()
        torch.cuda.synchronize()
    return run


def train_timers(setup: dict[str, Any], names: list[str], batch: int, steps: int) -> dict[str, Timer]:
    """``steps`` training steps per call and strategy on the GPU (bf16 autocast, as ``train.amp=auto``)."""
    timers = {}
    for name in names:
        model, strategy, cfg = _system(setup, name)
        model.to(CUDA).train()
        opt = torch.optim.Adam(model.parameters(), lr=1e-4)
        images, kp, vis = (t.to(CUDA) for t in _batch(setup, batch, strategy.num_keypoints))
        gamma = float(cfg.strategy.focal_gamma)

        def run(model=model, strategy=strategy, opt=opt, images=images, kp=kp, vis=vis, gamma=gamma) -> None:
            for _ in range(steps):
                with autocast(CUDA, "bf16"):
                    outputs = {k: v.float() for k, v in model(images).items()}
                enc = strategy.encode({k: v.detach() for k, v in outputs.items()}, kp, vis, step=0)
                loss = compute_loss(outputs, enc.targets, strategy.losses, gamma)["loss"]
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
                opt.step()

        timers[name] = _sync(run)
    return timers


def infer_timers(setup: dict[str, Any], names: list[str], batch: int, calls: int) -> dict[str, Timer]:
    """``calls`` x ``strategy.predict`` (forward + decode) per call and strategy, fp32, on the GPU."""
    timers = {}
    for name in names:
        model, strategy, _ = _system(setup, name)
        model.to(CUDA).eval()
        images = _batch(setup, batch, strategy.num_keypoints)[0].to(CUDA)

        def run(model=model, strategy=strategy, images=images) -> None:
            with torch.inference_mode():
                for _ in range(calls):
                    strategy.predict(model, images)

        timers[name] = _sync(run)
    return timers


R50_CL = {**RESNET50, "overrides": [*RESNET50["overrides"], "model.channels_last=true"]}
_RATIOS = {"adaanchor / heatmap": ("adaanchor", "heatmap"), "fixanchor / heatmap": ("fixanchor", "heatmap")}
ROWS: dict[str, Row] = {
    "train_resnet50_b32": Row("train step, ResNet-50 256x192, batch 32, bf16",
                              lambda: train_timers(R50_CL, [*PAIR, "fixanchor"], 32, 5), _RATIOS,
                              {"adaanchor / heatmap": 1.03}),
    "train_resnet50_b64": Row("train step, ResNet-50 256x192, batch 64, bf16",
                              lambda: train_timers(R50_CL, [*PAIR, "fixanchor"], 64, 3), _RATIOS,
                              {"adaanchor / heatmap": 1.03}),
    # Larger batches: at 32 and 64 the H200 waits on the CPU's kernel launches, at 256 it starts to fill.
    "train_resnet50_b128": Row("train step, ResNet-50 256x192, batch 128, bf16",
                               lambda: train_timers(R50_CL, [*PAIR, "fixanchor"], 128, 2), _RATIOS,
                               {"adaanchor / heatmap": 1.03}),
    "train_resnet50_b256": Row("train step, ResNet-50 256x192, batch 256, bf16",
                               lambda: train_timers(R50_CL, [*PAIR, "fixanchor"], 256, 1), _RATIOS,
                               {"adaanchor / heatmap": 1.03}),
    "train_tiny_b32": Row("train step, tiny 72x96, batch 32 (the demo), bf16",
                          lambda: train_timers(TINY, [*PAIR, "fixanchor"], 32, 20), _RATIOS,
                          {"adaanchor / heatmap": 1.10}),
    "infer_resnet50_b1": Row("inference (forward + decode), ResNet-50 256x192, batch 1, fp32",
                             lambda: infer_timers(R50_CL, PAIR, 1, 20), {"adaanchor / heatmap": ("adaanchor", "heatmap")},
                             {"adaanchor / heatmap": 1.02}),
    "infer_resnet50_b32": Row("inference (forward + decode), ResNet-50 256x192, batch 32, fp32",
                              lambda: infer_timers(R50_CL, PAIR, 32, 5), {"adaanchor / heatmap": ("adaanchor", "heatmap")},
                              {"adaanchor / heatmap": 1.02}),
}


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["# GPU speed: anchor strategies against the heatmap", "",
             f"Machine: {m['gpu']}, torch {m['torch']}, CUDA {m['cuda']}; commit {m['commit']}. Wall time "
             f"{result['wall_s']:.0f} s. Strategies are timed interleaved, each call ending in a synchronize; a ratio "
             "is the median over repetitions of the paired ratio (min-max in brackets).",
             "", "| measure | ms per call | ratio | target |", "|---|---|---|---|"]
    for r in result["rows"].values():
        ms = ", ".join(f"{n} {v:.1f}" for n, v in r["ms"].items())
        for label, q in r["ratios"].items():
            target = f"<= {q['target']:.2f}" if q["target"] is not None else ""
            lines.append(f"| {r['measure']} ({r['reps']} reps) | {ms} | {label}: **{q['median']:.3f}** "
                         f"({q['min']:.2f}-{q['max']:.2f}) | {target} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--name", default="gpu_speed", help="stem of the files written under --out")
    a = p.parse_args(argv)
    if not torch.cuda.is_available():
        p.error("no CUDA device: this benchmark times the GPU (benchmarks/speed.py times the CPU)")
    torch.backends.cudnn.benchmark = True  # fixed shapes: let cuDNN pick its kernels once, as training would
    t0 = time.time()
    result: dict[str, Any] = {"machine": {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__,
                                          "cuda": torch.version.cuda, "platform": platform.platform(),
                                          "cpu_count": os.cpu_count(),
                                          "commit": os.environ.get("ADAANCHOR_COMMIT") or _commit()},
                              "rows": {}}
    for name in a.rows:
        result["rows"][name] = r = measure(ROWS[name], a.reps, warmup=3)
        print(name, {n: round(v, 2) for n, v in r["ms"].items()},
              {k: round(v["median"], 3) for k, v in r["ratios"].items()}, flush=True)
    result["wall_s"] = time.time() - t0
    write_results(a.out, a.name, result, to_markdown(result))
    return 0


def _commit() -> str:
    from protocol import git_commit

    return git_commit(REPO)


if __name__ == "__main__":
    sys.exit(main())
