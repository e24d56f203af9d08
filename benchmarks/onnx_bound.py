"""How low the ONNX row of ``speed.py`` (onnxruntime / torch eager, forward + decode) can go on this machine.

    python benchmarks/onnx_bound.py [--setup resnet50|tiny] [--strategy adaanchor] [--batch 1] [--reps 9]
                                    [--threads 2] [--target 0.5] [--out benchmarks/results] [--name onnx_bound]

Three measurements in one process, at one thread count:

- **the work**: the floating-point operations of one forward + decode, counted by PyTorch's own
  ``torch.utils.flop_counter.FlopCounterMode`` (convolutions and matrix products, two per multiply-add; the
  decoding's few element-wise operations are not counted, they are a thousandth of it);
- **the machine's float32 rate**: the fastest square float32 matrix product that PyTorch (``mm``) and
  onnxruntime (a one-node ``MatMul`` graph) run here, best of several calls at two sizes. This is a rate
  measured, not the processor's data-sheet peak: a graph of convolutions may come near it, rarely past it;
- **both backends**, timed as ``speed.py``'s row times them (interleaved, a pause before each call so that
  onnxruntime's spinning threads do not slow PyTorch).

From these: each backend's rate and its share of the matrix-product rate; the ratio the row would read if
onnxruntime ran the whole graph at that rate (the lowest it can read while PyTorch keeps its speed); and the
PyTorch time, and rate, at which the row would meet ``--target``. Writes ``<name>.json`` and ``<name>.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from adaanchor.strategies import STRATEGY_NAMES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_exit import results_place_problem, run_main  # noqa: E402
from speed import REPO, RESNET50, TINY, Row, _batch, _system, machine, measure, write_results  # noqa: E402
from speed_timers import onnx_timers  # noqa: E402

from adaanchor.cli.argtypes import int_at_least, positive  # noqa: E402

SETUPS = {"resnet50": RESNET50, "tiny": TINY}
MATMUL_SIZES = (1024, 2048)


def graph_flops(setup: dict[str, Any], strategy_name: str, batch: int) -> dict[str, Any]:
    """The floating-point operations of one ``strategy.predict`` (forward + decode) in eval mode, in total and per
    operator (``aten.convolution``, ``aten.bmm``, ...), as PyTorch's flop counter counts them."""
    model, strategy, _ = _system(setup, strategy_name)
    model.eval()
    images = _batch(setup, batch, strategy.num_keypoints)[0]
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        strategy.predict(model, images)
    per_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return {"total": int(counter.get_total_flops()), "per_op": per_op}


def _best_rate(run: Any, n: int, reps: int) -> float:
    """GFLOP/s of the fastest of ``reps`` calls of ``run`` (an ``n x n`` by ``n x n`` float32 product), after two
    calls to warm up."""
    for _ in range(2):
        run()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best / 1e9


