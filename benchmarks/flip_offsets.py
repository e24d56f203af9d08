"""The multi-person flip test's offset merge rules (``eval.flip_offsets``) on finished anchor runs: each run evaluated
without the flip test and with it under every rule, paired run by run.

    python benchmarks/flip_offsets.py RUN_DIR [RUN_DIR ...] --name NAME [--out DIR] [--threads 1]

The runs are ``task=bottomup`` or ``task=centre`` runs of an anchor strategy (``adaanchor``, ``fixanchor``, ...; folder names
``<task>_<method>_<split>_s<seed>`` as :func:`anchor_reach.method_of` reads them). The metric is the AP at the run's
gamma for a centre run and the AP with oracle tags for a bottom-up run (:func:`inference_options.oracle_metrics`: the
localization alone; at the CPU budgets here the learned-tag AP of every bottom-up anchor run is near zero), both
recorded with AP50, AP75 and recall. Reports per method the mean ± standard error over its runs of each rule minus
``mean`` (the default) and of each rule minus no flip test, and the same over all the runs given. It measures; it
chooses nothing (the default was chosen on the dev split by a rule written before the dev numbers were read:
docs/multi-person.md, "The anchor offsets' merge rule"). Writes ``flip_offsets_<name>.{md,json}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from anchor_reach import distinct_runs, method_of
from inference_options import oracle_metrics
from omegaconf import OmegaConf
from protocol import git_commit, machine_line, write_results
from script_exit import results_place_problem, run_main

from adaanchor.engine.multi import evaluate_multi
from adaanchor.engine.run import build_split, is_multi_person, load_for_eval, resolve_run
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies.flip_test import FLIP_OFFSET_RULES, has_anchor_maps, set_flip_rules

#: the evaluations of a run: no flip test, then the flip test under each rule
SETTINGS = ("plain", *FLIP_OFFSET_RULES)


def lead_key(task: str) -> str:
    """The metric a run's rows are compared on: oracle-tag AP for bottom-up runs, AP for centre runs."""
    return "oracle_ap" if task == "bottomup" else "ap"


def evaluate_rules(run_dir: Path) -> dict[str, Any]:
    """``{"task", setting: {ap, ap50, ap75, recall[, oracle_ap, oracle_ap50]}}`` for every :data:`SETTINGS`."""
    cfg, ckpt = resolve_run(run_dir, need_weights=True)
    if not is_multi_person(cfg) or not has_anchor_maps(str(cfg.strategy.name)):
        raise AdaAnchorError(f"{run_dir}: a {cfg.task} run of {cfg.strategy.name}; the rules merge the anchor offsets "
                             "of multi-person runs (task=bottomup or centre, an anchor strategy)")
    model, strategy, _ = load_for_eval(cfg, ckpt, "cpu")
    data = build_split(cfg, "val", int(strategy.stride), train=False, verbose=False)
    out: dict[str, Any] = {"task": str(cfg.task)}
    for setting in SETTINGS:
        flip = setting != "plain"
        c = OmegaConf.merge(cfg, {"eval": {"flip_test": flip}})
        set_flip_rules(strategy, setting if flip else "mean")
        m, _ = evaluate_multi(model, strategy, c, data, "cpu")
        row = {k: m.get(k) for k in ("ap", "ap50", "ap75", "recall")}
        if str(cfg.task) == "bottomup":
            row.update(oracle_metrics(model, strategy, c, data, flip))
        out[setting] = row
    return out


def paired(rows: list[dict[str, Any]], a: str, b: str) -> tuple[float, float | None, int]:
    """Mean and standard error (None for one run) of ``rows[i][a] - rows[i][b]`` on each run's lead metric, in AP
    points."""
    d = np.array([100 * (r[a][lead_key(r["task"])] - r[b][lead_key(r["task"])]) for r in rows])
    return float(d.mean()), (float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None), len(d)


def _cell(p: tuple[float, float | None, int]) -> str:
    return f"{p[0]:+.2f}" + (f" ± {p[1]:.2f}" if p[1] is not None else "")


def to_markdown(doc: dict[str, Any]) -> str:
    groups = {**doc["methods"], "all runs": [r for rows in doc["methods"].values() for r in rows]}
    rules = [r for r in FLIP_OFFSET_RULES if r != "mean"]
    head = ([f"{r} − mean" for r in rules] + [f"{r} − no flip" for r in FLIP_OFFSET_RULES])
    lines = [f"# flip_offsets: {doc['name']} (AP points, mean ± standard error over runs; bottom-up: AP with oracle "
             "tags, centre: AP)", "", "| Method | runs | " + " | ".join(head) + " |", "|---|---|" + "---|" * len(head)]
    for label, rows in groups.items():
        cells = [_cell(paired(rows, r, "mean")) for r in rules] + [_cell(paired(rows, r, "plain"))
                                                                   for r in FLIP_OFFSET_RULES]
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(cells) + " |")
    lines += ["", "Per run (the lead metric, ×100):", "", "| Run | " + " | ".join(SETTINGS) + " |",
              "|---|" + "---|" * len(SETTINGS)]
    for rows in doc["methods"].values():
        for r in rows:
            key = lead_key(r["task"])
            lines.append(f"| {Path(r['run']).name} | " + " | ".join(f"{100 * r[s][key]:.2f}" for s in SETTINGS) + " |")
    lines += ["", f"Commit {doc['commit']}; {doc['machine']}; wall {doc['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def script_main(argv: list[str] | None, doc: str, prefix: str, help_runs: str,
                evaluate: Callable[[Path], dict[str, Any]], markdown: Callable[[dict[str, Any]], str]) -> int:
    """The command line shared by this script and ``flip_parts.py``: ``RUN_DIR ... --name NAME [--out DIR]
    [--threads N]``; each run evaluated by ``evaluate`` (a row with ``task`` and one entry per setting, ``settings``
    listing them or :data:`SETTINGS`), a line per run, and ``<prefix>_<name>.{md,json}`` written at the end."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help=help_runs)
    p.add_argument("--name", required=True, help=f"results file name: {prefix}_<name>.{{md,json}}")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    a = p.parse_args(argv)
    if (why := results_place_problem(a.out, a.name)) is not None:  # before the work, not after it
        p.error(why)
    return run_main(lambda: _body(a, prefix, evaluate, markdown), "nothing (the results file is written at the end)",
                    resume=False)


def _body(a: argparse.Namespace, prefix: str, evaluate: Callable[[Path], dict[str, Any]],
          markdown: Callable[[dict[str, Any]], str]) -> int:
    torch.set_num_threads(max(1, a.threads))
    t0, methods = time.time(), {}
    for run in distinct_runs(a.runs):
        label, seed = method_of(run)
        r = {"seed": seed, "run": str(run), **evaluate(run)}
        key = lead_key(r["task"])
        print(f"{label} s{seed}: " + ", ".join(f"{s} {100 * r[s][key]:.2f}" for s in r.get("settings", SETTINGS)),
              flush=True)
        methods.setdefault(label, []).append(r)
    doc = {"name": a.name, "methods": methods, "commit": git_commit(), "machine": machine_line(),
           "threads": torch.get_num_threads(), "wall_seconds": time.time() - t0}
    write_results(a.out, f"{prefix}_{a.name}", doc, markdown(doc))
    return 0


def main(argv: list[str] | None = None) -> int:
    return script_main(argv, __doc__, "flip_offsets", "finished bottom-up or centre runs of an anchor strategy",
                       evaluate_rules, to_markdown)


if __name__ == "__main__":
    sys.exit(main())
