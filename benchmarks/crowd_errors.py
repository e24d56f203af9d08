"""Localization errors of a crowd table's trained runs, by how far each labelled keypoint lies off the output map.

    python benchmarks/crowd_errors.py --out DIR [--out DIR ...] [--labels A B] [--table table5] [--methods ...]
                                      [--seeds 0 1 2] [--split test] [--gamma 0.1] [--name crowd_errors]
                                      [--results benchmarks/results]

Each ``--out`` is the ``--out`` folder of a ``multi_tables.py`` table (its runs under ``runs/<table>/``), e.g. the
same table trained with two local supervisions. The benchmark instance (``--n-train``/``--n-val``), width and task
options are those each run's ``run.json`` records; runs of different ones are refused, naming them. For every run, every labelled keypoint of the held-out images is
matched to the nearest detection of its type (the decoding at ``--gamma``, before any grouping: the localization
alone, as the oracle-tag grouping would take it), and its distance in image pixels is put in a band by how far
the keypoint lies beyond the rectangle of the map's outer cell centres (``off_map.beyond_cells``), or inside it
from its nearest edge: inside and more than ``EDGE_CELLS`` cells from the edge, inside within them, beyond the
edge by up to ``local_radius`` cells, or further. A keypoint with no detection of its type counts as missed.
Reports per folder, method and band the keypoints, the median and mean error of the matched ones, and the share
within 4 px; writes ``<name>.md`` / ``.json`` under ``--results``, with each folder's training steps and the commits
that trained its runs (their ``run.json``). Nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multi_tables as mt  # noqa: E402
from multi_runs import build_run  # noqa: E402
from off_map import beyond_cells  # noqa: E402
from protocol import provenance  # noqa: E402
from script_exit import Refused, results_place_problem, run_main  # noqa: E402
from speed import write_results  # noqa: E402

from adaanchor.cli.argtypes import check_unique, seed_arg  # noqa: E402
from adaanchor.data.bottomup import to_image_coords  # noqa: E402
from adaanchor.engine import bottomup as eb  # noqa: E402
from adaanchor.safe_torch import safe_load  # noqa: E402
from adaanchor.strategies.anchor import AnchorStrategy  # noqa: E402

BANDS = ("inside, away from the edge", "inside, near the edge", "beyond, up to the radius", "beyond the radius")
EDGE_CELLS = 3.0  # "near the edge": within this many cells inside the outer cell centres
CLOSE_PX = 4.0


def edge_cells(points: np.ndarray, width: int, height: int, stride: int) -> np.ndarray:
    """Signed distance in cells of each point ``(P, 2)`` to the rectangle of the outer cell centres of the map of a
    ``width x height`` image: beyond it positive (:func:`off_map.beyond_cells`), inside it minus the distance to
    its nearest edge."""
    half = (stride - 1) / 2.0
    hx, hy = stride * (width // stride - 1) + half, stride * (height // stride - 1) + half
    inside = np.minimum.reduce([points[:, 0] - half, hx - points[:, 0], points[:, 1] - half, hy - points[:, 1]])
    beyond = beyond_cells(points, width, height, stride)
    return np.where(beyond > 0, beyond, -np.maximum(inside, 0.0) / stride)


def band_of(signed: np.ndarray, radius: float) -> np.ndarray:
    """The :data:`BANDS` index of signed edge distances (:func:`edge_cells`)."""
    return np.select([signed < -EDGE_CELLS, signed <= 0, signed <= radius], [0, 1, 2], 3)


def keypoint_errors(strategy: Any, cached: list, truth: dict, sizes: dict, stride: int, gamma: float,
                    radius: float) -> list[tuple[int, float]]:
    """``(band, error px or inf when missed)`` of every labelled keypoint of the cached images."""
    out: list[tuple[int, float]] = []
    for outputs, meta in cached:
        dec, _ = strategy.decode_multi(outputs, gamma)
        xy = to_image_coords(dec.xy[0].cpu().numpy().astype(np.float64), meta["affine"])  # (K, M, 2)
        ok = dec.valid[0].cpu().numpy() & (dec.score[0].cpu().numpy() >= gamma)
        gt_xy, gt_vis = truth[meta["image_id"]]
        w, h = sizes[meta["image_id"]]
        for k in range(gt_xy.shape[1]):
            lab = gt_vis[:, k] > 0
            if not lab.any():
                continue
            pts = gt_xy[lab, k].astype(np.float64)
            bands = band_of(edge_cells(pts, w, h, stride), radius)
            det = xy[k][ok[k]]
            d = (np.linalg.norm(det[None] - pts[:, None], axis=-1).min(axis=1) if len(det)
                 else np.full(len(pts), np.inf))
            out += list(zip(bands.tolist(), d.tolist()))
    return out


def summary(rows: list[tuple[int, float]]) -> dict[str, dict[str, Any]]:
    res = {}
    for b, name in enumerate(BANDS):
        d = np.array([e for band, e in rows if band == b], dtype=np.float64)
        hit = d[np.isfinite(d)]
        res[name] = {"n": int(d.size), "missed": int(d.size - hit.size),
                     "median_px": float(np.median(hit)) if hit.size else None,
                     "mean_px": float(hit.mean()) if hit.size else None,
                     "within_4px": float(np.mean(d <= CLOSE_PX)) if d.size else None}
    return res


def run_errors(out: Path, table: str, method: str, seed: int, data: dict, gamma: float, width: int) -> dict:
    bench = mt.TABLES[table]["benches"][0]
    run = mt.run_dir_for(out, bench, "ae", method, seed, data["split"])
    weights = run / "model.pt"
    if not weights.is_file():
        raise Refused(f"{weights}: no trained run (train it with multi_tables.py {table} --out {out})")
    model, strategy = build_run("ae", method, seed, width, data)
    model.load_state_dict(safe_load(weights))
    gt = json.loads(Path(data["gt"]).read_text())
    sizes = {im["id"]: (im["width"], im["height"]) for im in gt["images"]}
    radius = float(getattr(strategy.inner, "local_radius", AnchorStrategy.DEFAULTS["local_radius"]))
    with torch.no_grad():
        cached = eb.predict_outputs(model, data["val"])
    rows = keypoint_errors(strategy, cached, eb.ground_truth(data["val"]), sizes, int(model.backbone.stride), gamma,
                           radius)
    return summary(rows)


#: The settings of a run (its run.json) that define the data and the model the errors are measured with.
DATA_SETTINGS = ("bench", "tiny_width", "task_cfg", "strategy_cfg")


def runs_settings(outs: list[Path], table: str, methods: list[str], seeds: list[int], split: str) -> dict[str, Any]:
    """The :data:`DATA_SETTINGS` every run was trained with (from its ``run.json``); refuses runs of mixed settings,
    naming them. Runs trained by ``multi_tables.py --n-train 32 --n-val 16`` were scored on the full benchmark."""
    bench = mt.TABLES[table]["benches"][0]
    seen: dict[str, list[str]] = {}
    for out in outs:
        for method in methods:
            for seed in seeds:
                run = mt.run_dir_for(out, bench, "ae", method, seed, split)
                try:
                    settings = json.loads((run / "run.json").read_text())["settings"]
                except (OSError, ValueError, KeyError, TypeError):
                    raise Refused(f"{run}/run.json: no trained run with its settings (train it with multi_tables.py "
                                  f"{table} --split {split} --out {out})") from None
                key = json.dumps({k: settings.get(k) for k in DATA_SETTINGS}, sort_keys=True)
                seen.setdefault(key, []).append(str(run))
    if len(seen) > 1:
        groups = "; ".join(f"{json.loads(k)}: {', '.join(runs)}" for k, runs in seen.items())
        raise Refused(f"the runs were trained on other data or models, not comparable in one table: {groups}")
    return json.loads(next(iter(seen)))


def folder_training(out: Path, table: str, methods: list[str], seeds: list[int], split: str) -> dict[str, Any]:
    """How one ``--out`` folder's runs were trained, from their ``run.json``: the folder (``out``), ``steps`` (the
    distinct budgets) and ``commits`` (training commit -> runs; ``unknown`` where none is recorded), so that folders
    of other budgets or code are not read as one experiment."""
    bench = mt.TABLES[table]["benches"][0]
    steps: set[int] = set()
    commits: dict[str, int] = {}
    for method in methods:
        for seed in seeds:
            record = json.loads((mt.run_dir_for(out, bench, "ae", method, seed, split) / "run.json").read_text())
            if isinstance(record.get("settings", {}).get("steps"), int):
                steps.add(record["settings"]["steps"])
            train = record.get("train") if isinstance(record.get("train"), dict) else {}
            commit = str(train.get("commit") or "unknown").split(" ")[0][:9]
            commits[commit] = commits.get(commit, 0) + 1
    return {"out": str(out), "steps": sorted(steps), "commits": commits}


def training_lines(doc: dict[str, Any]) -> list[str]:
    """One markdown line per folder: its runs' training steps and the commits that trained them."""
    lines = []
    for label, t in doc.get("training", {}).items():
        steps = ", ".join(str(v) for v in t["steps"]) or "not recorded"
        by = "; ".join(f"{c} ({n} run{'s' if n > 1 else ''})" if c != "unknown" else
                       f"no training commit recorded ({n} run{'s' if n > 1 else ''})" for c, n in t["commits"].items())
        lines.append(f"- {label} (`{t['out']}`): {steps} steps; trained by {by}")
    return ["", "Runs:", *lines] if lines else []


