"""``adaanchor demo``: the built-in occlusion benchmark, five methods, one backbone, one budget.

Steps: generate (or reuse) the benchmark; pick one step count for every method (400 by default; with a
time budget, from a timing of a few AdaAnchor steps, the costliest encoder); train ``regression``,
``heatmap``, ``fixanchor``, ``adaanchor`` and ``localanchor`` (the adaptive assignment with its dev-best
candidate prior, docs/method.md) for that many steps on the same data order; evaluate all on the same
held-out images; write ``results.json``, ``results.md`` and two plots.
"""

from __future__ import annotations

import contextlib
import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from .atomic import write_text_atomic
from .bench.synth import visibility_counts
from .config import build_config
from .configs import PACKAGED_CONFIGS
from .data.build import annotation_path, build_dataset
from .engine.evaluate import evaluate_dataset
from .engine.run import build_system, load_for_eval, seed_everything
from .engine.saving import TrainingError
from .engine.train import train
from .errors import AdaAnchorError
from .metrics.keypoint import error_by_visibility_table
from .versions import source_commit

METHODS = ("regression", "heatmap", "fixanchor", "adaanchor", "localanchor")
DEMO_CONFIG = PACKAGED_CONFIGS / "demo.yaml"
MAX_STEPS = 800
MIN_BUDGET_STEPS = 20  # fewer steps train nothing worth comparing, whatever the budget
DEFAULT_STEPS = 400  # per method: 3-4 minutes in all on 2 CPU cores (five methods), and the same schedule everywhere


def time_steps(cfg: DictConfig, n: int = 6) -> float:
    """Seconds per training step of ``cfg``: the fastest of ``n`` after two warm-up steps (the least disturbed
    by whatever else the machine is doing)."""
    from .data.types import collate
    from .engine.assign_step import encode_step, make_assign_ema
    from .strategies import compute_loss

    seed_everything(int(cfg.seed))
    model, strategy = build_system(cfg)
    ds = build_dataset(cfg.data, "train", verbose=False)
    batch = collate([ds[i % len(ds)] for i in range(int(cfg.train.batch_size))])
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    ema = make_assign_ema(strategy, model)  # strategy.assign_ema_decay: the step scores the EMA copy's outputs
    times = []
    for i in range(n + 2):
        t = time.perf_counter()
        out = model(batch["image"])
        enc = encode_step(strategy, ema, batch["image"], out, batch["keypoints"], batch["visibility"], 10**6,
                          contextlib.nullcontext)
        loss = compute_loss(out, enc.targets, strategy.losses)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema is not None:
            ema.update(model)
        if i >= 2:
            times.append(time.perf_counter() - t)
    return min(times)


def _method_cfg(overrides: Sequence[str], name: str, out: Path, steps: int) -> DictConfig:
    """The demo config with ``overrides`` for method ``name``, validated like any config (keys, types,
    ranges). Built from the file, not from a resolved config: a resolved config sets every strategy key, which
    would hide a named assigner's preset (``localanchor``) behind the plain defaults."""
    cfg = build_config(DEMO_CONFIG, [*overrides, f"strategy.name={name}"])
    # Set after the build, not parsed from text: any output folder name stays a string.
    cfg.out_dir = str(out / name)
    cfg.overwrite = True  # the demo trains every method afresh each time it runs
    cfg.train.max_steps, cfg.train.lr_steps = steps, [int(steps * 0.8)]
    return cfg


#: Config keys the demo sets for each method itself, and the demo option that does instead (a key=value of them was
#: overwritten without a word).
DEMO_OWN = {"strategy.name": "the five methods are the demo", "out_dir": "--out", "overwrite": "each run is afresh",
            "resume": "each run is afresh, so that one table holds one budget: run the demo again to redo it",
            "train.max_steps": "--steps or --budget-minutes", "train.lr_steps": "at 80 % of --steps", "seed": "--seed",
            # each method stopped at the limit while the table said --steps, and the advice (resume) was refused
            "train.time_limit_s": "--steps or --budget-minutes: one budget for every method",
            "train.epochs": "--steps: the demo trains a number of steps",
            "task": "--task bottomup or --task centre"}


