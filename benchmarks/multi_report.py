"""Summaries, markdown and plots of the multi-person tables (benchmarks/multi_tables.py).

A run's metrics are flattened to one level (``ap``, ``oracle.ap``, ``ap@0.1``, ``oracle.recall@0.3``, ...);
every flat key gets its mean ± sample std over seeds, and the paired differences (mean ± standard error, as
benchmarks/protocol.py defines them) against FixAnchor and against the heatmap.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from protocol import fmt_diff, paired_difference, same_commit
from table_report import cell, mean_std, strategy_of

from adaanchor.atomic import write_text_atomic
from adaanchor.metrics.sweep import plot_gamma_sweep

REFERENCES = ("FixAnchor", "Heatmap")
# (key, column title, format, scale): AP family in percent
COLUMNS = [("recall", "Recall", ".3f", 1), ("ap", "AP", ".1f", 100), ("ap50", "AP50", ".1f", 100),
           ("ap75", "AP75", ".1f", 100), ("apm", "APM", ".1f", 100), ("ar", "AR", ".1f", 100)]
CROWD_COLUMNS = [("cp_ap", "AP (CP)", ".1f", 100), ("ap_easy", "AP^E", ".1f", 100),
                 ("ap_medium", "AP^M", ".1f", 100), ("ap_hard", "AP^H", ".1f", 100)]
PAIRED = ("recall", "ap", "ap50", "ap75", "ap_easy", "ap_medium", "ap_hard")
GROUPINGS = (("", "learned tags"), ("oracle.", "oracle tags"))


def flatten(row: dict[str, Any], prefix: str = "") -> dict[str, float | None]:
    """One run's metrics as flat keys; COCO's -1 (no instance of that size) becomes None."""
    out: dict[str, float | None] = {}
    for key, value in row.items():
        if key == "oracle_tags" and isinstance(value, dict):
            out.update(flatten(value, "oracle."))
        elif key in ("ap_by_gamma", "recall_by_gamma") and isinstance(value, dict):
            out.update({f"{prefix}{key.split('_')[0]}@{g}": v for g, v in value.items()})
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[prefix + key] = None if value < 0 and key.startswith(("ap", "ar")) else float(value)
    return out


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """``summary`` (label -> flat key -> (mean, std), plus ``n``) and ``paired`` (reference -> label -> key ->
    paired difference) of one benchmark's runs."""
    flat = {label: [{"seed": r["seed"], **flatten(r)} for r in rows] for label, rows in runs.items()}
    keys = sorted({k for rows in flat.values() for r in rows for k in r} - {"seed"})
    summary = {label: {k: mean_std(rows, k) for k in keys} | {"n": len(rows)} for label, rows in flat.items()}
    paired: dict[str, dict[str, Any]] = {}
    for ref in REFERENCES:
        if ref not in flat:
            continue
        paired[ref] = {label: {p + k: paired_difference(rows, flat[ref], p + k) for p, _ in GROUPINGS for k in PAIRED}
                       for label, rows in flat.items() if label != ref}
    return {"summary": summary, "paired": paired}


