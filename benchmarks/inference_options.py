"""What an inference option gives finished runs: each evaluated without and with it, on its own evaluation data (a
dev run's config names the dev split), paired run by run.

    python benchmarks/inference_options.py RUN_DIR [RUN_DIR ...] --option flip_test|bf16 --name NAME [--out DIR]

``flip_test``: ``eval.flip_test`` (docs/metrics.md); ``bf16``: the backbone in bfloat16 and the heads in float32
(``adaanchor predict --precision bf16``, :mod:`adaanchor.models.precision`). Per method (the run folders'
``<label>_<split>_s<seed>`` names), the mean ± standard error over its runs of ``with − without`` for every metric
both evaluations report, and the evaluation's time with the option over its time without (one process, after an
untimed pass). Top-down runs are scored by :func:`~adaanchor.engine.evaluate.evaluate_dataset` (errors, score AUC,
AP); multi-person runs (``task=bottomup`` or ``centre``) by :func:`~adaanchor.engine.multi.evaluate_multi` (AP, AP50,
AP75, recall at the run's gamma; the flip test there merges the maps before decoding), a bottom-up run also by its AP
with oracle tags (``oracle_ap``, :func:`~adaanchor.engine.bottomup.oracle_poses`: the localization alone, the
grouping by the ground truth, as the paper's comparison of the anchors reads it). A measurement of an inference
option; it chooses nothing (the tables use neither). Writes ``<option>_<name>.{md,json}``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from anchor_reach import distinct_runs, method_of
from omegaconf import OmegaConf
from protocol import git_commit, machine_line, write_results
from script_exit import results_place_problem, run_main  # noqa: E402

from adaanchor.engine.evaluate import evaluate_dataset
from adaanchor.engine.multi import evaluate_multi
from adaanchor.engine.run import build_split, is_multi_person, load_for_eval, resolve_run
from adaanchor.models.precision import Bf16Backbone

#: (key, column title, format, scale): lower is better for errors, higher for the rest.
KEYS = [("vis_error", "Vis.Error", ".3f", 1), ("inv_error_in", "Inv.Error in", ".3f", 1),
        ("inv_error_out", "Inv.Error out", ".3f", 1), ("inv_score", "Inv.Score", ".4f", 1),
        ("score_auc", "Score AUC", ".4f", 1), ("ap", "AP", ".2f", 100), ("nme", "NME %", ".3f", 100),
        ("nme_out", "NME cut off %", ".3f", 100)]
#: The multi-person runs' columns (their AP is the key ``ap`` above too).
MULTI_KEYS = [("ap", "AP", ".2f", 100), ("ap50", "AP50", ".2f", 100), ("ap75", "AP75", ".2f", 100),
              ("recall", "Recall", ".4f", 1), ("oracle_ap", "AP oracle tags", ".2f", 100),
              ("oracle_ap50", "AP50 oracle tags", ".2f", 100)]


def oracle_metrics(model: Any, strategy: Any, cfg: Any, data: Any, flip: bool) -> dict[str, Any]:
    """A bottom-up run's AP and AP50 at its gamma with oracle tags (``oracle_ap``, ``oracle_ap50``), with or without
    the flip test."""
    from adaanchor.data.build import data_spec
    from adaanchor.engine import bottomup as eb
    from adaanchor.engine.multi import split_ground_truth
    from adaanchor.metrics.sweep import multi_person_metrics

    spec = data_spec(cfg.data)
    gt, data = split_ground_truth(cfg, data)
    cached = eb.predict_outputs(model, data, strategy=strategy, flip_index=spec.flip_index if flip else None)
    m = multi_person_metrics(gt, eb.results_at(strategy, cached, float(strategy.options["gamma"]),
                                               eb.ground_truth(data)), spec.sigmas)
    return {"oracle_ap": m.get("ap"), "oracle_ap50": m.get("ap50")}


OPTIONS = ("flip_test", "bf16")


def evaluate_both(run_dir: Path, option: str = "flip_test") -> dict[str, Any]:
    """The run's metrics without (``off``) and with (``on``) ``option``, and each evaluation's seconds (``off_s``,
    ``on_s``)."""
    cfg, ckpt = resolve_run(run_dir, need_weights=True)
    model, strategy, _ = load_for_eval(cfg, ckpt, "cpu")
    data = build_split(cfg, "val", int(strategy.stride), train=False, verbose=False)
    out: dict[str, Any] = {}
    evaluate, keys = ((evaluate_multi, MULTI_KEYS) if is_multi_person(cfg) else (evaluate_dataset, KEYS))
    evaluate(model, strategy, cfg, data, "cpu")  # untimed: the first pass decodes and caches the images
    for on in (False, True):
        c, net = cfg, model
        if on and option == "flip_test":
            c = OmegaConf.merge(cfg, {"eval": {"flip_test": True}})
        elif on:
            net = Bf16Backbone(model)
        t0 = time.perf_counter()
        m, _ = evaluate(net, strategy, c, data, "cpu")
        out["on" if on else "off"] = {k: m.get(k) for k, *_ in keys}
        if str(cfg.task) == "bottomup" and option == "flip_test":  # untimed: the evaluation's time is the one above
            t1 = time.perf_counter()
            out["on" if on else "off"].update(oracle_metrics(net, strategy, cfg, data, on))
            t0 += time.perf_counter() - t1
        out[("on" if on else "off") + "_s"] = time.perf_counter() - t0
    return out


def paired(rows: list[dict[str, Any]], key: str) -> tuple[float, float | None, int] | None:
    d = [r["on"][key] - r["off"][key] for r in rows if r["on"].get(key) is not None and r["off"].get(key) is not None]
    if not d:
        return None
    se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None
    return float(np.mean(d)), se, len(d)


def to_markdown(doc: dict[str, Any]) -> str:
    methods = doc["methods"]
    cols = [k for k in {k[0]: k for k in (*KEYS, *MULTI_KEYS)}.values()
            if any(paired(rows, k[0]) for rows in methods.values())]
    opt = doc.get("option", "flip_test")
    lines = [f"# {opt}: {doc['name']} (with − without, mean ± standard error over runs)", "",
             "| Method | runs | " + " | ".join(t for _, t, *_ in cols) + " | time with / without |",
             "|---|---|" + "---|" * (len(cols) + 1)]
    for label, rows in methods.items():
        cells = []
        for key, _, fmt, scale in cols:
            p = paired(rows, key)
            cells.append("N/A" if p is None else format(p[0] * scale, "+" + fmt)
                         + (f" ± {format(p[1] * scale, fmt)}" if p[1] is not None else ""))
        ratio = np.median([r["on_s"] / r["off_s"] for r in rows])
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(cells) + f" | {ratio:.2f} |")
    lines += ["", "Means over the runs, without → with:", "",
              "| Method | runs | " + " | ".join(t for _, t, *_ in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for label, rows in methods.items():
        cells = []
        for key, _, fmt, scale in cols:
            both = [(r["off"][key], r["on"][key]) for r in rows
                    if r["off"].get(key) is not None and r["on"].get(key) is not None]
            cells.append("N/A" if not both else " → ".join(format(float(np.mean(v)) * scale, fmt) for v in zip(*both)))
        lines.append(f"| {label} | {len(rows)} | " + " | ".join(cells) + " |")
    machine = doc.get("machine") or f"{doc['threads']} threads"
    lines += ["", f"Commit {doc['commit']}; {machine}; wall {doc['wall_seconds']:.0f} s."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", type=Path, help="finished run directories (top-down or multi-person)")
    p.add_argument("--option", choices=OPTIONS, default="flip_test", help="the option compared (default flip_test)")
    p.add_argument("--name", required=True, help="results file name: <option>_<name>.{md,json}")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    a = p.parse_args(argv)
    if (why := results_place_problem(a.out, a.name)) is not None:  # before the work, not after it
        p.error(why)
    # A refusal (not a run, no checkpoint, a run given twice) in one line, a Ctrl-C or SIGTERM too (a traceback)
    return run_main(lambda: _compare_and_write(a), "nothing (the results file is written at the end)", resume=False)


def _compare_and_write(a: argparse.Namespace) -> int:
    t0, methods = time.time(), {}
    for run in distinct_runs(a.runs):
        label, seed = method_of(run)
        r = {"seed": seed, "run": str(run), **evaluate_both(run, a.option)}
        print(f"{label} s{seed}: " + ", ".join(f"{k} {r['off'][k]} -> {r['on'][k]}" for k in list(r["off"])[:6]))
        methods.setdefault(label, []).append(r)
    doc = {"name": a.name, "option": a.option, "methods": methods, "commit": git_commit(), "machine": machine_line(), "threads": torch.get_num_threads(),
           "wall_seconds": time.time() - t0}
    write_results(a.out, f"{a.option}_{a.name}", doc, to_markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
