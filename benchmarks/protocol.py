"""The evaluation protocol of the paper tables: dev and test splits, paired seeds, convergence.

- **Splits.** ``dev`` is an independent instance of the built-in benchmark (its own generator seed and
  cache folder), or, for a dataset split by identity (the faces), a held-out share of the *training*
  identities (``data.split.dev_fraction``): every choice (an assigner's preset, a step budget) is made there.
  ``test`` is the evaluation split, used for the final numbers only.
- **Paired seeds.** A training seed fixes the initial weights and the data order; every method of a table
  runs on the same seeds, so method A's run with seed s and method B's run with seed s differ only in the
  method. A comparison is the mean of the per-seed differences ``d_s = A_s - B_s`` with its standard error
  ``std(d, ddof=1) / sqrt(n)``; a gain counts when it is larger than twice that error.
- **Convergence.** Dev runs evaluate on the dev split after every epoch (``eval_log.csv``). The check is
  the relative change of the dev visible error over the last 20% of training and, because the learning rate
  drops at 80%, also over the last 10% (the low-learning-rate phase alone); a run counts as converged when
  the latter is under :data:`CONVERGED_REL`. Beside it, and not part of the rule, ``trend_last20``: the slope
  of a least-squares line through every evaluation of the last 20%, as a relative change per 10% of training.
  An endpoint difference reads one epoch's noise; the line averages it out, so a fall that the endpoints
  hide (or a failure that is only noise) shows there.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adaanchor.versions import source_commit

DEV_SYNTH_SEED = 1  # the dev instance of the built-in benchmark; the evaluation split is generator seed 0
DEV_ROOT = "data-cache/synth-dev"  # relative to the repository, as every relative data.root (anchored_root)
REPO = Path(__file__).resolve().parent.parent
DEV_FRACTION = 0.2  # the faces' dev split: this share of the training identities is held out as val
CONVERGED_REL = 0.03  # |relative change| of the dev visible error over the last 10% of training


def git_commit(repo: Path | None = None) -> str | None:
    """The commit of the checkout ``repo`` (the one these scripts run from, which may be a snapshot worktree of the
    runs rather than the caller's folder), as ``adaanchor --version`` gives it: 40 hex digits, with ``" (modified)"``
    when tracked files differ from it; None outside a git checkout."""
    package = (repo or Path(__file__).resolve().parent.parent) / "src" / "adaanchor"
    return source_commit(package.resolve()) if package.is_dir() else None


def machine_line() -> str:
    """The machine a results file records: the platform and torch's thread count."""
    import platform

    import torch

    return f"{platform.platform()}, {torch.get_num_threads()} torch threads"


def provenance() -> dict[str, Any]:
    """``{"commit", "machine"}`` for a results file: the code (:func:`git_commit`) and :func:`machine_line`."""
    return {"commit": git_commit() or "unknown", "machine": machine_line()}


def write_results(out: Path, stem: str, doc: Mapping[str, Any], md: str) -> None:
    """Write a script's results as ``out/<stem>.json`` (``doc``) and ``out/<stem>.md`` (``md``), and print ``md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=1))
    (out / f"{stem}.md").write_text(md)
    print(md)


def same_commit(a: str, b: str) -> bool:
    """Whether two recorded commits name the same one (a short and a long form, either perhaps ``(modified)``)."""
    x, y = str(a).split(" ")[0], str(b).split(" ")[0]
    return bool(x) and bool(y) and (x.startswith(y) or y.startswith(x))


def split_overrides(split: str, synthetic: bool) -> list[str]:
    """Config overrides that select the ``dev`` or ``test`` split (and, on dev, the per-epoch evaluation
    that the convergence check reads)."""
    if split not in ("dev", "test"):
        raise ValueError(f"split must be dev or test, got {split!r}")
    if split == "test":
        return ["train.eval_every=0"]
    if not synthetic:
        # A config that splits one file by identity (data.split.by) holds out part of its training groups.
        return [f"data.split.dev_fraction={DEV_FRACTION}", "train.eval_every=1"]
    return [f"data.root={DEV_ROOT}", f"data.synth.seed={DEV_SYNTH_SEED}", "train.eval_every=1"]


def anchored_root(config_file: Path, overrides: list[str], given: Sequence[str]) -> list[str]:
    """``overrides`` with a relative ``data.root`` of the config (the built-in benchmark's cache, the dev split's
    :data:`DEV_ROOT`, a packaged config's dataset folder) made absolute against the repository, not the working
    directory: a table run from another folder read or generated another cache, and its runs then differed from
    the table's. A ``data.root`` in ``given`` (the caller's own overrides) is the caller's and stays as given."""
    from adaanchor.config import build_config

    if any(str(o).split("=", 1)[0].strip() == "data.root" for o in given):
        return list(overrides)
    root = Path(str(build_config(config_file, list(overrides)).data.root)).expanduser()
    return list(overrides) if root.is_absolute() else [*overrides, f"data.root={REPO / root}"]


def paired_difference(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]], key: str) -> dict[str, Any] | None:
    """Mean and standard error of ``a[key] - b[key]`` over the seeds both have.

    Returns ``{"mean", "se", "n", "seeds"}`` (``se`` None for one seed), or None without a common seed."""
    by_seed = {r["seed"]: r.get(key) for r in b}
    pairs = [(r["seed"], r.get(key), by_seed.get(r["seed"])) for r in a]
    pairs = [(s, x, y) for s, x, y in pairs if x is not None and y is not None]
    if not pairs:
        return None
    d = np.array([x - y for _, x, y in pairs], np.float64)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else None
    return {"mean": float(d.mean()), "se": se, "n": len(d), "seeds": [s for s, _, _ in pairs]}