def _keys(item: str) -> list[str]:
    """The dotted keys an override sets: ``train.max_steps=3`` and the keys of a section given whole,
    ``train={max_steps: 3}`` (that form passed the check and was dropped without a word)."""
    from .safe_yaml import load_yaml_text

    key, _, value = str(item).partition("=")
    key = key.strip()
    try:
        parsed = load_yaml_text(value) if value.strip() else None
    except Exception:  # noqa: BLE001 - not YAML: the config's own parse names it
        parsed = None

    def walk(prefix: str, node: Any) -> list[str]:
        if not isinstance(node, dict):
            return [prefix]
        return [prefix, *(k for sub, v in node.items() for k in walk(f"{prefix}.{sub}", v))]

    return walk(key, parsed)


def check_overrides(overrides: Sequence[str]) -> None:
    """Refuse a ``key=value`` the demo sets itself (:data:`DEMO_OWN`), naming what sets it."""
    for item in overrides:
        for key in _keys(item):
            if key in DEMO_OWN:
                raise AdaAnchorError(f"demo: {item} is set by the demo itself ({key}: {DEMO_OWN[key]}); "
                                     "adaanchor train takes it")


def check_length(steps: int | None, budget_minutes: float | None) -> None:
    """``steps`` (>= 1) or ``budget_minutes`` (finite, > 0), not both."""
    if steps is not None and budget_minutes is not None:
        raise AdaAnchorError("demo: give --steps or --budget-minutes, not both")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise AdaAnchorError(f"demo: --steps must be an integer >= 1, got {steps!r}")
    if budget_minutes is not None and not (0 < float(budget_minutes) < float("inf")):
        raise AdaAnchorError(f"demo: --budget-minutes must be a finite number > 0, got {budget_minutes!r}")


def steps_words(steps: int) -> str:
    """``"1 step"``, ``"400 steps"``."""
    return f"{steps} step{'' if steps == 1 else 's'}"


def train_demo_method(cfg: DictConfig) -> dict[str, Any]:
    """:func:`train` for one of the demo's methods; a stop by a signal says what works for the demo (running it
    again, which trains every method afresh), not the training's own advice to resume, which the demo refuses."""
    try:
        return train(cfg)
    except TrainingError as e:
        if not getattr(e, "signal_stop", False):
            raise
        where = str(e).split(";", 1)[0]  # "stopped by SIGTERM after step N"
        err = AdaAnchorError(f"demo: {cfg.strategy.name} {where}; the demo trains every method afresh and does not "
                             "resume: run the same demo command again to redo it")
        err.signal_stop = True  # type: ignore[attr-defined]
        raise err from None


