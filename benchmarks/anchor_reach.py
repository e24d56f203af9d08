"""Where the decoded anchor sits for landmarks inside the input and for those the crop cuts off.

For each finished run directory (a truncated-faces table's runs, say), on its own evaluation data (a dev run's
config names the dev split): per landmark group, the distance in cells from the anchor the decoder picked to
the true point, the *excess reach* (that distance minus the distance from the true point to the nearest cell
of the map: 0 when the anchor is the nearest cell possible), the share of anchors on the map's border, and the
error in input pixels. A diagnostic of how each assigner places its anchors; it chooses nothing.

    python benchmarks/anchor_reach.py benchmarks/results/runs/truncation/*_dev_s* --name truncation_dev

Runs of a strategy without anchors (the heatmap) are skipped with a note. Writes ``benchmarks/results/anchor_reach_<name>.{md,json}``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from protocol import git_commit, machine_line, write_results
from script_exit import Refused, results_place_problem, run_main
from table_runs import finished

from adaanchor.coords import input_to_cell
from adaanchor.engine.evaluate import predict
from adaanchor.engine.run import build_split, load_for_eval, resolve_run

GROUPS = ("inside", "cut_off")
MEASURES = ("dist_cells", "excess_cells", "border", "error_px")


def reach(preds: dict[str, Any], stride: int, map_hw: tuple[int, int]) -> dict[str, dict[str, float | int]]:
    """The measures per group. preds: :func:`adaanchor.engine.evaluate.predict`'s dict (``anchor``, ``gt``,
    ``pred`` ``(M, K, 2)`` input pixels; ``vis``, ``vis_labelled``, ``outside`` ``(M, K)``); map_hw: the output map
    ``(h, w)`` in cells. Inside: visible landmarks inside the input; cut off: labelled landmarks outside it."""
    a = input_to_cell(torch.as_tensor(preds["anchor"], dtype=torch.float64), stride).numpy()
    g = input_to_cell(torch.as_tensor(preds["gt"], dtype=torch.float64), stride).numpy()
    h, w = map_hw
    nearest = np.stack([np.clip(np.round(g[..., 0]), 0, w - 1), np.clip(np.round(g[..., 1]), 0, h - 1)], -1)
    dist = np.linalg.norm(a - g, axis=-1)
    excess = dist - np.linalg.norm(nearest - g, axis=-1)
    border = (np.round(a[..., 0]) <= 0) | (np.round(a[..., 0]) >= w - 1) | (np.round(a[..., 1]) <= 0) | \
        (np.round(a[..., 1]) >= h - 1)
    err = np.linalg.norm(preds["pred"] - preds["gt"], axis=-1)
    labelled, off = preds["vis_labelled"] > 0, np.asarray(preds["outside"], dtype=bool)
    masks = {"inside": (preds["vis"] == 2) & ~off, "cut_off": labelled & off}
    out: dict[str, dict[str, float | int]] = {}
    for name, m in masks.items():
        ok = m & np.isfinite(dist)
        out[name] = {"n": int(ok.sum())}
        for key, v in zip(MEASURES, (dist, excess, border.astype(float), err)):
            out[name][key] = float(v[ok].mean()) if ok.any() else float("nan")
    return out


def run_reach(run_dir: Path) -> dict[str, Any] | None:
    """:func:`reach` of one run directory on its config's evaluation data; None for a strategy without anchors."""
    cfg, ckpt = resolve_run(run_dir, need_weights=True)
    steps = cfg.train.max_steps
    if steps is not None and not finished(Path(run_dir), int(steps)):  # a stopped run was measured as a finished one
        raise Refused(f"{run_dir}: not finished ({steps} steps in its config, its training log ends before): finish it "
                      "(resume=auto) or leave it out")
    model, strategy, _ = load_for_eval(cfg, ckpt, "cpu")
    if "conf" not in strategy.heads:
        return None
    stride = int(strategy.stride)
    data = build_split(cfg, "val", stride, train=False, verbose=False)
    with torch.no_grad():
        preds = predict(model, strategy, data, batch_size=64, progress=False)
        img = data[0]["image"]
        map_hw = tuple(int(s) for s in model(img[None])["conf"].shape[-2:])
    return {"run": str(run_dir), "strategy": str(cfg.strategy.name), "steps": None if steps is None else int(steps),
            **reach(preds, stride, map_hw)}


