"""Scaled-down twins of the paper's tables, one command each, on the built-in occlusion benchmark.

    python benchmarks/paper_tables.py table1 [--seeds 0 1 2] [--steps N] [--out benchmarks/results]
    python benchmarks/paper_tables.py fig6      # k in {1, 5, 10, 20, 50}
    python benchmarks/paper_tables.py sigma     # sigma in {1, 2, 4, 8, 16} input px
    python benchmarks/paper_tables.py table2    # backbones: tiny, resnet18, resnet50
    python benchmarks/paper_tables.py locality  # the assignment-drift investigation (candidate radius, warm-up)

Each writes ``<name>.md``, ``<name>.json`` and ``<name>.png`` under ``--out`` with the commit, the machine
and the wall time. Every variant uses the same data, backbone, step count and data order; the training
seed is the only thing that varies across repeats. Nothing here is tuned on the evaluation split: the
choices compared are the ones the paper and docs/method.md name.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import OmegaConf

from adaanchor.config import build_config
from adaanchor.data.build import annotation_path, build_dataset
from adaanchor.demo import DEMO_CONFIG, train_and_evaluate

ADA = ["strategy.name=adaanchor"]
REFERENCE = {"Heatmap-anchor": ["strategy.name=heatmap"], "FixAnchor": ["strategy.name=fixanchor"]}
TABLES: dict[str, dict[str, Any]] = {
    # name -> {"variants": {label: overrides}, "repeat": labels run over every seed (others: first seed)}
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
        },
        "repeat": ["Heatmap-anchor", "FixAnchor", "Ours (mul)", "AlignAnchor (task-aligned assigner)"],
    },
    # Sweeps of AdaAnchor's own hyper-parameters, with the heatmap and FixAnchor beside them for reference.
    "fig6": {"steps": 400, "variants": {**REFERENCE, **{f"k={k}": [*ADA, f"strategy.topk={k}"] for k in (1, 5, 10, 20, 50)}},
             "repeat": []},
    "sigma": {"steps": 400, "variants": {**REFERENCE, **{f"sigma={s}px": [*ADA, f"strategy.sigma={s}"] for s in (1, 2, 4, 8, 16)}},
              "repeat": []},
    "table2": {
        "steps": 150,  # ResNet-50 on a CPU: about 1.5 s a step at 72x96
        "variants": {f"{m} {b}": [f"strategy.name={m}", f"model.backbone={b}", "model.deconv_channels=64"]
                     for b in ("tiny", "resnet18", "resnet50") for m in ("heatmap", "fixanchor", "adaanchor")},
        "repeat": [],
    },
    "table4": {
        "steps": 400,
        "base": "configs/faces/occluded_ytfaces68.yaml",
        "variants": {"Regression-anchor": ["strategy.name=regression"], "Heatmap-anchor": ["strategy.name=heatmap"],
                     "FixAnchor": ["strategy.name=fixanchor"], "Ours": ADA},
        "repeat": ["Heatmap-anchor", "FixAnchor", "Ours"],
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
METRICS = ("vis_error", "inv_error", "vis_score", "inv_score", "score_auc", "ap", "nme", "nme_vis", "nme_inv", "fr")
REPO = Path(__file__).resolve().parent.parent


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _mean_std(rows: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals)) if len(vals) > 1 else None


def _cell(mean: float | None, std: float | None, fmt: str, scale: float = 1.0) -> str:
    if mean is None:
        return "N/A"
    s = format(mean * scale, fmt)
    return s + (f" ± {format(std * scale, fmt)}" if std is not None else "")


def run_table(name: str, seeds: list[int], steps: int, out: Path, extra: list[str]) -> dict[str, Any]:
    spec = TABLES[name]
    t0, commit = time.time(), _commit()  # the code the runs start with
    base_file = REPO / spec["base"] if "base" in spec else DEMO_CONFIG
    base = build_config(base_file, extra)
    annotation_path(base.data, "train")  # generate the built-in benchmark once, before any run
    val_ds = build_dataset(base.data, "val", train=False, verbose=False)
    runs: dict[str, list[dict[str, Any]]] = {}
    for label, over in spec["variants"].items():
        over = [o.replace("WARMUP", str(int(0.3 * steps))) for o in over]
        for seed in seeds if label in spec["repeat"] else seeds[:1]:
            cfg = build_config(base_file, [*extra, *over, f"seed={seed}", f"train.max_steps={steps}",
                                             f"train.lr_steps=[{int(0.8 * steps)}]", "train.progress=false",
                                             f"out_dir={out / 'runs' / name / label.replace(' ', '_').replace('/', '-')}_s{seed}"])
            row, _ = train_and_evaluate(cfg, val_ds)
            runs.setdefault(label, []).append({**row, "seed": seed})
            print(f"[{name}] {label} seed {seed}: " + ", ".join(f"{k} {row[k]:.4g}" for k in METRICS
                                                                  if isinstance(row.get(k), float)), flush=True)
    summary = {label: {k: _mean_std(rows, k) for k in METRICS} | {"n": len(rows)} for label, rows in runs.items()}
    doc = {"table": name, "runs": runs, "summary": summary, "steps": steps, "seeds": seeds,
           "commit": commit, "machine": f"{platform.platform()}, {torch.get_num_threads()} threads",
           "wall_seconds": round(time.time() - t0, 1), "config": OmegaConf.to_container(base, resolve=True)}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=2))
    lines = [f"# {name}: {steps} steps per run, seeds {seeds} (mean ± std where repeated)", ""]
    if "base" in spec:  # faces: NME in percent of the inter-ocular distance
        lines += ["| Method | n | NME | NME vis. | NME occl. | FR@0.1 | Vis.Score | Inv.Score | Score AUC |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for label, s in summary.items():
            lines.append(f"| {label} | {s['n']} | {_cell(*s['nme'], '.2f', 100)} | {_cell(*s['nme_vis'], '.2f', 100)} | "
                         f"{_cell(*s['nme_inv'], '.2f', 100)} | {_cell(*s['fr'], '.1f', 100)} | {_cell(*s['vis_score'], '.3f')} | "
                         f"{_cell(*s['inv_score'], '.3f')} | {_cell(*s['score_auc'], '.3f')} |")
    else:
        lines += ["| Method | n | Vis.Error | Vis.Score | Inv.Error | Inv.Score | Score AUC | AP |", "|---|---|---|---|---|---|---|---|"]
        for label, s in summary.items():
            lines.append(f"| {label} | {s['n']} | {_cell(*s['vis_error'], '.2f')} | {_cell(*s['vis_score'], '.3f')} | "
                         f"{_cell(*s['inv_error'], '.2f')} | {_cell(*s['inv_score'], '.3f')} | {_cell(*s['score_auc'], '.3f')} | "
                         f"{_cell(*s['ap'], '.1f', 100)} |")
    lines += ["", f"Commit {doc['commit']}; {doc['machine']}; wall {doc['wall_seconds']:.0f} s."]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    _plot(summary, out / f"{name}.png", name)
    print("\n".join(lines))
    return doc


def _plot(summary: dict[str, Any], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(summary)
    fig, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(labels) + 1.5))
    for ax, key in zip(axes, ("inv_error", "inv_score")):
        m = [summary[lb][key][0] or 0 for lb in labels]
        e = [summary[lb][key][1] or 0 for lb in labels]
        ax.barh(range(len(labels)), m, xerr=e, color="#2ca02c")
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{key} ({'px, lower is better' if 'error' in key else 'mean confidence'})", fontsize=9)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", choices=sorted(TABLES))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--steps", type=int, help="training steps per run, the same for every variant (default: the "
                   "table's own, sized to fit 30 minutes on 2 CPU cores: 600 for table1, 400 for table4/fig6/sigma, 150 for table2)")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("overrides", nargs="*", help="config overrides applied to every run (e.g. data.root=...)")
    a = p.parse_intermixed_args(argv)
    steps = a.steps or int(TABLES[a.table].get("steps", 600))
    run_table(a.table, a.seeds, steps, a.out, a.overrides)
    return 0


if __name__ == "__main__":
    sys.exit(main())