def _ort_matmul(n: int, threads: int) -> Any:
    """A callable running onnxruntime's ``MatMul`` on two ``n x n`` float32 matrices with ``threads`` threads."""
    import onnxruntime as ort
    from onnx import TensorProto, helper

    io = [helper.make_tensor_value_info(x, TensorProto.FLOAT, [n, n]) for x in "abc"]
    graph = helper.make_graph([helper.make_node("MatMul", ["a", "b"], ["c"])], "matmul", io[:2], io[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feed = {x: rng.standard_normal((n, n), dtype=np.float32) for x in "ab"}
    return lambda: sess.run(None, feed)


def matmul_rates(threads: int, reps: int = 6, sizes: tuple[int, ...] | None = None) -> dict[str, float]:
    """The fastest float32 matrix product each library runs here, GFLOP/s: ``torch`` and ``onnxruntime``, each the
    best over ``sizes`` (default :data:`MATMUL_SIZES`) of the best of ``reps`` calls (the caller sets PyTorch's
    thread count)."""
    rates = {"torch": 0.0, "onnxruntime": 0.0}
    g = torch.Generator().manual_seed(0)
    for n in sizes or MATMUL_SIZES:
        a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
        rates["torch"] = max(rates["torch"], _best_rate(lambda a=a, b=b: torch.mm(a, b), n, reps))
        rates["onnxruntime"] = max(rates["onnxruntime"], _best_rate(_ort_matmul(n, threads), n, reps))
    return rates


def bound(flops: int, rates: dict[str, float], ms: dict[str, float], target: float) -> dict[str, float]:
    """What the three measurements imply (see the module's docstring).

    Args:
        flops: the graph's floating-point operations; rates: the matrix-product rates, GFLOP/s;
        ms: the backends' median milliseconds per call (``torch``, ``onnxruntime``); target: the row's target.
    """
    peak = max(rates.values())
    gflop = flops / 1e9
    rate = {name: gflop / (t / 1e3) for name, t in ms.items()}  # GFLOP/s each backend reaches on the graph
    floor_ms = gflop / peak * 1e3  # onnxruntime at the matrix-product rate
    torch_needed_ms = ms["onnxruntime"] / target  # the PyTorch time at which the row meets the target
    return {"gflop": gflop, "peak_gflops": peak,
            "torch_gflops": rate["torch"], "onnxruntime_gflops": rate["onnxruntime"],
            "torch_share": rate["torch"] / peak, "onnxruntime_share": rate["onnxruntime"] / peak,
            "ratio": ms["onnxruntime"] / ms["torch"], "lowest_ratio": floor_ms / ms["torch"],
            "onnxruntime_floor_ms": floor_ms, "torch_needed_ms": torch_needed_ms,
            "torch_needed_share": gflop / (torch_needed_ms / 1e3) / peak, "target": target}


def to_markdown(result: dict[str, Any]) -> str:
    m, b, a = result["machine"], result["bound"], result["args"]
    ms = result["timing"]["ms"]
    rates = ", ".join(f"{k} {v:.0f}" for k, v in result["matmul_gflops"].items())
    lines = [
        "# How low the ONNX row can go on this machine", "",
        f"Machine: {m['processor']}, {m['cpu_count']} cores ({m['platform']}), torch {m['torch']}, {m['threads']} "
        f"threads; commit {m['commit']}. Load average before / after: {result['load_before']} / "
        f"{result['load_after']}. Wall time {result['wall_s']:.0f} s.", "",
        f"Forward + decode of {a['strategy']}, {a['setup']}, batch {a['batch']}: {b['gflop']:.2f} GFLOP (PyTorch's flop "
        f"counter). Fastest float32 matrix product here: {rates} GFLOP/s (square, sizes {result['matmul_sizes']}).", "",
        "| backend | ms per call | GFLOP/s | share of the matrix-product rate |", "|---|---|---|---|",
        f"| torch eager | {ms['torch']:.1f} | {b['torch_gflops']:.0f} | {b['torch_share']:.0%} |",
        f"| onnxruntime | {ms['onnxruntime']:.1f} | {b['onnxruntime_gflops']:.0f} | {b['onnxruntime_share']:.0%} |", "",
        f"- onnxruntime / torch eager: **{b['ratio']:.3f}** (median of {result['timing']['reps']} paired calls).",
        f"- With onnxruntime at the matrix-product rate ({b['onnxruntime_floor_ms']:.1f} ms a call) and PyTorch as it "
        f"is, the row would read **{b['lowest_ratio']:.3f}**.",
        f"- The target <= {b['target']:.2f} needs PyTorch at {b['torch_needed_ms']:.1f} ms a call or slower, "
        f"{b['torch_needed_share']:.0%} of the matrix-product rate, with onnxruntime as it is.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--setup", choices=list(SETUPS), default="resnet50")
    p.add_argument("--strategy", default="adaanchor", choices=STRATEGY_NAMES, help="the strategy whose model is exported (default adaanchor)")
    p.add_argument("--batch", type=int_at_least(1), default=1)
    p.add_argument("--reps", type=int_at_least(1), default=9, help="paired calls of the two backends")
    p.add_argument("--threads", type=int_at_least(1), default=2)
    p.add_argument("--target", type=positive, default=0.5, help="the row's target (speed.py: 0.5)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--name", default="onnx_bound", help="stem of the files written under --out")
    a = p.parse_args(argv)
    if (why := results_place_problem(a.out, a.name)) is not None:
        p.error(why)
    return run_main(lambda: _measure_and_write(a), "nothing is saved before the end", resume=False)


def _measure_and_write(a: argparse.Namespace) -> int:
    torch.set_num_threads(a.threads)
    t0 = time.time()
    result: dict[str, Any] = {"machine": machine(a.threads), "load_before": [round(x, 2) for x in os.getloadavg()],
                              "args": {"setup": a.setup, "strategy": a.strategy, "batch": a.batch}}
    setup = SETUPS[a.setup]
    flops = graph_flops(setup, a.strategy, a.batch)
    row = Row("forward + decode", lambda: onnx_timers(setup, a.strategy, a.batch, calls=1),
              {"onnxruntime / torch eager": ("onnxruntime", "torch")}, settle_s=0.3)
    timing = measure(row, a.reps)
    rates = matmul_rates(a.threads)
    result.update(flops=flops, matmul_gflops=rates, matmul_sizes=list(MATMUL_SIZES), timing={k: timing[k] for k in ("reps", "ms", "ms_all")},
                  bound=bound(flops["total"], rates, timing["ms"], a.target),
                  load_after=[round(x, 2) for x in os.getloadavg()], wall_s=time.time() - t0)
    write_results(a.out, a.name, result, to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
