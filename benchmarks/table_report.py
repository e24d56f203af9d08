"""Markdown and plots of a paper table: mean ± std per method and the paired differences against FixAnchor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from protocol import DEV_ROOT, DEV_SYNTH_SEED, RULE_SEEDS, fmt_diff, paired_difference, protocol_win, same_commit

from adaanchor.atomic import write_text_atomic

# (key, column title, format, scale, lower is better)
POSE_COLUMNS = [("vis_error", "Vis.Error", ".2f", 1, True), ("inv_error_in", "Inv.Error in image", ".2f", 1, True),
                ("inv_error_out", "Inv.Error outside", ".2f", 1, True), ("inv_error", "Inv.Error", ".2f", 1, True),
                ("inv_score", "Inv.Score", ".3f", 1, False), ("score_auc", "Score AUC", ".3f", 1, False),
                ("ap", "AP", ".1f", 100, False)]
FACE_COLUMNS = [("nme", "NME", ".2f", 100, True), ("nme_vis", "NME vis.", ".2f", 100, True),
                ("nme_inv", "NME occl.", ".2f", 100, True), ("fr", "FR@0.1", ".1f", 100, True),
                ("vis_score", "Vis.Score", ".3f", 1, False), ("inv_score", "Inv.Score", ".3f", 1, False),
                ("score_auc", "Score AUC", ".3f", 1, False)]
# Faces cut off by the crop (data.truncation): visible landmarks inside the input and those the crop cuts off;
# their confidence is the invisible score (a cut-off landmark is v = 1 in the input).
TRUNCATED_COLUMNS = [("nme", "NME", ".2f", 100, True), ("nme_vis_in", "NME in input", ".2f", 100, True),
                     ("nme_out", "NME cut off", ".2f", 100, True), ("fr", "FR@0.1", ".1f", 100, True),
                     ("vis_score", "Vis.Score", ".3f", 1, False), ("inv_score", "Cut-off Score", ".3f", 1, False),
                     ("score_auc", "Score AUC", ".3f", 1, False)]
COLUMNS = {"pose": POSE_COLUMNS, "faces": FACE_COLUMNS, "truncated": TRUNCATED_COLUMNS}
PAIRED_KEYS = ("vis_error", "inv_error_in", "inv_error_out", "ap", "nme_inv", "nme_vis_in", "nme_out")


def mean_std(rows: list[dict[str, Any]], key: str) -> tuple[float | None, float | None]:
    vals = [r[key] for r in rows if r.get(key) is not None]
    if not vals:
        return None, None
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else None


def cell(mean: float | None, std: float | None, fmt: str, scale: float = 1.0) -> str:
    if mean is None:
        return "N/A"
    s = format(mean * scale, fmt)
    return s + (f" ± {format(std * scale, fmt)}" if std is not None else "")


def _seed_lines(doc: dict[str, Any]) -> list[str]:
    """A line naming the methods whose runs have other seeds than the header's (a variant not repeated runs the first
    seed only, a headline method runs more): the header read "seeds [0, 1]" over rows of one seed."""
    header = sorted(doc.get("seeds") or [])
    other = [f"{label} {sorted(s)}" for label, rows in doc.get("runs", {}).items()
             if (s := {r.get("seed") for r in rows}) and sorted(s) != header]
    return [f"Seeds of the methods that differ from the header's: {'; '.join(other)}.", ""] if other else []


def markdown(doc: dict[str, Any], kind: str = "pose") -> list[str]:
    """The table (mean ± std over seeds, sample std), the paired differences and the convergence check;
    ``kind`` picks the columns (:data:`COLUMNS`: the pose benchmark's, the occluded or the truncated faces')."""
    cols = COLUMNS[kind]
    faces = kind != "pose"
    summary, paired = doc["summary"], doc.get("paired", {})
    lines = [f"# {doc['table']}: {doc['steps']} steps per run, {doc['split']} split, seeds {doc['seeds']} "
             "(mean ± std over seeds where repeated)", ""]
    lines += _seed_lines(doc)
    if doc.get("overrides"):  # a table of reduced data looked like one of the full benchmark
        lines += [f"Config overrides given to every run: {' '.join(doc['overrides'])}.", ""]
    lines += ["| Method | n | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for label, s in summary.items():
        lines.append(f"| {label} | {s['n']} | " + " | ".join(cell(*s[k], f, sc) for k, _, f, sc, _ in cols) + " |")
    if paired:
        ref = doc["paired_reference"]
        keys = [c for c in cols if c[0] in PAIRED_KEYS]
        lines += _paired_lines(paired, keys, ref, ref)
        if doc.get("paired_heatmap"):
            lines += _paired_lines(doc["paired_heatmap"], keys, "the heatmap", "heatmap")
        if not faces:
            lines += ["", _wins_line(doc, paired, ref)]
    conv = [(label, r) for label, rows in doc["runs"].items() for r in rows if r.get("convergence", {}).get("converged") is not None]
    if conv:
        bad = [f"{label} s{r['seed']}" for label, r in conv if not r["convergence"]["converged"]]
        ch = [abs(r["convergence"]["rel_change_last10"]) for _, r in conv]
        lines += ["", f"Convergence (dev visible error, last 10% of training): median |change| {100 * np.median(ch):.1f}%, "
                  f"max {100 * max(ch):.1f}%; not converged: {', '.join(bad) if bad else 'none'}."]
        tr = [r["convergence"]["trend_last20"] for _, r in conv if r["convergence"].get("trend_last20") is not None]
        if tr:  # a diagnostic beside the rule: the line through the last 20% averages out one epoch's noise
            lines[-1] += (f" Fitted trend over the last 20% (per 10% of training, not part of the rule): median "
                          f"{100 * np.median(tr):+.1f}%, range {100 * min(tr):+.1f}% to {100 * max(tr):+.1f}%.")
    unchecked = [f"{label} s{r['seed']}" for label, rows in doc["runs"].items() for r in rows
                 if "convergence" in r and r["convergence"].get("converged") is None]
    if unchecked:
        lines += ["", f"Convergence not checked (no evaluation before 90% of training): {', '.join(unchecked)}."]
    if doc.get("missing"):
        lines += ["", f"Not finished, left out: {', '.join(doc['missing'])}."]
    lines += ["", f"Commit {doc['commit']}; {doc['machine']}; wall {doc['wall_seconds']:.0f} s."]
    lines += _trained_by(doc)
    return lines


def _wins_line(doc: dict[str, Any], paired: dict[str, Any], ref: str) -> str:
    """Which methods win over ``ref`` by the protocol's rule on the seeds they share with it, and on a dev table
    with more seeds also on the rule's own :data:`RULE_SEEDS` (where the choice is made: over 5 seeds a narrow AP
    gain passed that 3 seeds did not)."""
    wins = [label for label, diffs in paired.items() if protocol_win(diffs)]
    seeds = sorted({s for diffs in paired.values() for d in diffs.values() if d for s in d["seeds"]})
    line = (f"Wins over {ref} by the protocol's rule (gains in invisible error inside the image and in AP above twice "
            f"their standard error, visible error not worse), over the common seeds of {seeds}: {'; '.join(wins) or 'none'}.")
    if doc.get("split") != "dev" or not set(seeds) - set(RULE_SEEDS):
        return line
    runs = {label: [r for r in rows if r["seed"] in RULE_SEEDS] for label, rows in doc["runs"].items()}
    keys = ("vis_error", "inv_error_in", "ap")
    rule = [label for label in paired if label in runs and ref in runs
            and protocol_win({k: paired_difference(runs[label], runs[ref], k) for k in keys})]
    return line + f" On the rule's seeds {list(RULE_SEEDS)}: {'; '.join(rule) or 'none'}."


def _trained_by(doc: dict[str, Any]) -> list[str]:
    """A line naming the runs trained (in part) by other code than ``doc['commit']`` (reused run folders)."""
    rows = [(label, r) for label, rs in doc["runs"].items() for r in rs if "trained_by" in r]
    other = [f"{label} s{r['seed']} ({', '.join(c.split(' ')[0][:9] for c in r['trained_by'])})" for label, r in rows
             if any(not same_commit(c, doc["commit"]) for c in r["trained_by"])]
    if not other:
        return []
    return ["", f"Trained by other commits than this one (reused runs): {len(other)} of {len(rows)}: "
                f"{', '.join(other)}."]


def _paired_lines(paired: dict[str, Any], keys: list[tuple[str, str, str, float, bool]], ref: str,
                  short: str) -> list[str]:
    """One table of paired differences (mean ± standard error) of every method against the reference ``ref``."""
    lines = ["", f"Paired differences against {ref} (method − {short}, same seeds; mean ± standard error):", "",
             "| Method | seeds | " + " | ".join(c[1] for c in keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for label, diffs in paired.items():
        n = max((d["n"] for d in diffs.values() if d), default=0)
        lines.append(f"| {label} | {n} | " + " | ".join(fmt_diff(diffs.get(k), f, sc) for k, _, f, sc, _ in keys) + " |")
    return lines


def plot_title(doc: dict[str, Any]) -> str:
    """A table plot's title: the table, its split and budget (``table1 (test split, 3000 steps)``)."""
    parts = ([f"{doc['split']} split"] if doc.get("split") else []) + ([f"{doc['steps']} steps"] if doc.get("steps") else [])
    return f"{doc['table']} ({', '.join(parts)})" if parts else str(doc["table"])


