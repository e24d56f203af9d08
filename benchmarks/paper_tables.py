"""Scaled-down twins of the paper's tables, one command each, on the built-in occlusion benchmark.

    python benchmarks/paper_tables.py table1 [--seeds 0 1 2] [--steps N] [--out benchmarks/results]
    python benchmarks/paper_tables.py fig6      # k in {1, 5, 10, 20, 50}
    python benchmarks/paper_tables.py sigma     # sigma in {1, 2, 4, 8, 16} input px
    python benchmarks/paper_tables.py table2    # backbones: tiny, resnet18, resnet50
    python benchmarks/paper_tables.py locality  # the assignment-drift investigation (candidate radius, warm-up)
    python benchmarks/paper_tables.py assigner  # FixAnchor against the adaptive assigners (5 paired seeds)
    python benchmarks/paper_tables.py table5    # multi-person, bottom-up AE on crowd figures (benchmarks/multi_tables.py)
    python benchmarks/paper_tables.py table6    # multi-person, bottom-up AE on crowd faces, AP easy/medium/hard
    python benchmarks/paper_tables.py fig5      # gamma sweeps of AP and recall of both, from table5's and table6's files
    python benchmarks/paper_tables.py truncation  # real faces cut off by the crop: NME inside the input and cut off

    --split dev (default) | test: every choice is made on ``dev`` (an independent instance of the built-in
    benchmark; for the faces of ``table4``, a held-out 20% of the training identities); ``test`` (the
    evaluation split) is for final numbers, once. See benchmarks/protocol.py.

Each writes ``<name>.md``, ``<name>.json`` and ``<name>.png`` under ``--out`` with the commit, the machine
and the wall time. Every variant uses the same data, backbone, step count and data order; the training
seed is the only thing that varies across repeats. Nothing here is tuned on the evaluation split: the
choices compared are the ones the paper and docs/method.md name.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from adaanchor.atomic import write_text_atomic
from adaanchor.config import build_config
from adaanchor.configs import config_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol import (  # noqa: E402, F401
    DEV_SYNTH_SEED,
    anchored_root,
    convergence,
    git_commit,
    paired_difference,
    split_only,
    split_overrides,
)
from script_exit import Refused, run_main  # noqa: E402
from table_report import markdown, mean_std, plot, plot_title, write_assigner_json  # noqa: E402
from table_runs import (  # noqa: E402
    differing_keys,
    finished,
    identical_run,
    link_run,
    pace,
    run_start,
    seeds_for,
    training_commits,  # noqa: E402
)

from adaanchor.cli.argtypes import (
    check_unique,
    int_at_least,  # noqa: E402
    seed_arg,
)
from adaanchor.data.build import annotation_path, build_dataset
from adaanchor.demo import DEMO_CONFIG, train_and_evaluate

ADA = ["strategy.name=adaanchor"]
REFERENCE = {"Heatmap-anchor": ["strategy.name=heatmap"], "FixAnchor": ["strategy.name=fixanchor"]}
STEPS = 3000  # the protocol's budget: 16 epochs of the built-in benchmark, where the rankings stop moving
TABLES: dict[str, dict[str, Any]] = {
    # name -> {"variants": {label: overrides}, "repeat": labels run over every seed (others: first seed; no
    #          "repeat" key: every variant over every seed),
    #          "headline": labels run over at least "headline_seeds" seeds, "steps": the default budget}
    "assigner": {
        "variants": {
            "Heatmap-anchor": ["strategy.name=heatmap"],
            "FixAnchor": ["strategy.name=fixanchor"],
            "AdaAnchor (paper)": ADA,
            "AdaAnchor, radius 3 cells": [*ADA, "strategy.candidate_radius=3"],
            # The same 3 cells measured from the target clamped onto the map (the instance prior with no
            # scaling), so that a keypoint outside the image keeps the border cells nearest to it as candidates.
            "AdaAnchor, radius 3 cells from the clamped target": [*ADA, "strategy.prior=instance",
                                                                  "strategy.prior_scale=0", "strategy.prior_min_cells=3"],
            "AdaAnchor, instance prior": [*ADA, "strategy.prior=instance"],
            "AlignAnchor (task-aligned assigner)": ["strategy.name=alignanchor"],
            # A later dev round (after the evaluation split was run): the paper's assigner with r computed on the
            # coarse point (the local head still refines at inference), the "compute r on the coarse point".
            "AdaAnchor, r on the coarse point": [*ADA, "strategy.refine_in_score=false"],
            # The dev winner under its own name (the preset of the clamped-target row): the evaluation split's row.
            "LocalAnchor": ["strategy.name=localanchor"],
        },
        "repeat": ["Heatmap-anchor", "AdaAnchor (paper)", "AdaAnchor, radius 3 cells",
                   "AdaAnchor, radius 3 cells from the clamped target", "AdaAnchor, instance prior",
                   "AlignAnchor (task-aligned assigner)", "AdaAnchor, r on the coarse point"],
        "headline": ["FixAnchor", "LocalAnchor"],
        "headline_seeds": 5,
    },
    "table1": {
        "variants": {
            "Regression-anchor": ["strategy.name=regression"],
            "Heatmap-anchor": ["strategy.name=heatmap"],
            "FixAnchor": ["strategy.name=fixanchor"],
            "Scoring (add)": [*ADA, "strategy.fusion=add"],
            "Ours w/o multiple anchors": [*ADA, "strategy.topk=1"],
            "Ours w/o local refinement": [*ADA, "strategy.refine=false"],
            "Ours (mul)": ADA,
            "AlignAnchor (task-aligned assigner)": ["strategy.name=alignanchor"],
            "LocalAnchor": ["strategy.name=localanchor"],
        },
        # No "repeat": under the protocol every row gets the paired seeds (the ablations were one seed at 600 steps).
    },
    # Sweeps of AdaAnchor's own hyper-parameters, with the heatmap and FixAnchor beside them for reference.
    # The sweeps are hyper-parameter studies: run them on dev (the default split), every point over 3 seeds.
    "fig6": {"variants": {**REFERENCE, **{f"k={k}": [*ADA, f"strategy.topk={k}"] for k in (1, 5, 10, 20, 50)}}},
    "sigma": {"variants": {**REFERENCE, **{f"sigma={s}px": [*ADA, f"strategy.sigma={s}"] for s in (1, 2, 4, 8, 16)}}},
    "table2": {
        "steps": 150,  # ResNet-50 on a CPU: about 1.5 s a step at 72x96: a short budget (early convergence only)
        "variants": {f"{m} {b}": [f"strategy.name={m}", f"model.backbone={b}", "model.deconv_channels=64"]
                     for b in ("tiny", "resnet18", "resnet50") for m in ("heatmap", "fixanchor", "adaanchor")},
        "repeat": [],
    },
    "table4": {
        "base": "faces/occluded_ytfaces68",  # a packaged config
        "variants": {"Regression-anchor": ["strategy.name=regression"], "Heatmap-anchor": ["strategy.name=heatmap"],
                     "FixAnchor": ["strategy.name=fixanchor"], "Ours": ADA,
                     "LocalAnchor": ["strategy.name=localanchor"]},  # the pose benchmark's dev-chosen assigner, untouched
        "repeat": ["Heatmap-anchor", "FixAnchor", "Ours", "LocalAnchor"],
    },
    # Real faces cut off by the crop (the faces' budget and methods; no occluders: truncation alone): do the anchors
    # keep their lead outside the input on real images? Chosen before any run: shift 0.3, half the crops shifted.
    "truncation": {
        "base": "faces/truncated_ytfaces68",
        "columns": "truncated",
        "variants": {"Heatmap-anchor": ["strategy.name=heatmap"], "FixAnchor": ["strategy.name=fixanchor"],
                     "AdaAnchor (paper)": ADA, "LocalAnchor": ["strategy.name=localanchor"]},
    },
    "locality": {
        "variants": {
            "FixAnchor": ["strategy.name=fixanchor"],
            "AdaAnchor, whole map (paper)": [*ADA, "strategy.candidate_radius=null"],
            "AdaAnchor, radius 3 cells": [*ADA, "strategy.candidate_radius=3"],
            "AdaAnchor, radius 2 cells": [*ADA, "strategy.candidate_radius=2"],
            "AdaAnchor, 30% FixAnchor warm-up": [*ADA, "strategy.candidate_radius=null", "strategy.warmup_steps=WARMUP"],
        },
        "repeat": [],
    },
}
METRICS = ("vis_error", "inv_error", "inv_error_in", "inv_error_out", "vis_score", "inv_score", "score_auc", "ap",
           "nme", "nme_vis", "nme_inv", "nme_vis_in", "nme_inv_in", "nme_out", "fr")
# Labels of the assigner table in assigner.json.
ASSIGNER_NAMES = {"Heatmap-anchor": "heatmap", "FixAnchor": "fixanchor", "AdaAnchor (paper)": "adaanchor",
                  "LocalAnchor": "localanchor"}


def plan_runs(name: str, seeds: list[int], steps: int, out: Path, base_file: Path, extra: list[str], split: str,
              only: list[str] | None, defaults: Any) -> list[tuple[str, int, Path, Any]]:
    """``(label, seed, run folder, config)`` of every run of table ``name``; refuses a run folder of other settings
    first, before any data is generated or any run trained."""
    spec, plan = TABLES[name], []
    for label, over in spec["variants"].items():
        if only and label not in only:
            continue
        over = [o.replace("WARMUP", str(int(0.3 * steps))) for o in over]
        for seed in seeds_for(spec, label, seeds):
            run_dir = out / "runs" / name / f"{label.replace(' ', '_').replace('/', '-')}_{split}_s{seed}"
            cfg = build_config(base_file, [*extra, *over, f"seed={seed}", f"train.max_steps={steps}",
                                           f"train.lr_steps=[{int(0.8 * steps)}]", "train.progress=false", f"out_dir={run_dir}",
                                           "resume=auto"])
            stale = differing_keys(run_dir, cfg, defaults)
            if stale:
                raise Refused(f"{run_dir} holds a run of other settings ({'; '.join(stale[:4])}): give this table "
                              "its own --out, or remove that folder to train it again")
            plan.append((label, seed, run_dir, cfg))
    return plan


def run_table(name: str, seeds: list[int], steps: int, out: Path, extra: list[str], split: str = "dev",
              only: list[str] | None = None, collect: bool = False) -> dict[str, Any]:
    """Train (or reuse: a run directory whose last checkpoint is finished is only evaluated again) and evaluate
    every variant of table ``name`` (or the ``only`` ones), then write its markdown, JSON and plot.

    ``collect``: train nothing; evaluate the finished runs among the seeds and list the missing ones (a table
    gathered from runs made in several processes, each variant with the seeds it has)."""
    spec = TABLES[name]
    unknown = sorted(set(only or ()) - set(spec["variants"]))
    if unknown:
        raise Refused(f"--only: no variant {unknown} in {name}; variants: {list(spec['variants'])}")
    t0, commit = time.time(), git_commit() or "unknown"  # the code the runs start with
    given = list(extra)  # the user's overrides (reduced data, another root): said in the table's header
    base_file = config_file(spec["base"]) if "base" in spec else DEMO_CONFIG
    extra = anchored_root(base_file, [*split_overrides(split, synthetic="base" not in spec), *extra], extra)
    defaults = build_config(base_file, [])  # fills the keys an older run's config lacks (table_runs.identical_run)
    plan = plan_runs(name, seeds, steps, out, base_file, extra, split, only, defaults)
    base = build_config(base_file, extra)
    annotation_path(base.data, "train")  # generate the built-in benchmark once, before any run
    val_ds = build_dataset(base.data, "val", train=False, verbose=False)
    runs: dict[str, list[dict[str, Any]]] = {}
    missing: list[str] = []
    for i, (label, seed, run_dir, cfg) in enumerate(plan, 1):
        if not finished(run_dir, steps) and not run_dir.exists():
            same = identical_run(out / "runs", cfg, steps, defaults=defaults)
            if same is not None:
                link_run(run_dir, same)
                print(f"[{name}] {label} seed {seed}: the same run as {same}", flush=True)
        if collect and not finished(run_dir, steps):
            missing.append(f"{label} seed {seed}")
            continue
        fresh = not (run_dir / "checkpoints" / "last.pt").is_file()
        print(f"[{name}] run {i} of {len(plan)}: {run_start(label, seed, run_dir, steps)}", flush=True)
        row, _ = train_and_evaluate(cfg, val_ds)
        row["convergence"] = convergence(run_dir / "eval_log.csv", steps)
        row["trained_by"] = training_commits(run_dir)  # runs reused from older code show it here
        runs.setdefault(label, []).append({**row, "seed": seed})
        print(f"[{name}] {label} seed {seed}: " + ", ".join(f"{k} {row[k]:.4g}" for k in METRICS
                                                              if isinstance(row.get(k), float)) + pace(row, fresh), flush=True)
    if not runs:  # --collect with nothing finished: leave the folder (and the table it may hold) as it is
        raise Refused(f"[{name}] no finished run of {steps} steps under {out / 'runs' / name} (seeds {seeds}); "
                      "nothing written")
    summary = {label: {k: mean_std(rows, k) for k in METRICS} | {"n": len(rows)} for label, rows in runs.items()}
    ref = "FixAnchor" if "FixAnchor" in runs else None

    def paired_with(reference: str | None) -> dict[str, Any]:
        return {label: {k: paired_difference(rows, runs[reference], k) for k in METRICS}
                for label, rows in runs.items() if label != reference and len(rows) > 1} if reference in runs else {}

    paired = paired_with(ref)
    # The paper's comparisons are against the heatmap: the same differences against it, where the table has it.
    paired_heatmap = paired_with("Heatmap-anchor")
    doc = {"table": name, "split": split, "runs": runs, "summary": summary, "paired_reference": ref, "paired": paired,
           "paired_heatmap": paired_heatmap,
           "steps": steps, "seeds": seeds, "commit": commit, "missing": missing,
           "machine": f"{platform.platform()}, {torch.get_num_threads()} threads",
           "wall_seconds": round(time.time() - t0, 1), "config": OmegaConf.to_container(base, resolve=True),
           **({"overrides": given} if given else {})}
    out.mkdir(parents=True, exist_ok=True)
    # assigner.json is the comparison in its own schema; the full record of that table is assigner_runs.json.
    stem = (f"{name}_runs" if name == "assigner" else name) + ("" if split == "test" else "_dev")
    write_text_atomic(out / f"{stem}.json", json.dumps(doc, indent=2))
    kind = spec.get("columns", "faces" if "base" in spec else "pose")
    lines = markdown(doc, kind)
    write_text_atomic(out / f"{stem}.md", "\n".join(lines) + "\n")
    plot(summary, out / f"{stem}.png", plot_title(doc), kind)
    if name == "assigner":
        write_assigner_json(doc, ASSIGNER_NAMES, out / ("assigner.json" if split == "test" else "assigner_dev.json"))
    print("\n".join(lines))
    return doc


MULTI_TABLES = ("table5", "table6", "fig5")  # run by benchmarks/multi_tables.py, with its own options


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in MULTI_TABLES:
        from multi_tables import main as multi_main

        return multi_main(argv)
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", choices=[*sorted(TABLES), *MULTI_TABLES],
                   help=f"{', '.join(MULTI_TABLES)} (multi-person): handed to benchmarks/multi_tables.py with the rest "
                   "of the command line (name the table first), which takes its own options, not the ones below: see "
                   "multi_tables.py --help")
    p.add_argument("--seeds", type=seed_arg, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int_at_least(1), help="training steps per run, the same for every variant (default: the "
                   f"protocol's {STEPS}; table2's ResNets on a CPU: 150)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--only", nargs="+", metavar="LABEL", help="run only these variants (the files then hold only "
                   "them); key=value words after the labels are config overrides applied to every run")
    p.add_argument("--split", choices=("dev", "test"), default="dev",
                   help="dev (default): an independent instance of the benchmark (faces: held-out training identities), for "
                   "every choice; test: the evaluation "
                   "split, for final numbers (results files without the _dev suffix)")
    p.add_argument("--collect", action="store_true", help="train nothing: evaluate the finished runs under --out "
                   "among --seeds (each variant with the seeds it has) and list the missing ones")
    p.add_argument("overrides", nargs="*", help="config overrides applied to every run (e.g. data.root=...); "
                   "key=value items written after --only's labels are overrides too")
    a = p.parse_intermixed_args(argv)
    if a.table in MULTI_TABLES:  # named after an option: multi_tables.py takes it first, like the command above
        from multi_tables import main as multi_main

        rest = list(argv)
        rest.remove(a.table)
        return multi_main([a.table, *rest])
    check_unique(p, "--seeds", a.seeds)
    if a.only:
        a.only, a.overrides = split_only(a.only, a.overrides, TABLES[a.table]["variants"])
        if not a.only:
            p.error("argument --only: expected at least one variant label before the key=value settings")
    steps = a.steps if a.steps is not None else int(TABLES[a.table].get("steps", STEPS))
    saved = (f"finished runs are kept under {a.out / 'runs' / a.table}, a stopped training at its last checkpoint "
             "(a stopped evaluation is redone)")

    def body() -> int:
        run_table(a.table, a.seeds, steps, a.out, a.overrides, a.split, a.only, a.collect)
        return 0

    return run_main(body, saved)


if __name__ == "__main__":
    sys.exit(main())