def method_of(run_dir: Path) -> tuple[str, int]:
    """``(method label, seed)`` from a table run's folder name ``<label>_<split>_s<seed>``."""
    m = re.match(r"(.+)_(dev|test)_s(\d+)$", run_dir.name)
    return (m.group(1).replace("_", " "), int(m.group(3))) if m else (run_dir.name, 0)


def distinct_runs(runs: Sequence[Path]) -> list[Path]:
    """``runs`` sorted, each folder and each (method, seed) once: a run given twice was counted twice, which made n
    larger and the standard error smaller (-2.71 +- 0.46 where the two real runs give -2.94 +- 0.69)."""

    seen: dict[tuple[str, int], Path] = {}
    for run in sorted(runs):
        key = method_of(run)
        if key in seen:
            same = run.resolve() == seen[key].resolve()
            raise Refused(f"{run}: {'given twice' if same else f'the same method and seed as {seen[key]}'} "
                          f"({key[0]}, seed {key[1]}): each run counts once")
        seen[key] = run
    return list(seen.values())


def to_markdown(doc: dict[str, Any]) -> list[str]:
    steps = f", {doc['steps']} steps per run" if doc.get("steps") is not None else ""
    lines = [f"# Anchor reach: {doc['name']} (mean ± std over seeds{steps})", "",
             "Distances in cells of the output map; excess: the anchor's distance to the true point minus the nearest "
             "cell's; border: share of anchors on the map's edge; error in input pixels.", "",
             "| Method | seeds | group | n | anchor distance | excess reach | on border | error px |",
             "|---|---|---|---|---|---|---|---|"]
    for label, rows in doc["methods"].items():
        for g in GROUPS:
            vals = {k: [r[g][k] for r in rows] for k in MEASURES}
            # One seed has no spread: N/A, as the other tables print it, not a std of 0.
            cells = [f"{np.mean(v):.2f} ± " + (f"{np.std(v, ddof=1):.2f}" if len(v) > 1 else "N/A") for v in vals.values()]
            lines.append(f"| {label} | {len(rows)} | {g.replace('_', ' ')} | {rows[0][g]['n']} | " + " | ".join(cells) + " |")
    machine = doc.get("machine") or f"{doc['threads']} threads"
    lines += ["", f"Commit {doc['commit']}; {machine}; wall {doc['wall_seconds']:.0f} s."]
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="finished run directories")
    p.add_argument("--name", required=True, help="results file name: anchor_reach_<name>.{md,json}")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    a = p.parse_args(argv)
    if (why := results_place_problem(a.out, a.name)) is not None:  # before the work, not after it
        p.error(why)
    return run_main(lambda: reach_and_write(a), "nothing was written", resume=False)


def reach_and_write(a: argparse.Namespace) -> int:
    """The reach of every run of the parsed options ``a`` (a folder that is not a run, no checkpoint, data moved:
    refused in one line, as the adaanchor command prints it); writes ``anchor_reach_<name>.{json,md}``."""
    t0, methods = time.time(), {}
    for run in distinct_runs(a.runs):
        label, seed = method_of(run)
        res = run_reach(run)
        if res is None:  # a glob over a table's runs takes in the heatmap's too
            print(f"note: {run}: its strategy has no anchors: skipped", file=sys.stderr)
            continue
        r = {"seed": seed, **res}
        print(f"{label} s{seed}: " + "; ".join(f"{g} " + ", ".join(f"{k} {r[g][k]:.3f}" for k in MEASURES) for g in GROUPS))
        methods.setdefault(label, []).append(r)
    if not methods:
        raise Refused("no run of an anchor strategy among the runs given")
    budgets = sorted({r["steps"] for rows in methods.values() for r in rows}, key=str)
    if len(budgets) > 1:  # one row averaged runs of 3 and 8 steps, unsaid
        raise Refused(f"the runs were trained for different budgets ({', '.join(map(str, budgets))} steps): give the "
                      "runs of one budget")
    doc = {"name": a.name, "steps": budgets[0], "methods": methods, "commit": git_commit(), "machine": machine_line(), "threads": torch.get_num_threads(),
           "wall_seconds": time.time() - t0}
    write_results(a.out, f"anchor_reach_{a.name}", doc, "\n".join(to_markdown(doc)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
