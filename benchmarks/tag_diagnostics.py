"""Why learned-tag grouping fails where oracle-tag grouping works: detections and tags of trained bottom-up runs.

Reads the finished runs of ``multi_tables.py`` (``<out>/runs/<table>/<method>[_dev]_s<seed>/model.pt``; nothing is
trained) and measures on the held-out images, at the detection threshold ``gamma``:

- **detections**: per image; the fraction *near* a labelled ground-truth keypoint of their type (within
  ``--near`` pixels of the original image); near detections per labelled keypoint; the mean confidence of near
  and of far detections. Far detections are what the learned grouping can assemble into false poses.
- **tags**: for every pair of near detections in one image, ``|tag_a - tag_b|``; the ROC AUC of that distance
  for telling pairs of different people from pairs of one person (0.5: the tags carry no identity), the median
  distance of each kind, and the mean spread (std) of one person's tags.
- **poses**: poses per image from the learned grouping, against people per image.

    python benchmarks/tag_diagnostics.py --split dev --seeds 0 1 2   # writes results/tag_diagnostics_crowd_dev.{json,md}
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multi_tables as mt  # noqa: E402
from protocol import provenance  # noqa: E402
from script_exit import Refused, run_main  # noqa: E402

from adaanchor.atomic import write_text_atomic
from adaanchor.cli.argtypes import (
    check_unique,
    int_at_least,  # noqa: E402
    positive,
    seed_arg,
)
from adaanchor.data.bottomup import to_image_coords  # noqa: E402
from adaanchor.engine import bottomup as eb  # noqa: E402
from adaanchor.safe_torch import safe_load  # noqa: E402

KEYS = ("detections_per_image", "near_fraction", "near_per_keypoint", "score_near", "score_far", "tag_auc",
        "tag_same_median", "tag_diff_median", "tag_spread", "poses_per_image", "people_per_image")
LABELS = ("detections / image", "near fraction", "near / keypoint", "score near", "score far", "tag AUC",
          "tag gap, one person (median)", "tag gap, two people (median)", "tag spread", "poses / image",
          "people / image")


def image_stats(xy: np.ndarray, score: np.ndarray, valid: np.ndarray, tag: np.ndarray, gt_xy: np.ndarray,
                gt_vis: np.ndarray, near: float) -> dict[str, list[float]]:
    """One image's raw measurements.

    Args:
        xy: ``(K, M, 2)`` detections in original-image pixels; score, valid, tag: ``(K, M)``.
        gt_xy: ``(N, K, 2)`` ground truth; gt_vis: ``(N, K)`` (> 0: labelled).
    Returns:
        lists: ``dist`` (each detection's distance to the nearest labelled keypoint of its type, inf if none),
        ``score``, ``near_count`` (near detections per labelled keypoint), ``same``/``diff`` (tag distances of
        near pairs of one person / of two), ``spread`` (std of each person's near tags, people with two or more).
    """
    out: dict[str, list[float]] = {"dist": [], "score": [], "near_count": [], "same": [], "diff": [], "spread": []}
    owners, tags = [], []
    for k in range(xy.shape[0]):
        m = np.flatnonzero(valid[k])
        d = np.linalg.norm(xy[k, m][:, None] - gt_xy[None, :, k], axis=-1)  # (m, N)
        d[:, gt_vis[:, k] <= 0] = np.inf
        nearest = d.min(axis=1) if d.shape[1] else np.full(m.size, np.inf)
        out["dist"] += nearest.tolist()
        out["score"] += score[k, m].tolist()
        out["near_count"] += (d[:, gt_vis[:, k] > 0] < near).sum(axis=0).tolist()
        hit = nearest < near
        owners += d[hit].argmin(axis=1).tolist() if hit.any() else []
        tags += tag[k, m[hit]].tolist()
    owners_a, tags_a = np.asarray(owners), np.asarray(tags, dtype=np.float64)
    i, j = np.triu_indices(len(tags_a), k=1)
    gap = np.abs(tags_a[i] - tags_a[j])
    one = owners_a[i] == owners_a[j]
    out["same"], out["diff"] = gap[one].tolist(), gap[~one].tolist()
    out["spread"] = [float(tags_a[owners_a == p].std()) for p in np.unique(owners_a) if (owners_a == p).sum() > 1]
    return out


def separation_auc(same: Sequence[float], diff: Sequence[float]) -> float | None:
    """P(a different-person distance > a same-person distance), ties counted half (the ROC AUC); None if a kind
    is missing."""
    if not len(same) or not len(diff):
        return None
    values = np.concatenate([same, diff])
    ranks = _average_ranks(values)
    n_same, n_diff = len(same), len(diff)
    return float((ranks[n_same:].sum() - n_diff * (n_diff + 1) / 2) / (n_same * n_diff))


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of ``x``, ties given their average rank (Mann-Whitney)."""
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def run_stats(model: torch.nn.Module, strategy: Any, data: dict[str, Any], gamma: float, near: float) -> dict[str, Any]:
    """:data:`KEYS` of one trained run on the held-out images."""
    truth = eb.ground_truth(data["val"])
    acc: dict[str, list[float]] = {"dist": [], "score": [], "near_count": [], "same": [], "diff": [], "spread": []}
    n_det, n_pose, n_people = [], [], []
    for outputs, meta in eb.predict_outputs(model, data["val"]):
        dec, tag = strategy.decode_multi(outputs, gamma)
        xy = to_image_coords(dec.xy[0].cpu().numpy().astype(np.float64), meta["affine"])
        gt_xy, gt_vis = truth[meta["image_id"]]
        one = image_stats(xy, dec.score[0].cpu().numpy(), dec.valid[0].cpu().numpy(), tag[0].cpu().numpy(),
                          gt_xy, gt_vis, near)
        for key, values in one.items():
            acc[key] += values
        n_det.append(int(dec.valid.sum()))
        n_pose.append(len(strategy.group_decoded(dec, tag, gamma)[0].score))  # as decode_poses, without refine
        n_people.append(len(gt_xy))
    dist, score = np.asarray(acc["dist"]), np.asarray(acc["score"])
    is_near = dist < near

    def mean(x: np.ndarray | list[float]) -> float | None:
        return float(np.mean(x)) if len(x) else None

    return {"detections_per_image": mean(n_det), "near_fraction": mean(is_near), "near_per_keypoint": mean(acc["near_count"]),
            "score_near": mean(score[is_near]), "score_far": mean(score[~is_near]),
            "tag_auc": separation_auc(acc["same"], acc["diff"]),
            "tag_same_median": float(np.median(acc["same"])) if acc["same"] else None,
            "tag_diff_median": float(np.median(acc["diff"])) if acc["diff"] else None,
            "tag_spread": mean(acc["spread"]), "poses_per_image": mean(n_pose), "people_per_image": mean(n_people)}


def markdown(doc: dict[str, Any]) -> str:
    """The table of :data:`KEYS`, one row per method (mean over seeds)."""
    head = ["Method", "seeds", *LABELS]
    budget = f", {doc['steps']} steps" if doc.get("steps") else ""
    lines = [f"# Tag and detection diagnostics: {doc['bench']} ({doc['split']}{budget}), gamma {doc['gamma']}, near = "
             f"within {doc['near']} px", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, rows in doc["runs"].items():
        cells = []
        for key in KEYS:
            vals = [r[key] for r in rows if r[key] is not None]
            # a mean over fewer seeds than the row's says so: a seed without detections has no such value
            short = f" (n={len(vals)})" if vals and len(vals) < len(rows) else ""
            cells.append(f"{np.mean(vals):.3g}{short}" if vals else "N/A")
        lines.append(f"| {method} | {len(rows)} | " + " | ".join(cells) + " |")
    lines += ["", "Near: a detection within the near distance of a labelled keypoint of its type (original-image pixels). "
              "Tag AUC: how well the tag gap of two near detections in one image tells two people from one (0.5: "
              "the tags carry no identity). Tag spread: the std of one person's tags. Mean over seeds ((n=...): over the seeds "
              "that have the value, where a seed has none, e.g. no detection near a keypoint).",
              "", f"Commit {doc['commit']}; {doc.get('machine', 'machine not recorded')}; runs from `{doc['runs_dir']}`."]
    return "\n".join(lines) + "\n"


def finished_runs(out: Path, bench: str, split: str, methods: Sequence[str],
                  seeds: Sequence[int]) -> dict[tuple[str, int], Path | None]:
    """``(method, seed) -> run folder`` of the finished runs (``model.pt`` and ``run.json``), None for the others
    (each said on a line: the table is made of the runs there are)."""
    found: dict[tuple[str, int], Path | None] = {}
    for method in methods:
        for seed in seeds:
            run_dir = mt.run_dir_for(out, bench, "ae", method, seed, split)
            done = (run_dir / "model.pt").is_file() and (run_dir / "run.json").is_file()
            found[method, seed] = run_dir if done else None
            if not done:
                print(f"{method} seed {seed}: no finished run in {run_dir} (run multi_tables.py first); skipped")
    return found


def check_runs(found: Mapping[tuple[str, int], Path | None], expected: Mapping[str, Any]) -> int | None:
    """The step count of the finished runs in ``found``; a ``SystemExit`` naming the run when one was trained with
    other options than ``expected`` (its model is rebuilt with these: another width does not load, other data
    or task options give numbers of another setting), or when the runs have different budgets (one table would
    mix them)."""
    budgets: dict[int, list[str]] = {}
    for (method, seed), run_dir in found.items():
        if run_dir is None:
            continue
        settings = json.loads((run_dir / "run.json").read_text()).get("settings", {})
        other = [f"{k} {settings.get(k)!r}, not {v!r}" for k, v in expected.items() if settings.get(k) != v]
        if other:
            raise Refused(f"{run_dir} was trained with other options ({'; '.join(other)}): give the options of "
                             "its table (--n-train, --n-val, --width, --task-option)")
        budgets.setdefault(int(settings["steps"]), []).append(f"{method} seed {seed}")
    if len(budgets) > 1:
        raise Refused("the runs have different budgets, which one table would mix: " + "; ".join(
            f"{s} steps: {', '.join(names)}" for s, names in sorted(budgets.items())) + "; choose --methods and --seeds")
    return next(iter(budgets), None)


def write(doc: dict[str, Any], out: Path) -> None:
    """``<out>/tag_diagnostics_<bench>[_dev].{json,md}``."""
    stem = f"tag_diagnostics_{doc['bench']}" + ("_dev" if doc["split"] == "dev" else "")
    write_text_atomic(out / f"{stem}.json", json.dumps(doc, indent=1))
    write_text_atomic(out / f"{stem}.md", markdown(doc))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bench", choices=sorted(mt.BENCHES), default="crowd")
    p.add_argument("--split", choices=("dev", "test"), default="dev")
    p.add_argument("--methods", nargs="+", default=list(mt.METHODS), choices=list(mt.METHODS))
    p.add_argument("--seeds", type=seed_arg, nargs="+", default=[0])
    p.add_argument("--gamma", type=positive, default=0.1, help="detection threshold (the tables' main columns: 0.1)")
    p.add_argument("--near", type=positive, default=6.0, help="pixels: a detection this close to a keypoint is near")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results",
                   help="the folder multi_tables.py wrote (its runs/ are read); the results are written there")
    p.add_argument("--data-cache", type=Path, default=mt.REPO / "data-cache")
    p.add_argument("--n-train", type=int_at_least(1))
    p.add_argument("--n-val", type=int_at_least(1))
    p.add_argument("--width", type=int_at_least(1), default=mt.TRAIN["tiny_width"])
    p.add_argument("--task-option", action="append", metavar="KEY=VALUE",
                   help="the bottomup option the runs were trained with (multi_tables.py --task-option)")
    a = p.parse_args(argv)
    check_unique(p, "--seeds", a.seeds)
    try:
        options = mt.parse_task_options(a.task_option)
    except Refused as e:
        p.error(str(e))
    torch.set_num_threads(1)
    return run_main(lambda: diagnose(a, options), "nothing was written", resume=False)


def diagnose(a: argparse.Namespace, options: dict[str, Any]) -> int:
    """The diagnostics of the finished runs the parsed options ``a`` name, written under ``--out``."""
    data = mt.bench_data(a.bench, a.data_cache, a.n_train, a.n_val, a.split, {"ae": options} if options else None)
    expected = json.loads(json.dumps({"tiny_width": a.width, "task": "ae", "bench": data["options"],
                                      "task_cfg": data["task_cfg"].get("ae", {})}))
    found = finished_runs(a.out, a.bench, a.split, a.methods, a.seeds)
    steps = check_runs(found, expected)
    runs: dict[str, list[dict[str, Any]]] = {}
    for (method, seed), run_dir in found.items():
        if run_dir is not None:
            weights = run_dir / "model.pt"
            model, strategy = mt.build_run("ae", method, seed, a.width, data)
            model.load_state_dict(safe_load(weights))
            row = {"seed": seed, **run_stats(model, strategy, data, a.gamma, a.near)}
            runs.setdefault(mt.METHODS[method], []).append(row)
            print(f"{method} seed {seed}: " + ", ".join(f"{k} {v:.3g}" for k, v in row.items()
                                                         if isinstance(v, float)), flush=True)
    if not runs:  # nothing to report: leave the folder (and any earlier results in it) as it is
        raise Refused(f"no finished run of {', '.join(a.methods)} (seeds {a.seeds}) under {a.out / 'runs'}; "
                      "nothing written")
    doc = {"bench": a.bench, "split": a.split, "steps": steps, "gamma": a.gamma, "near": a.near, "runs": runs,
           "runs_dir": str(a.out / "runs"), "task_options": options, **provenance()}
    write(doc, a.out)
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
