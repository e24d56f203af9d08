"""Multi-person paper tables (section 5): bottom-up associative embedding with the heatmap, FixAnchor and AdaAnchor.

    python benchmarks/paper_tables.py table5   # crowd figures: recall, AP family, gamma sweep
    python benchmarks/paper_tables.py table6   # crowd faces: the same plus CrowdPose-style AP easy / medium / hard
    python benchmarks/paper_tables.py fig5     # gamma sweeps (AP, recall) of both, drawn from the two tables' files

    options: --split dev|test  --seeds 0 1 2  --steps N  --methods heatmap fixanchor adaanchor localanchor
             --task ae  --out benchmarks/results  --n-train N --n-val N --width W --data-cache data-cache
             --jobs N  (runs trained at a time, one process and one torch thread each; results do not depend on it)
             --task-option push=hinge  (an option of the task's config section, e.g. ``bottomup``, for every run:
             a variant; give it its own ``--out``, as the run folders and files are named by table and method)
             --strategy-option local_about=target  (an option of the ``strategy`` section for every run, the same
             way; the method's name comes from --methods)

The protocol of benchmarks/protocol.py: ``--split dev`` (the default) is an independent instance of each benchmark
(crowd figures: generator seed 1; crowd faces: new canvases whose held-out faces come from 20% of the *training*
identities, the evaluation identities unread) for every choice, and writes ``<table>_dev.*``; ``--split test`` is
the evaluation instance, for final numbers, once. Dev runs also evaluate their weights at 80% and 90% of the steps
(``eval_log.csv`` in the run folder) for the convergence check: the relative change of the AP (oracle tags for
``ae``, the comparable setting) over the last 20% and 10% of training.

Every method runs on the same seeds; a seed fixes the initial backbone weights and the data order, so the runs of one
seed differ only in the method (paired). Summaries are mean ± sample std over seeds, and the paired differences
(mean ± standard error) against FixAnchor (the protocol's reference) and the heatmap (the paper's). Runs live under
``<out>/runs/<table>/<method>_s<seed>`` (``model.pt`` + ``run.json``); a finished run with the same settings is
evaluated again, not retrained, and one of other settings (``--steps``, sizes, options) is refused, not trained over:
give such a table its own ``--out``. Evaluation is on each benchmark's held-out split at gamma = 0.1 and over the sweep,
grouped by the learned tags and by oracle tags (docs/multi-person.md).

Budgets: the protocol's, chosen on the dev split (docs/results.md, "The crowd tables under the protocol"): table5
3,600 steps, table6 2,880; the budgets before the protocol (600 and 240, about 30 CPU-minutes a table) are
``--steps 600`` / ``--steps 240``. ``fig5`` trains and evaluates nothing: it reads the sweeps that table5 and
table6 wrote (``<out>/table5[_dev].json``, ``<out>/table6[_dev].json``, of the same ``--split`` and ``--task``) and
draws them together, so it shows exactly the runs of those tables; it takes ``--split``, ``--task`` and ``--out`` only.

Tasks: ``ae`` (associative embedding, the default) and ``centre`` (single-stage, DEKR-style person centres,
docs/centre.md); a ``--task centre`` table writes ``<table>_centre.{md,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from multi_report import summarize, table_stem, write_table  # noqa: E402
from multi_runs import TASKS, TRAIN, build_run, options_problem, run_one  # noqa: E402,F401 (build_run: for tag_diagnostics.py)
from parallel import run_parallel  # noqa: E402
from protocol import DEV_FRACTION, DEV_SYNTH_SEED, git_commit  # noqa: E402
from script_exit import Refused, results_place_problem, run_main  # noqa: E402

from adaanchor.bench.crowd import write_crowd_benchmark  # noqa: E402
from adaanchor.bench.crowd_faces import face_sigmas, write_crowd_faces_benchmark  # noqa: E402
from adaanchor.cli.argtypes import (
    check_unique,
    int_at_least,  # noqa: E402
    seed_arg,
)
from adaanchor.data.bottomup import BottomUpDataset, group_by_image  # noqa: E402
from adaanchor.data.readers.coco import read_coco  # noqa: E402
from adaanchor.data.spec import load_spec  # noqa: E402
from adaanchor.demo_bottomup import DEMO_BENCH  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
METHODS = {"heatmap": "Heatmap", "fixanchor": "FixAnchor", "adaanchor": "AdaAnchor", "localanchor": "LocalAnchor"}


# Benchmarks: writer, default options and cache folder, spec, OKS sigmas, per-task options of the strategy wrapper.
# Crowd faces: at most 4 faces a canvas, so 10 candidates per landmark type (not 30) keep the grouping of 68 types
# affordable; the same for every method.
BENCHES: dict[str, dict[str, Any]] = {
    "crowd": {"title": "crowd figures", "writer": write_crowd_benchmark, "options": DEMO_BENCH, "cache": "crowd",
              "spec": "coco", "sigmas": None, "crowdpose": False, "task_cfg": {}},
    "faces": {"title": "crowd faces", "writer": write_crowd_faces_benchmark,
              "options": {"width": 128, "height": 96, "n_train": 800, "n_val": 90}, "cache": "crowd-faces",
              "spec": "face68", "sigmas": face_sigmas(68), "crowdpose": True, "task_cfg": {"ae": {"max_candidates": 10}}},
}
TABLES: dict[str, dict[str, Any]] = {
    # The protocol's budgets, chosen on dev (at 3,600 steps 11 of 12 figure runs converged, at 2,880 10 of 12 face runs).
    "table5": {"benches": ["crowd"], "steps": 3600},
    "table6": {"benches": ["faces"], "steps": 2880},
    "fig5": {"benches": ["crowd", "faces"], "from": ["table5", "table6"]},  # drawn from those tables' files
}
RUN_TABLE = {"crowd": "table5", "faces": "table6"}  # the table whose run folder holds a benchmark's runs
# The dev instance of each benchmark: options over its own (see the module doc); cached beside it with "-dev".
DEV_OPTIONS = {"crowd": {"seed": DEV_SYNTH_SEED}, "faces": {"seed": DEV_SYNTH_SEED, "dev_fraction": DEV_FRACTION}}


def parse_task_options(items: list[str] | None, flag: str = "--task-option") -> dict[str, Any]:
    """``["push=hinge", "gamma=0.2"]`` -> ``{"push": "hinge", "gamma": 0.2}`` (values read as YAML scalars); ``flag``
    names the option in the message for an item without ``=``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise Refused(f"{flag} expects KEY=VALUE, got '{item}'")
        out[key] = yaml.safe_load(value)
    return out