def train_and_evaluate(cfg: DictConfig, val_ds: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train ``cfg``, evaluate its last checkpoint on ``val_ds``; returns the results row and the predictions."""
    summary = train_demo_method(cfg)
    model, strategy, _ = load_for_eval(cfg, Path(summary["run_dir"]) / "checkpoints" / "last.pt")
    m, preds = evaluate_dataset(model, strategy, cfg, val_ds)
    keys = ("vis_error", "inv_error", "inv_error_in", "inv_error_out", "vis_score", "inv_score", "score_auc", "ap", "pck", "pck_vis", "pck_inv",
            "nme", "nme_vis", "nme_inv", "nme_vis_in", "nme_inv_in", "nme_out", "fr")
    row = {k: m[k] for k in keys if k in m}
    row.update(train_seconds=round(summary["train_seconds"], 1), steps=summary["steps"], params=summary["params"])
    return row, preds


def run_demo(out_dir: str | Path = "runs/demo", budget_minutes: float | None = None, seed: int = 0,
             overrides: Sequence[str] = (), methods: Sequence[str] = METHODS, steps: int | None = None,
             plots: bool = True) -> dict[str, Any]:
    """Run the benchmark; returns the ``results.json`` content.

    Every method trains for ``steps`` steps (default :data:`DEFAULT_STEPS`, so results are reproducible
    across machines); with ``budget_minutes`` the step count is derived from a timing of this machine
    instead (at most :data:`MAX_STEPS`); giving both is an error."""
    check_length(steps, budget_minutes)
    check_overrides(overrides)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot create the output folder ({e.strerror})") from None
    layers = [*overrides, f"seed={seed}"]
    base = build_config(DEMO_CONFIG, layers)
    t_start = time.time()
    print("benchmark: generating or reusing the cached images ...")
    val_json = annotation_path(base.data, "val")
    train_json = annotation_path(base.data, "train")
    if steps is None:
        steps = DEFAULT_STEPS if budget_minutes is None else budget_steps(base, budget_minutes, len(methods))
    val_ds = build_dataset(base.data, "val", train=False, verbose=False)
    results: dict[str, Any] = {}
    preds_by_method: dict[str, Any] = {}
    for name in methods:
        results[name], preds_by_method[name] = train_and_evaluate(_method_cfg(layers, name, out, steps), val_ds)
        print(f"{name}: inv_error {results[name]['inv_error']:.2f} px, vis_error {results[name]['vis_error']:.2f} px")
    counts = {"train": visibility_counts(train_json), "val": visibility_counts(val_json)}
    doc = {
        "methods": results,
        "dataset": counts,
        "config": {**OmegaConf.to_container(base, resolve=True), "steps_per_method": steps},  # type: ignore[dict-item]
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__},
        "commit": source_commit() or "unknown (not a git checkout)",
        "wall_seconds": round(time.time() - t_start, 1),
    }
    write_text_atomic(out / "results.json", json.dumps(doc, indent=2))
    write_report(doc, out, seed, val_ds if plots else None, preds_by_method)
    return doc


def budget_steps(base: DictConfig, budget_minutes: float, n_methods: int) -> int:
    """Steps per method that fit ``budget_minutes`` on this machine, from a timing of AdaAnchor steps."""
    t_step = time_steps(OmegaConf.merge(base, {"strategy": {"name": "adaanchor"}}))  # type: ignore[arg-type]
    # Training is ~85% of the wall time; evaluation and plotting take the rest. Capped, so that fast
    # machines run the same, reproducible schedule instead of an ever longer one.
    fit = int(budget_minutes * 60 * 0.85 / n_methods / t_step)
    steps = min(MAX_STEPS, max(MIN_BUDGET_STEPS, fit))
    bound = " (the least a budget gives)" if fit < MIN_BUDGET_STEPS else " (the most)" if fit > MAX_STEPS else ""
    print(f"{t_step:.3f} s per step -> {steps_words(steps)} per method{bound} for a {budget_minutes:g}-minute budget")
    return steps


#: Said with every demo table: the demo's budget measures early convergence, not the methods.
QUICK_LOOK = ("A quick look, not a result: {steps} per method is early training, where the ranking of the "
              "methods differs from a budget that converges (3,000 steps, paired seeds, a dev split: "
              "docs/results.md, 'The protocol').")


def write_report(doc: dict[str, Any], out: Path, seed: int, val_ds: Any, preds_by_method: dict[str, Any]) -> None:
    """``results.md`` (and, with ``val_ds``, the two plots) from the ``results.json`` content; prints the table."""
    results, counts = doc["methods"], doc["dataset"]
    steps = doc["config"]["steps_per_method"]
    table = error_by_visibility_table({k: {**v, "AP": v["ap"]} for k, v in results.items()})
    size = "x".join(str(v) for v in doc["config"]["data"]["input_size"])  # the run's, as data.input_size may change it
    md = [f"# Occlusion benchmark: {steps_words(steps)} per method, seed {seed}", "",
          f"Errors in input pixels ({size} images); scores are mean confidences; Score AUC: how well the "
          "confidence separates keypoints within PCK@0.05 from the others; AP: OKS AP (pycocotools). Inv.In / "
          "Inv.Out: the invisible error of keypoints occluded inside the image / lying outside it (a heatmap "
          "cannot represent the latter).", "", QUICK_LOOK.format(steps=steps_words(steps)), "",
          table, "", f"Validation keypoints: {counts['val']}", "",
          f"Machine: {doc['machine']['platform']}, {doc['machine']['torch_threads']} torch threads; "
          f"commit {doc.get('commit', 'unknown')}; total {doc['wall_seconds']:.0f} s."]
    if val_ds is not None:
        from .viz import plot_error_score, plot_prediction_grid

        plot_error_score(results, out / "error_score.png",
                         f"occlusion benchmark, {steps_words(steps)} per method, seed {seed}: a quick look, not a result")
        plot_prediction_grid(val_ds, preds_by_method, out / "predictions.png")
        md += ["", "![error and score by visibility](error_score.png)", "", "![predictions](predictions.png)"]
    write_text_atomic(out / "results.md", "\n".join(md) + "\n")
    print()
    print(table)
    print("\n" + QUICK_LOOK.format(steps=steps_words(steps)))
    pngs = ", error_score.png, predictions.png" if val_ds is not None else ""
    print(f"\nwrote {out / 'results.json'}, {out / 'results.md'}{pngs}")
