"""Where a training step's time goes: forward, encode, losses, backward and optimizer, per strategy, interleaved.

    python benchmarks/step_phases.py [--steps 60] [--threads 2] [--strategies heatmap adaanchor fixanchor]
                                     [--setup tiny|resnet50] [--labelled random|all] [--out benchmarks/results]
                                     [--name step_phases]

``--labelled random`` (the default) takes ``speed.py``'s batch, whose visibilities are 0, 1 or 2 alike, so that a
third of the targets are unlabelled; ``--labelled all`` labels every target, as the demo's synthetic figures are
(the anchor encode ranks the labelled targets only, so the two differ for it).

``--strategies heatmap heatmap+anchor_heads adaanchor`` splits AdaAnchor's extra time into its head rows and the rest
(:data:`HEAD_ROWS`).

The step is ``benchmarks/speed.py``'s training step (the demo's model and batch for ``tiny``), timed phase by phase
with a clock read between phases (CPU work is synchronous), and the process's minor page faults per step. Every repetition takes one step of each strategy, in
an order that alternates, so a change of machine load affects all alike. Reports the median of each phase per
strategy and the median paired ratio of whole steps against the first strategy; writes ``step_phases.json`` and
``step_phases.md``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from adaanchor.strategies import STRATEGY_NAMES, compute_loss

sys.path.insert(0, str(Path(__file__).resolve().parent))
from script_exit import results_place_problem, run_main  # noqa: E402
from speed import (  # noqa: E402
    REPO,
    RESNET50,
    TINY,
    _batch,
    _system,
    add_malloc_option,
    machine,
    set_malloc,
    write_results,
)

from adaanchor.cli.argtypes import int_at_least  # noqa: E402

PHASES = ("forward", "encode", "losses", "backward", "optimizer", "step")
EXTRA = ("page_faults",)  # minor page faults of the process during the step (fresh memory the kernel maps in)
SETUPS = {"tiny": TINY, "resnet50": RESNET50}
LABELLED = {"random": "visibilities 0/1/2 alike (a third of the targets unlabelled)",
            "all": "every target labelled"}


#: A pseudo-strategy: the heatmap's targets and loss on a model with AdaAnchor's head rows (confidence, offset and
#: local offset: 5 K rows instead of K), the extra outputs in the loss with weight 0 so that their gradient (zeros)
#: flows back through the heads as AdaAnchor's sparse offset gradients do. Its step against the heatmap's is what
#: the head rows alone cost; AdaAnchor's against it is what the assignment, the targets and the losses add.
HEAD_ROWS = "heatmap+anchor_heads"


def _stepper(setup: dict[str, Any], name: str, labelled: str = "random"):
    """A function taking one training step of ``name`` (a strategy or :data:`HEAD_ROWS`) and returning its
    phases' times in ms."""
    if name == HEAD_ROWS:
        model = _system(setup, "adaanchor")[0]
        _, strategy, cfg = _system(setup, "heatmap")
    else:
        model, strategy, cfg = _system(setup, name)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    images, kp, vis = _batch(setup, setup["batch"], strategy.num_keypoints)
    if labelled == "all":
        vis = vis.clamp(min=1)
    gamma = float(cfg.strategy.focal_gamma)

    def step() -> list[float]:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = [time.perf_counter()]
        outputs = {k: v.float() for k, v in model(images).items()}
        extra = []
        if name == HEAD_ROWS:
            extra = [outputs.pop("offset"), outputs.pop("local")]
            outputs = {"heatmap": outputs["conf"]}
        t.append(time.perf_counter())
        enc = strategy.encode({k: v.detach() for k, v in outputs.items()}, kp, vis, step=0)
        t.append(time.perf_counter())
        loss = compute_loss(outputs, enc.targets, strategy.losses, gamma)["loss"]
        for x in extra:  # weight 0: a gradient of zeros through the extra head rows
            loss = loss + 0.0 * x.sum()
        t.append(time.perf_counter())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        t.append(time.perf_counter())
        torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf"))
        opt.step()
        t.append(time.perf_counter())
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        return [(b - a) * 1e3 for a, b in zip(t, t[1:])] + [(t[-1] - t[0]) * 1e3, float(faults)]

    return step


