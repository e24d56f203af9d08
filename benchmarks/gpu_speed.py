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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from speed import (  # noqa: E402
    PAIR,
    REPO,
    RESNET50,
    TINY,
    Row,
    Timer,
    inference_timers,
    measure,
    ratio_table,
    train_step_timers,
    write_results,
)

from adaanchor.cli.argtypes import int_at_least  # noqa: E402

CUDA = torch.device("cuda")


def _sync(fn: Timer) -> Timer:
    def run() -> None:
        fn()
        torch.cuda.synchronize()
    return run


def train_timers(setup: dict[str, Any], names: list[str], batch: int, steps: int) -> dict[str, Timer]:
    """``steps`` training steps per call and strategy on the GPU (bf16 autocast, as ``train.amp=auto``)."""
    timers = train_step_timers(setup, names, steps, device=CUDA, batch=batch, amp="bf16")
    return {name: _sync(fn) for name, fn in timers.items()}


def infer_timers(setup: dict[str, Any], names: list[str], batch: int, calls: int) -> dict[str, Timer]:
    """``calls`` x ``strategy.predict`` (forward + decode) per call and strategy, fp32, on the GPU."""
    return {name: _sync(fn) for name, fn in inference_timers(setup, names, batch, calls, device=CUDA).items()}


R50_CL = {**RESNET50, "overrides": [*RESNET50["overrides"], "model.channels_last=true"]}
_RATIOS = {"adaanchor / heatmap": ("adaanchor", "heatmap"), "fixanchor / heatmap": ("fixanchor", "heatmap")}
_INFER = {"adaanchor / heatmap": ("adaanchor", "heatmap")}


def _train_row(measure: str, setup: dict[str, Any], batch: int, steps: int, target: float) -> Row:
    return Row(f"train step, {measure}, batch {batch}, bf16",
               lambda: train_timers(setup, [*PAIR, "fixanchor"], batch, steps), _RATIOS, {"adaanchor / heatmap": target})


def _infer_row(batch: int, calls: int) -> Row:
    return Row(f"inference (forward + decode), ResNet-50 256x192, batch {batch}, fp32",
               lambda: infer_timers(R50_CL, PAIR, batch, calls), _INFER, {"adaanchor / heatmap": 1.02})


# Batches 128 and 256 too: at 32 and 64 the H200 waits on the CPU's kernel launches, at 256 it starts to fill.
# Steps per call shrink as the batch grows, so that a call takes about the same time.
ROWS: dict[str, Row] = {
    **{f"train_resnet50_b{b}": _train_row("ResNet-50 256x192", R50_CL, b, steps, 1.03)
       for b, steps in ((32, 5), (64, 3), (128, 2), (256, 1))},
    "train_tiny_b32": _train_row("tiny 72x96 (the demo)", TINY, 32, 20, 1.10),
    "infer_resnet50_b1": _infer_row(1, 20),
    "infer_resnet50_b32": _infer_row(32, 5),
}


def to_markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    head = ["# GPU speed: anchor strategies against the heatmap", "",
            f"Machine: {m['gpu']}, torch {m['torch']}, CUDA {m['cuda']}; commit {m['commit']}. Wall time "
            f"{result['wall_s']:.0f} s. Strategies are timed interleaved, each call ending in a synchronize; a ratio "
            "is the median over repetitions of the paired ratio (min-max in brackets).", ""]
    return "\n".join(head + ratio_table(result["rows"])) + "\n"

def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    p.add_argument("--reps", type=int_at_least(1), default=15)
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