def gamma_arg(text: str) -> float:
    """``--gamma``: the detection threshold, in [0, 1] (docs/multi-person.md)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def _avg(cells: list[dict[str, Any]], key: str, fmt: str) -> str:
    vals = [c[key] for c in cells if c[key] is not None]
    return format(float(np.mean(vals)), fmt) if vals else "N/A"


def to_markdown(doc: dict[str, Any]) -> str:
    lines = [f"# {doc['table']} ({doc['split']} split): localization error by distance off the map", "",
             f"Each labelled keypoint matched to the nearest detection of its type at gamma = {doc['gamma']} (before "
             f"grouping), image pixels; bands by where it lies against the map's outer cell centres (near the "
             f"edge: within {EDGE_CELLS:g} cells inside; radius {doc['radius']} cells). Mean over seeds {doc['seeds']} of each run's median / mean; 'within "
             f"{CLOSE_PX:g} px' counts misses as outside.", "",
             "| runs | method | band | keypoints (a run) | missed | median px | mean px | within 4 px |",
             "|---|---|---|---|---|---|---|---|"]
    for label, methods in doc["results"].items():
        for method, per_seed in methods.items():
            for band in BANDS:
                cells = [s[band] for s in per_seed.values()]
                lines.append(f"| {label} | {method} | {band} | {cells[0]['n']} | {_avg(cells, 'missed', '.1f')} | "
                             f"{_avg(cells, 'median_px', '.2f')} | {_avg(cells, 'mean_px', '.2f')} | "
                             f"{_avg(cells, 'within_4px', '.3f')} |")
    lines += training_lines(doc)
    lines += ["", f"Scored by commit {doc.get('commit', 'unknown')}; {doc.get('machine', 'machine unknown')}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, action="append", required=True, help="a table's --out folder (repeat)")
    p.add_argument("--labels", nargs="+", help="a name for each --out (default: the folder names)")
    p.add_argument("--table", default="table5", choices=("table5", "table6"))
    p.add_argument("--methods", nargs="+", default=["fixanchor", "adaanchor", "localanchor"], choices=list(mt.METHODS))
    p.add_argument("--seeds", type=seed_arg, nargs="+", default=[0, 1, 2])
    p.add_argument("--split", choices=("dev", "test"), default="test")
    p.add_argument("--gamma", type=gamma_arg, default=0.1, help="detection threshold in [0, 1] (default 0.1)")
    p.add_argument("--data-cache", type=Path, default=mt.REPO / "data-cache")
    p.add_argument("--results", type=Path, default=Path(__file__).resolve().parent / "results")
    p.add_argument("--name", default="crowd_errors")
    a = p.parse_args(argv)
    if (why := results_place_problem(a.results, a.name)) is not None:  # before the work, not after it
        p.error(why)
    labels = a.labels or [o.name for o in a.out]
    if len(labels) != len(a.out):
        p.error(f"--labels: {len(a.out)} names needed (one per --out), got {len(labels)}")
    if len(set(labels)) != len(labels):  # one folder's results replaced the other's, exit 0
        twice = sorted({x for x in labels if labels.count(x) > 1})
        p.error(f"--out folders need their own labels, {twice} name several (folders of one name: give --labels)")
    check_unique(p, "--seeds", a.seeds)
    torch.set_num_threads(1)
    return run_main(lambda: score_runs(a, labels), "nothing was written", resume=False)


def score_runs(a: argparse.Namespace, labels: list[str]) -> int:
    """Score every run of the parsed options on the benchmark instance its run.json records; write the results."""
    settings = runs_settings(a.out, a.table, a.methods, a.seeds, a.split)
    opts = settings["bench"] or {}
    data = mt.bench_data(mt.TABLES[a.table]["benches"][0], a.data_cache, opts.get("n_train"), opts.get("n_val"),
                         a.split, {"ae": settings["task_cfg"]} if settings["task_cfg"] else None,
                         settings["strategy_cfg"])
    width = int(settings["tiny_width"] or mt.TRAIN["tiny_width"])
    results = {label: {m: {str(s): run_errors(out, a.table, m, s, data, a.gamma, width)
                           for s in a.seeds} for m in a.methods} for label, out in zip(labels, a.out)}
    doc = {"table": a.table, "split": a.split, "gamma": a.gamma, "seeds": a.seeds, "radius":
           AnchorStrategy.DEFAULTS["local_radius"], "outs": [str(o) for o in a.out], "bench": opts,
           "results": results, "training": {label: folder_training(out, a.table, a.methods, a.seeds, a.split)
                                              for label, out in zip(labels, a.out)}, **provenance()}
    write_results(a.results, a.name, doc, to_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