def _bench_lines(doc: dict[str, Any]) -> list[str]:
    cols = COLUMNS + (CROWD_COLUMNS if any("cp_ap" in s for s in doc["summary"].values()) else [])
    strategy_opts = {f"strategy.{k}": v for k, v in (doc.get("strategy_options") or {}).items()}
    opts = {**(doc.get("task_options") or {}), **strategy_opts}
    variant = "; options " + ", ".join(f"{k}={v}" for k, v in opts.items()) if opts else ""
    bench = doc.get("benchmark") or {}
    # The benchmark's size: a table of 24 training images read as one of the full benchmark.
    size = (f"; {bench['n_train']} training / {bench['n_val']} held-out images"
            if isinstance(bench, dict) and {"n_train", "n_val"} <= set(bench) else "")
    lines = [f"## {doc['title']} ({doc['task']}): {doc['steps']} steps per run, seeds {doc['seeds']}{size}{variant}", "",
             "| Method | grouping | n | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 3) + "|"]
    for label, s in doc["summary"].items():
        for p, name in GROUPINGS:
            if any(k.startswith(p) for k in s) and (p + "ap") in s:
                lines.append(f"| {label} | {name} | {s['n']} | "
                             + " | ".join(cell(*s[p + k], f, sc) if p + k in s else "N/A" for k, _, f, sc in cols) + " |")
    pcols = [c for c in cols if c[0] in PAIRED]
    for ref, diffs in doc["paired"].items():
        lines += ["", f"Paired differences against {ref} (method − {ref}, same seeds; mean ± standard error):", "",
                  "| Method | grouping | " + " | ".join(c[1] for c in pcols) + " |", "|---" * (len(pcols) + 2) + "|"]
        for label, d in diffs.items():
            for p, name in GROUPINGS:
                if d.get(p + "ap") is not None:
                    lines.append(f"| {label} | {name} | " + " | ".join(fmt_diff(d.get(p + k), f, sc) for k, _, f, sc in pcols)
                                 + " |")
    return lines + _convergence_lines(doc) + _sweep_lines(doc)


def _convergence_lines(doc: dict[str, Any]) -> list[str]:
    """Dev runs: the relative change of the leading AP over the last 20% / 10% of the steps, per seed."""
    rows = {label: [r["convergence"] for r in runs if r.get("convergence")] for label, runs in doc.get("runs", {}).items()}
    rows = {label: c for label, c in rows.items() if c}
    if not rows:
        return []
    key = next(iter(rows.values()))[0]["key"]

    def pct(v: float | None) -> str:
        return "N/A" if v is None else f"{100 * v:+.0f}%"

    lines = ["", f"Convergence (dev split): relative change of `{key}` over the last 20% / 10% of the steps, per seed; "
                 "a run counts as converged when the latter is under 3%:", ""]
    for label, cs in rows.items():
        n_conv = sum(bool(c.get("converged")) for c in cs)
        checked = sum(c.get("converged") is not None for c in cs)
        # "N/A / N/A (0 of 2 converged)" read as two runs that did not converge, where nothing could be checked.
        tally = f"{n_conv} of {len(cs)} converged" if checked == len(cs) else \
            f"{n_conv} of {checked} checked converged, {len(cs) - checked} not checked" if checked else "not checked"
        lines.append(f"- {label}: " + ", ".join(f"{pct(c.get('rel_change_last20'))} / {pct(c.get('rel_change_last10'))}"
                                                for c in cs) + f" ({tally})")
    return lines


def _sweep_lines(doc: dict[str, Any]) -> list[str]:
    """AP and recall at each gamma, mean ± std, per method and grouping."""
    gammas = sorted({k.split("@")[1] for s in doc["summary"].values() for k in s if k.startswith("ap@")}, key=float)
    if not gammas:
        return []
    lines = ["", "Gamma sweep (AP % / recall, mean ± std):", "",
             "| Method | grouping | measure | " + " | ".join(f"g={g}" for g in gammas) + " |",
             "|---" * (len(gammas) + 3) + "|"]
    for label, s in doc["summary"].items():
        for p, name in GROUPINGS:
            for m, f, sc in (("ap", ".1f", 100), ("recall", ".3f", 1)):
                if f"{p}{m}@{gammas[0]}" in s and not (p and m == "recall"):
                    lines.append(f"| {label} | {name} | {m} | " + " | ".join(cell(*s[f"{p}{m}@{g}"], f, sc) for g in gammas)
                                 + " |")
    return lines + ["", "Recall does not depend on the grouping (every detection ends up in some pose)."]


def markdown(doc: dict[str, Any]) -> list[str]:
    """The table document as markdown: one section per benchmark."""
    split = doc.get("split", "test")
    lines = [f"# {doc['table']}: bottom-up multi-person keypoint localization ({doc['task']}), methods "
             f"{', '.join(doc['methods'])}; mean ± std over seeds {doc['seeds']}; "
             + ("the dev instance of each benchmark" if split == "dev" else "the evaluation instance"), ""]
    for bench in doc["benches"].values():
        lines += _bench_lines(bench) + [""]
    tr = doc["train"]
    made = (f"Drawn from {' and '.join(doc['sources'])}, as those tables wrote them (no run trained or evaluated "
            f"again); {doc['machine']}." if doc.get("sources") else
            f"Commit {doc['commit']}; {doc['machine']}; wall {doc['wall_seconds']:.0f} s (runs already trained are only "
            "evaluated again).")
    lines += [f"Tiny CNN (width {tr['tiny_width']}), batch {tr['batch_size']}, Adam {tr['lr']} (/10 at 90/140 and "
              f"120/140 of the steps); gamma = 0.1 for the main columns. {made}"]
    if not doc.get("sources"):
        lines += trained_by_lines(doc)
    if doc["task"] == "centre":  # poses come from located centres, not from tags
        lines = [ln.replace("| learned tags |", "| centres |") for ln in lines]
        lines = [ln for ln in lines if not ln.startswith("Recall does not depend on the grouping")]
        lines.insert(1, "Single-stage pose (docs/centre.md): the person centre located by each method, the pose "
                        "regressed from it; a pose's keypoints all carry its centre's confidence.")
    return lines


def trained_by_lines(doc: dict[str, Any]) -> list[str]:
    """Lines naming the runs trained by other code than ``doc['commit']`` (run folders reused: a finished run is only
    evaluated again) and those whose record names no training commit; none when every run was trained by it."""
    other, unknown, total = [], [], 0
    for name, bench in doc["benches"].items():
        for label, rows in bench.get("runs", {}).items():
            for r in rows:
                total += 1
                c = r.get("commit")
                if not c or c == "unknown":
                    unknown.append(f"{name} {label} s{r.get('seed')}")
                elif not same_commit(c, doc["commit"]):
                    other.append(f"{name} {label} s{r.get('seed')} ({c.split(' ')[0][:9]})")
    lines = []
    if other:
        lines += ["", f"Trained by other commits than this one (reused runs): {len(other)} of {total}: "
                      f"{', '.join(other)}."]
    if unknown:
        lines += ["", f"No training commit recorded for {len(unknown)} of {total} runs (trained before it was "
                      f"recorded): {', '.join(unknown[:12])}{' ...' if len(unknown) > 12 else ''}."]
    return lines


def _at_gammas(summary: dict[str, Any], prefix: str) -> tuple[dict[str, float], dict[str, float]]:
    """``{gamma: mean}`` and ``{gamma: std over seeds}`` of the summary keys ``<prefix><gamma>`` that have a mean."""
    means = {k.split("@")[1]: v[0] for k, v in summary.items() if k.startswith(prefix) and v[0] is not None}
    stds = {k.split("@")[1]: v[1] for k, v in summary.items() if k.startswith(prefix) and v[0] is not None
            and v[1] is not None}
    return means, stds


def sweep_plot(doc: dict[str, Any], path: Path) -> Path:
    """AP and recall against gamma (means over seeds). One benchmark: every method with learned and oracle
    tags; several (fig5): the oracle-tag curves (the paper's setting, a given tagger) of each benchmark."""
    several = len(doc["benches"]) > 1
    centre = doc.get("task") == "centre"  # poses grouped by located centres: no tags, learned or oracle
    curves = {}
    # A method keeps its colour; the grouping (or, for fig5, the benchmark) is the line style. Recall does not depend
    # on the grouping: one recall curve per method, not one hidden under the other.
    styles = ("-", "--", ":", "-.")
    for b, bench in enumerate(doc["benches"].values()):
        for label, s in bench["summary"].items():
            for g, (p, name) in enumerate(GROUPINGS):
                if several and not p:
                    continue
                name = "centres" if centre and not p else name
                ap, ap_sd = _at_gammas(s, p + "ap@")
                rec, rec_sd = _at_gammas(s, "recall@")
                if ap:
                    one_recall = several or not g or centre
                    curves[f"{bench['title']}: {label}" if several else f"{label}, {name}"] = {
                        "ap_by_gamma": ap, "recall_by_gamma": rec if one_recall else {}, "ap_std_by_gamma": ap_sd,
                        "recall_std_by_gamma": rec_sd if one_recall else {},
                        "method": strategy_of(label), "linestyle": styles[(b if several else g) % len(styles)]}
    title = doc["table"] + (" (oracle tags)" if several else f": {next(iter(doc['benches'].values()))['title']}")
    title += "; means over seeds, band: ± std"
    title += " (person centres)" if centre else ""
    return plot_gamma_sweep(curves, path, title)


def table_stem(table: str, task: str, split: str) -> str:
    """``<table>[_<task>][_dev]``: the name of a table's files (the task only when it is not ``ae``)."""
    return (table if task == "ae" else f"{table}_{task}") + ("_dev" if split == "dev" else "")


def write_table(doc: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write ``doc`` as ``<out>/<stem>.{json,md,png}`` and print its markdown; returns ``doc``."""
    out.mkdir(parents=True, exist_ok=True)
    stem = table_stem(doc["table"], doc["task"], doc["split"])
    write_text_atomic(out / f"{stem}.json", json.dumps(doc, indent=1))
    lines = markdown(doc)
    write_text_atomic(out / f"{stem}.md", "\n".join(lines) + "\n")
    sweep_plot(doc, out / f"{stem}.png")
    print("\n".join(lines))
    return doc


if __name__ == "__main__":
    import sys

    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "multi_tables.py"))