def bench_data(bench: str, cache: Path, n_train: int | None, n_val: int | None, split: str = "test",
               task_options: dict[str, dict[str, Any]] | None = None,
               strategy_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Generate (or reuse) the benchmark's ``split`` instance (``dev`` or ``test``); its datasets, ground-truth
    path, spec and sigmas. ``task_options`` (task -> options) are merged over the benchmark's own task options;
    ``strategy_options`` go to every run's ``strategy`` section beside its method's name."""
    b = BENCHES[bench]
    task_cfg = {t: dict(o) for t, o in b["task_cfg"].items()}
    for task, extra in (task_options or {}).items():
        task_cfg[task] = {**task_cfg.get(task, {}), **extra}
    opts = {**b["options"], **({"n_train": n_train} if n_train else {}), **({"n_val": n_val} if n_val else {})}
    changed = (opts["n_train"], opts["n_val"]) != (b["options"]["n_train"], b["options"]["n_val"])
    root = cache / (f"{b['cache']}-{opts['n_train']}-{opts['n_val']}" if changed else b["cache"])
    if split == "dev":
        opts, root = {**opts, **DEV_OPTIONS[bench]}, root.with_name(root.name + "-dev")
    paths = b["writer"](root, opts, progress=False)
    spec = load_spec(b["spec"])
    size = (int(opts["width"]), int(opts["height"]))
    sets = {s: BottomUpDataset(group_by_image(read_coco(paths[s], spec).instances), spec, size, train=s == "train",
                               cache_images=True, multiple=16) for s in ("train", "val")}
    return {"train": sets["train"], "val": sets["val"], "gt": paths["val"], "spec": spec, "size": size,
            "sigmas": b["sigmas"], "crowdpose": b["crowdpose"], "options": opts, "task_cfg": task_cfg,
            "strategy_cfg": dict(strategy_options or {}), "split": split}


def run_dir_for(out: Path, bench: str, task: str, method: str, seed: int, split: str) -> Path:
    """``<out>/runs/<table>/<method>[_dev]_s<seed>`` (``<task>_<method>...`` for a task other than ``ae``)."""
    name = (f"{method}" if task == "ae" else f"{task}_{method}") + ("_dev" if split == "dev" else "") + f"_s{seed}"
    return out / "runs" / RUN_TABLE[bench] / name


def _worker_run(method: str, seed: int, bench: str, task: str, steps: int, out: Path, cache: Path,
                n_train: int | None, n_val: int | None, width: int, split: str,
                task_options: dict[str, Any] | None, strategy_options: dict[str, Any] | None) -> dict[str, Any]:
    """One run in a worker process of ``run_parallel``: one torch thread, its own copy of the benchmark."""
    torch.set_num_threads(1)
    data = bench_data(bench, cache, n_train, n_val, split, {task: task_options} if task_options else None,
                      strategy_options)
    row = run_one(task, method, seed, steps, data, run_dir_for(out, bench, task, method, seed, split), width)
    # A run trained before is only evaluated again: its record's training time is that of its training.
    print(f"[{bench}] {method} seed {seed}: done in a worker (trained in {row.get('train_s', 0):.0f} s)", flush=True)
    return row


def run_bench(table: str, bench: str, task: str, methods: list[str], seeds: list[int], steps: int, out: Path,
              cache: Path, n_train: int | None, n_val: int | None, width: int, split: str = "test",
              task_options: dict[str, Any] | None = None, jobs: int = 1,
              strategy_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every method over every seed on one benchmark (``jobs`` runs at a time); returns the table document (runs,
    summary, paired)."""
    data = bench_data(bench, cache, n_train, n_val, split, {task: task_options} if task_options else None,
                      strategy_options)
    if jobs > 1:  # the data cache exists now, so the worker processes only read it
        args = (bench, task, steps, out, cache, n_train, n_val, width, split, task_options, strategy_options)
        done = run_parallel(_worker_run, {(m, s): (m, s, *args) for m in methods for s in seeds}, jobs)
    runs: dict[str, list[dict[str, Any]]] = {}
    for method in methods:
        for seed in seeds:
            row = done[(method, seed)] if jobs > 1 else run_one(task, method, seed, steps, data,
                                                                run_dir_for(out, bench, task, method, seed, split), width)
            runs.setdefault(METHODS.get(method, method), []).append(row)
            oracle = row.get("oracle_tags", {})
            print(f"[{table}] {bench} {method} seed {seed}: AP {100 * row['ap']:.1f} recall {row['recall']:.3f}"
                  + (f" | oracle AP {100 * oracle['ap']:.1f}" if oracle else "") + f" ({row.get('train_s', 0):.0f} s)",
                  flush=True)
    return {"bench": bench, "title": BENCHES[bench]["title"], "task": task, "steps": steps, "seeds": seeds,
            "split": split, "benchmark": data["options"], "task_options": data["task_cfg"].get(task, {}),
            **({"strategy_options": data["strategy_cfg"]} if data["strategy_cfg"] else {}),
            "runs": runs, **summarize(runs)}


def run_table(table: str, seeds: list[int], steps: int | None, methods: list[str], task: str, out: Path,
              cache: Path, n_train: int | None = None, n_val: int | None = None,
              width: int = TRAIN["tiny_width"], split: str = "test",
              task_options: dict[str, Any] | None = None, jobs: int = 1,
              strategy_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run (or re-evaluate) ``table`` and write ``<out>/<table>.{md,json,png}`` (``<table>_<task>`` for a task
    other than ``ae``, then ``_dev`` for the dev split); returns the JSON document."""
    t0 = time.time()
    docs = {}
    for bench in TABLES[table]["benches"]:
        n_steps = steps if steps is not None else int(TABLES[RUN_TABLE[bench]]["steps"])
        docs[bench] = run_bench(table, bench, task, methods, seeds, n_steps, out, cache, n_train, n_val, width, split,
                                task_options, jobs, strategy_options)
    doc = {"table": table, "task": task, "split": split, "methods": methods, "seeds": seeds, "benches": docs,
           "train": {**TRAIN, "tiny_width": width}, "commit": git_commit() or "unknown",
           "machine": f"{platform.platform()}, {torch.get_num_threads()} torch threads",
           "wall_seconds": round(time.time() - t0, 1)}
    return write_table(doc, out)


def fig5_from_tables(out: Path, task: str = "ae", split: str = "test") -> dict[str, Any]:
    """Fig. 5 from the files of the tables it draws on (``TABLES["fig5"]["from"]``), no run trained or evaluated:
    each benchmark's section of its table, as that table wrote it. A missing file is an error naming the command
    that writes it."""
    sources, docs = [], []
    for table in TABLES["fig5"]["from"]:
        path = out / f"{table_stem(table, task, split)}.json"
        if not path.is_file():
            raise Refused(f"fig5 draws on {path}, which does not exist: run `python benchmarks/paper_tables.py "
                             f"{table} --split {split} --task {task} --out {out}` first")
        docs.append(json.loads(path.read_text()))
        sources.append(f"{path.name} (commit {docs[-1].get('commit', 'unknown')})")
    trains = {json.dumps(d["train"], sort_keys=True) for d in docs}
    if len(trains) > 1:  # fig5 said table5's settings (width 24) under table6's section, trained at width 16
        differ = "; ".join(f"{table}: {d['train']}" for table, d in zip(TABLES["fig5"]["from"], docs, strict=True))
        raise Refused(f"fig5 draws on tables trained with other settings ({differ}): run them with the same "
                      "--width (and training settings) first")
    benches = {name: d["benches"][name] for d in docs for name in d["benches"]}
    methods = list(dict.fromkeys(m for d in docs for m in d["methods"]))
    doc = {"table": "fig5", "task": task, "split": split, "methods": methods,
           "seeds": sorted({s for d in docs for s in d["seeds"]}), "benches": benches, "train": docs[0]["train"],
           "machine": docs[0]["machine"], "sources": sources}  # each source names its commit
    return write_table(doc, out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", choices=sorted(TABLES))
    p.add_argument("--seeds", type=seed_arg, nargs="+", help="paired seeds (default 0 1 2)")
    p.add_argument("--steps", type=int_at_least(1), help="training steps per run (default: the protocol's, table5 "
                   f"{TABLES['table5']['steps']}, table6 {TABLES['table6']['steps']})")
    p.add_argument("--methods", nargs="+", choices=list(METHODS), help=f"default: {' '.join(METHODS)}")
    p.add_argument("--split", choices=("dev", "test"), default="dev",
                   help="dev (default): the benchmark's dev instance, for every choice; test: the evaluation instance, "
                   "for final numbers (files without the _dev suffix)")
    p.add_argument("--task", choices=sorted(TASKS), default="ae")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--data-cache", type=Path, default=REPO / "data-cache", help="folder of the benchmark caches")
    p.add_argument("--n-train", type=int_at_least(1), help="training images (default: the benchmark's)")
    p.add_argument("--n-val", type=int_at_least(1), help="held-out images (default: the benchmark's)")
    p.add_argument("--width", type=int_at_least(1), help=f"tiny CNN width (default {TRAIN['tiny_width']})")
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                   help="an option of the task's section for every run (e.g. push=hinge); use its own --out")
    p.add_argument("--strategy-option", action="append", metavar="KEY=VALUE",
                   help="an option of the strategy section for every run (e.g. local_about=target); use its own --out")
    p.add_argument("--jobs", type=int_at_least(1), help="runs trained at a time, each a process of one torch thread "
                   "(default 1; at most the number of cores); results do not depend on it")
    a = p.parse_args(argv)
    check_unique(p, "--seeds", a.seeds)
    run_opts = {"--seeds": a.seeds, "--steps": a.steps, "--methods": a.methods, "--n-train": a.n_train,
                "--n-val": a.n_val, "--width": a.width, "--task-option": a.task_option,
                "--strategy-option": a.strategy_option, "--jobs": a.jobs}
    if a.table == "fig5":
        given = [name for name, value in run_opts.items() if value is not None]
        if given:
            p.error(f"fig5 trains nothing (it draws the files of table5 and table6): {', '.join(given)} "
                    "belong to those tables; fig5 takes --split, --task and --out")
        return run_main(lambda: fig5_from_tables(a.out, a.task, a.split) and 0, "nothing was written", resume=False)
    try:
        strategy_options = parse_task_options(a.strategy_option, "--strategy-option")
        task_options = parse_task_options(a.task_option)
    except Refused as e:
        p.error(str(e))
    if "name" in strategy_options:
        p.error("--strategy-option name=...: the strategy of each run is its method; choose them with --methods")
    if (why := options_problem(a.task, a.strategy_option, a.task_option)) is not None:
        p.error(why)  # an unknown key was ignored by the runs, and listed as applied in the table
    if (why := results_place_problem(a.out)) is not None:  # before the data is generated, not after it
        p.error(why)
    # the cores this process may use (taskset, a container), as the training counts them
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if a.jobs is not None and a.jobs > cores:  # the help says at most the cores; the runs then share them, unsaid
        print(f"note: --jobs {a.jobs} on {cores} cores: the runs share them (each as slow as {a.jobs / cores:.1f} runs "
              "on a core; the results are the same)", file=sys.stderr)
    torch.set_num_threads(1)

    def body() -> int:
        run_table(a.table, a.seeds or [0, 1, 2], a.steps, a.methods or list(METHODS), a.task, a.out, a.data_cache,
                  a.n_train, a.n_val, TRAIN["tiny_width"] if a.width is None else a.width, a.split,
                  task_options, 1 if a.jobs is None else a.jobs, strategy_options)
        return 0

    return run_main(body, f"finished runs are kept under {a.out / 'runs' / a.table}, a run in progress at its last "
                          "saved state")


if __name__ == "__main__":
    sys.exit(main())
