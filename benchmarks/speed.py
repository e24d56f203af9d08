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
from adaanchor.errors import Terminated
from adaanchor.malloc import keep_freed_memory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol import git_commit  # noqa: E402
from ratio_spread import spread_note  # noqa: E402
from script_exit import results_place_problem, run_main  # noqa: E402
from speed_timers import (  # noqa: E402, F401 - REPO, TINY, _batch, _system and the timers re-exported
    LOADER_BATCHES,
    REPO,
    RESNET50,
    TINY,
    Timer,
    _batch,
    _system,
    deconv_timers,
    fold_timers,
    inference_timers,
    layout_timers,
    loader_timers,
    onnx_timers,
    precision_timers,
    train_step_timers,
)

from adaanchor.cli.argtypes import int_at_least  # noqa: E402


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