def measure(setup: dict[str, Any], names: list[str], steps: int, warmup: int = 5,
            labelled: str = "random") -> dict[str, Any]:
    """Median ms per phase and strategy over ``steps`` interleaved steps, and the paired step ratios."""
    steppers = {n: _stepper(setup, n, labelled) for n in names}
    for fn in steppers.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[list[float]]] = {n: [] for n in names}
    for rep in range(steps):
        for n in names if rep % 2 == 0 else names[::-1]:
            times[n].append(steppers[n]())
    ms = {n: {p: statistics.median(row[i] for row in times[n]) for i, p in enumerate(PHASES + EXTRA)} for n in names}
    base = names[0]
    step = len(PHASES) - 1
    ratios = {f"{n} / {base}": statistics.median(a[step] / b[step] for a, b in zip(times[n], times[base]))
              for n in names[1:]}
    if HEAD_ROWS in names:  # what the anchor strategies add beyond their head rows
        ratios.update({f"{n} / {HEAD_ROWS}": statistics.median(a[step] / b[step] for a, b in
                                                               zip(times[n], times[HEAD_ROWS]))
                       for n in names if n not in (HEAD_ROWS, base, "heatmap")})
    return {"ms": ms, "ratios": ratios, "steps": steps, "labelled": labelled}


def to_markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = ["# Training step by phase", "",
             f"Machine: {m['processor']}, {m['cpu_count']} cores, torch {m['torch']}, {m['threads']} threads, CPU, "
             f"malloc {m.get('malloc', 'default')}; "
             f"commit {m['commit']}. Setup {res['setup']}, {LABELLED[res.get('labelled', 'random')]}, {res['steps']} "
             "interleaved steps per strategy, median ms "
             "per phase (the step is the sum, its median taken on its own) and the median minor page faults per "
             "step.", "",
             "| strategy | " + " | ".join(PHASES + EXTRA) + " |", "|---" * (len(PHASES) + len(EXTRA) + 1) + "|"]
    for n, ph in res["ms"].items():
        lines.append(f"| {n} | " + " | ".join(f"{ph[p]:.2f}" for p in PHASES) + f" | {ph['page_faults']:.0f} |")
    lines += ["", "Paired step ratios (median): " + ", ".join(f"{k} **{v:.3f}**" for k, v in res["ratios"].items()), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int_at_least(1), default=60, help="interleaved steps per strategy (default 60)")
    p.add_argument("--threads", type=int_at_least(1), default=2)
    p.add_argument("--strategies", nargs="+", default=["heatmap", "adaanchor", "fixanchor"],
                   choices=(*STRATEGY_NAMES, HEAD_ROWS), metavar="NAME",
                   help=f"the first is the reference of the ratios; {HEAD_ROWS}: the heatmap on a model with "
                        f"AdaAnchor's head rows (what the rows alone cost); one of {', '.join((*STRATEGY_NAMES, HEAD_ROWS))}")
    p.add_argument("--setup", choices=tuple(SETUPS), default="tiny")
    p.add_argument("--labelled", choices=tuple(LABELLED), default="random",
                   help="random (default): a third of the targets unlabelled; all: every one labelled (the demo's data)")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    p.add_argument("--name", default="step_phases", help="stem of the files written under --out (default "
                   "step_phases: name a quick run otherwise, so that it does not replace the table docs/speed.md quotes)")
    add_malloc_option(p)
    a = p.parse_args(argv)
    if len(set(a.strategies)) != len(a.strategies):  # one stepper shared: twice the steps, a ratio of 1.000 to itself
        p.error(f"--strategies: each once, got {a.strategies}")
    if (why := results_place_problem(a.out, a.name)) is not None:  # before the work, not after it
        p.error(why)
    return run_main(lambda: measure_and_write(a), "nothing was written", resume=False)


def measure_and_write(a: argparse.Namespace) -> int:
    """The phases of the parsed options ``a``, written under ``--out``."""
    torch.set_num_threads(a.threads)
    mode = set_malloc(a.malloc)
    res = {"machine": machine(a.threads, mode), "setup": a.setup, **measure(SETUPS[a.setup], a.strategies, a.steps,
                                                                                 labelled=a.labelled)}
    write_results(a.out, a.name, res, to_markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