def strategy_of(label: str) -> str:
    """The strategy a table's row label names (``Heatmap-anchor``, ``AdaAnchor, radius 3 cells``, ``Ours``), for its
    colour: every plot draws a strategy in one colour (:func:`adaanchor.colors.method_color`)."""
    from adaanchor.colors import COLORS

    low = label.lower()
    for name in COLORS:  # no strategy name is the start of another
        if low.startswith(name):
            return name
    return "adaanchor" if low.startswith("ours") else label


def plot(summary: dict[str, Any], path: Path, title: str, kind: str = "pose") -> None:
    """Bars of the invisible errors and confidence per method (mean ± std over seeds, each method's seed count in
    its label); for the truncated faces (``kind`` ``truncated``) the NME inside the input, of the landmarks cut off,
    and their confidence. A measure a method has not (regression's confidence) is written N/A, not a bar of 0."""
    import matplotlib

    from adaanchor.colors import method_color

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = list(summary)
    if kind == "truncated":
        keys = ["nme_vis_in", "nme_out", "inv_score"]
    else:
        given = [k for k in ("inv_error_in", "inv_error_out")
                 if any(summary[lb].get(k, (None, None))[0] is not None for lb in labels)]
        # Tables from before the split of the invisible error have the whole invisible error only.
        keys = [*(given or ["inv_error"]), "inv_score"]
    names = {key: name for key, name, *_ in COLUMNS[kind]}
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 0.45 * len(labels) + 1.6), squeeze=False)
    shown = [f"{lb} (n={summary[lb]['n']})" if summary[lb].get("n") else lb for lb in labels]
    colors = [method_color(strategy_of(lb)) for lb in labels]
    for ax, key in zip(axes[0], keys):
        scale = 100.0 if "nme" in key else 1.0
        pairs = [summary[lb].get(key, (None, None)) for lb in labels]
        m = [np.nan if mean is None else mean * scale for mean, _ in pairs]
        e = [0.0 if std is None else std * scale for _, std in pairs]
        unit = "px, lower is better" if "error" in key else "% NME, lower is better" if "nme" in key else "mean confidence"
        ax.barh(range(len(labels)), m, xerr=e, color=colors, capsize=2)
        for i, v in enumerate(m):
            if np.isnan(v):
                ax.text(0, i, " N/A", va="center", ha="left", fontsize=8)
        ax.set_yticks(range(len(labels)), shown, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{names.get(key, key)} ({unit})", fontsize=9)
    fig.suptitle(f"{title}; bars: mean ± std over seeds", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_assigner_json(doc: dict[str, Any], names: dict[str, str], path: Path) -> None:
    """The assigner comparison in its fixed schema: protocol, then per method the per-seed measures."""
    keys = ("vis_error", "inv_error_in", "inv_error_out", "inv_score", "score_auc", "ap")
    methods = {names.get(label, label): {"per_seed": [{"seed": r["seed"], **{k: r.get(k) for k in keys}}
                                                                for r in rows]} for label, rows in doc["runs"].items()}
    protocol = {"steps": doc["steps"], "seeds": sorted({r["seed"] for rows in doc["runs"].values() for r in rows}),
                "dev_split": f"built-in benchmark, generator seed {DEV_SYNTH_SEED} ({DEV_ROOT})", "split": doc["split"],
                "commit": doc["commit"]}
    write_text_atomic(path, json.dumps({"protocol": protocol, "methods": methods, "paired": doc["paired"]}, indent=2))


if __name__ == "__main__":
    import sys

    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "paper_tables.py"))