#: The dev seeds the rule for choosing an assigner compares on (docs/results.md, "The protocol").
RULE_SEEDS = (0, 1, 2)


def is_win(diff: Mapping[str, Any] | None, lower_is_better: bool) -> bool:
    """A paired gain larger than twice its standard error (at least 2 seeds)."""
    if diff is None or diff["se"] is None:
        return False
    gain = -diff["mean"] if lower_is_better else diff["mean"]
    return gain > 2 * diff["se"]


def protocol_win(diffs: Mapping[str, Mapping[str, Any] | None]) -> bool:
    """The protocol's win over the reference: paired gains in invisible error inside the image and in AP each
    larger than twice their standard error, and a visible error that is not worse by more than that."""
    vis = diffs.get("vis_error")
    vis_worse = vis is not None and vis["se"] is not None and vis["mean"] > 2 * vis["se"]
    return (is_win(diffs.get("inv_error_in"), lower_is_better=True) and is_win(diffs.get("ap"), lower_is_better=False)
            and vis is not None and vis["se"] is not None and not vis_worse)


def convergence(eval_log: Path, total_steps: int, key: str = "vis_error") -> dict[str, float | None]:
    """Relative change of ``key`` in ``eval_log.csv`` over the last 20% and 10% of ``total_steps``.

    The value "at p%" is the last evaluation at or before that step, ``round(p * total_steps)`` (the step the
    multi-person snapshots are taken at, benchmarks/multi_runs.py: a snapshot at 903 of 1,003 steps is the 90%
    one, not after it), and only among the evaluations before the final one: with a single evaluation (a run too short
    for one at 80 or 90%) the reference would be the final value itself, a change of 0 that read "converged" for a run
    that was not checked. None (not checked) when the log has too few rows."""
    if not eval_log.is_file():
        return {"rel_change_last20": None, "rel_change_last10": None, "converged": None, "trend_last20": None}
    with eval_log.open() as f:
        rows = [(int(float(r["step"])), float(r[key])) for r in csv.DictReader(f) if r.get(key) not in (None, "")]
    rows.sort()

    final_step = rows[-1][0] if rows else None

    def at(frac: float) -> float | None:
        before = [v for s, v in rows if s <= round(frac * total_steps) and s < final_step]
        return before[-1] if before else None

    final = rows[-1][1] if rows else None
    out: dict[str, Any] = {}
    for name, frac in (("rel_change_last20", 0.8), ("rel_change_last10", 0.9)):
        ref = at(frac)
        out[name] = None if final is None or ref in (None, 0) else (final - ref) / ref
    c = out["rel_change_last10"]
    out["converged"] = None if c is None else abs(c) < CONVERGED_REL
    out["trend_last20"] = fitted_trend([(st, v) for st, v in rows if st > 0.8 * total_steps], total_steps)
    return out


def fitted_trend(rows: Sequence[tuple[int, float]], total_steps: int) -> float | None:
    """Least-squares slope of ``(step, value)`` rows as a relative change per 10% of ``total_steps`` (relative to
    the rows' mean); None with fewer than 3 rows, a single step, or a mean of 0."""
    if len(rows) < 3:
        return None
    x = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows], dtype=float)
    if np.ptp(x) == 0 or y.mean() == 0:
        return None
    slope = np.polyfit(x, y, 1)[0]
    return float(slope * 0.1 * total_steps / y.mean())


def fmt_diff(diff: Mapping[str, Any] | None, fmt: str, scale: float = 1.0) -> str:
    """``+0.12 ± 0.05`` (mean ± standard error of the paired difference)."""
    if diff is None:
        return "N/A"
    s = format(diff["mean"] * scale, "+" + fmt)
    return s + (f" ± {format(diff['se'] * scale, fmt)}" if diff["se"] is not None else "")


def split_only(only: list[str], overrides: list[str], labels: Any) -> tuple[list[str], list[str]]:
    """``--only``'s nargs="+" takes every word after it, so ``--only FixAnchor LocalAnchor data.root=...`` handed
    the setting to --only and never to the runs. A word holding "=" that is not a variant label of the table
    (labels such as ``k=5`` are) is a config override: it goes after the other overrides, in the order given."""
    moved = [w for w in only if "=" in w and w not in labels]
    return [w for w in only if w not in moved], [*overrides, *moved]


if __name__ == "__main__":
    import sys

    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "paper_tables.py", "multi_tables.py"))
