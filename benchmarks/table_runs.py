"""Finished runs of the paper tables: when a run folder is done, and which finished run another table can share.

A paper-table run lives in ``<out>/runs/<table>/<variant>_<split>_s<seed>/`` (``config.yaml``, ``train_log.csv``,
``checkpoints/last.pt``). Two rows of different tables with the same resolved config (up to the folder) are one
run: the second table links to the first instead of training it again (docs/results.md, the protocol).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from adaanchor.engine.rundir import absolute_paths


def finished(run_dir: Path, steps: int) -> bool:
    """Whether ``run_dir`` holds a run trained for ``steps`` steps (its training log reached that step)."""
    log = run_dir / "train_log.csv"
    if not (log.is_file() and (run_dir / "checkpoints" / "last.pt").is_file()):
        return False
    rows = log.read_text().strip().splitlines()
    try:
        return len(rows) > 1 and int(float(rows[-1].split(",")[0])) >= steps
    except ValueError:
        return False


def training_commits(run_dir: Path) -> list[str]:
    """The source commits that trained ``run_dir``, one per start in its ``config_history.yaml`` in order, repeats
    dropped (``"unknown"`` for a start recorded without one: an installed copy, or a run older than the record)."""
    try:
        hist = yaml.safe_load((run_dir / "config_history.yaml").read_text()) or []
    except (OSError, yaml.YAMLError):
        return []
    commits = [str((h.get("versions") or {}).get("commit", "unknown")) for h in hist if isinstance(h, dict)]
    return list(dict.fromkeys(commits))


# Keys that name a run rather than define it: two runs that differ only here are the same run.
RUN_NAMING_KEYS = ("out_dir", "resume", "overwrite")


def _run_identity(cfg: Any, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resolved config of a run (absolute paths, plain JSON types, no progress display) minus
    :data:`RUN_NAMING_KEYS`. A key missing from ``cfg`` (a run made before the option existed) takes its value
    from ``defaults``: the run was trained as if it had been set to it."""
    doc = json.loads(json.dumps(OmegaConf.to_container(absolute_paths(cfg), resolve=True)))
    if defaults:
        doc = _fill(doc, defaults)
    for key in RUN_NAMING_KEYS:
        doc.pop(key, None)
    doc.get("train", {}).pop("progress", None)
    return doc


def _plain(cfg: Any) -> dict[str, Any] | None:
    """A config as plain JSON types (the form :func:`_run_identity` compares), None for None."""
    return json.loads(json.dumps(OmegaConf.to_container(cfg, resolve=True))) if cfg is not None else None


def _fill(doc: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    out = dict(doc)
    for k, v in defaults.items():
        if k not in out:
            out[k] = v
        elif isinstance(v, dict) and isinstance(out[k], dict):
            out[k] = _fill(out[k], v)
    return out


def identical_run(runs_root: Path, cfg: Any, steps: int, defaults: Any = None) -> Path | None:
    """A finished run under ``runs_root/<table>/`` whose config equals ``cfg`` up to its name, or None.

    Tables share their reference rows (FixAnchor and the heatmap on the same split, seed and budget are the
    same run in Table 1, the assigner table and the sweeps; ``k=20`` is the paper's AdaAnchor): such a run
    is trained once and linked into every table that lists it. ``defaults`` (a config) fills the keys an older
    run's ``config.yaml`` lacks."""
    want = _run_identity(cfg)
    fill = _plain(defaults)
    for cfg_file in sorted(runs_root.glob("*/*/config.yaml")):
        run_dir = cfg_file.parent
        if not finished(run_dir, steps):
            continue
        try:
            if _run_identity(OmegaConf.load(cfg_file), fill) == want:
                return run_dir
        except Exception:  # noqa: BLE001 -- an unreadable or older config is simply not a match
            continue
    return None


def differing_keys(run_dir: Path, cfg: Any, defaults: Any = None) -> list[str]:
    """The dotted config keys on which the run in ``run_dir`` (its ``config.yaml``) differs from ``cfg``, up to its
    name: empty for the same run or a folder without a config. A run folder is named by table, variant, split and
    seed only, so another ``--steps`` or override would otherwise resume or reuse a run of other settings (a run
    finished at 3,000 steps reported as a 600-step row, or a 600-step run continued to 3,000 on another schedule)."""
    cfg_file = run_dir / "config.yaml"
    if not cfg_file.is_file():
        return []
    fill = _plain(defaults)
    return _diff(_run_identity(OmegaConf.load(cfg_file), fill), _run_identity(cfg, fill))


def _diff(have: Any, want: Any, prefix: str = "") -> list[str]:
    if isinstance(have, dict) and isinstance(want, dict):
        return [k for key in sorted(set(have) | set(want), key=str)
                for k in _diff(have.get(key), want.get(key), f"{prefix}{key}.")]
    return [] if have == want else [f"{prefix.rstrip('.')} {have!r}, not {want!r}"]


def link_run(run_dir: Path, same: Path) -> None:
    """Make ``run_dir`` a link to the finished run ``same``: relative inside one results folder (which can then
    move), or to the source of ``same`` when it is itself a link."""
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    target = same.resolve() if same.is_symlink() else Path("..") / same.parent.name / same.name
    run_dir.symlink_to(target, target_is_directory=True)


def run_start(label: str, seed: int, run_dir: Path, steps: int) -> str:
    """What a run is about to do: train ``steps`` steps, go on from a checkpoint, or only be evaluated again."""
    what = f"{label} seed {seed}"
    if finished(run_dir, steps):
        return f"{what}: finished, evaluating it again"
    if (run_dir / "checkpoints" / "last.pt").is_file():
        return f"{what}: resuming from {run_dir / 'checkpoints' / 'last.pt'} to {steps} steps, then evaluating"
    return f"{what}: training {steps} steps, then evaluating"


def pace(row: dict[str, Any], fresh: bool) -> str:
    """``" (trained to step 3000 in 312 s, 9.6 steps/s)"`` for a run trained from its start now (``fresh``); the time
    alone for one resumed (its earlier steps took time not counted here); empty when nothing was trained."""
    secs, steps = float(row.get("train_seconds") or 0), int(row.get("steps") or 0)
    if secs < 1 or not steps:
        return ""
    return f" (trained to step {steps} in {secs:.0f} s" + (f", {steps / secs:.1f} steps/s)" if fresh else ")")


def seeds_for(spec: dict[str, Any], label: str, seeds: list[int]) -> list[int]:
    """The seeds of variant ``label`` of table ``spec``: every seed for repeated methods (at least ``headline_seeds`` for the headline pair), else the first."""
    if label in spec.get("headline", ()):
        n = max(len(seeds), int(spec.get("headline_seeds", 5)))
        return seeds + [s for s in range(max(seeds) + 1, max(seeds) + 1 + n) if s not in seeds][: n - len(seeds)]
    repeat = spec.get("repeat")  # None: every variant
    return seeds if repeat is None or label in repeat else seeds[:1]


if __name__ == "__main__":
    import sys

    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "paper_tables.py"))
