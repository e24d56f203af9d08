"""``adaanchor demo --task bottomup``: associative embedding with the heatmap, FixAnchor and AdaAnchor on the
crowd-figures benchmark, same backbone, data order and step count.

Steps: generate (or reuse) the benchmark; for each method build the tiny CNN with the method's heads plus the
tag head, train it for ``steps`` steps on whole augmented images, evaluate on the held-out images (AP
family and recall at gamma = 0.1, and the gamma sweep); write ``results.json``
(``{"methods": {NAME: {"ap", "ap50", "ap75", "recall", "ap_by_gamma", "recall_by_gamma", ...}}}``),
``results.md``, ``gamma_sweep.png`` and ``poses.png`` (grouped poses of a few held-out images per method).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .atomic import save_figure, write_text_atomic
from .bench.crowd import write_crowd_benchmark
from .data.bottomup import BottomUpDataset, group_by_image
from .data.readers.coco import read_coco
from .data.spec import load_spec
from .demo_rundir import DEMO_LR, demo_run_config, write_demo_run
from .engine.bottomup import evaluate_bottomup, predict_outputs, results_at, train_steps
from .engine.run import seed_everything
from .errors import AdaAnchorError
from .metrics.sweep import plot_gamma_sweep
from .models.backbones import build_backbone
from .models.net import KeypointNet
from .ranges import SEED
from .strategies.tags import build_bottomup
from .versions import source_commit

METHODS = ("heatmap", "fixanchor", "adaanchor")
#: Steps per method of the multi-person demos (bottom-up and centre): about 1-1.2 min per method on 2 idle
#: CPU cores; 300 steps left every AP near 0 and the methods indistinguishable.
MULTI_DEMO_STEPS = 1200
DEMO_BENCH = {"width": 128, "height": 96, "n_train": 800, "n_val": 120, "people": (2, 4), "crowd_index": (0.0, 1.5)}


@dataclass
class CrowdSetup:
    """The crowd-figures benchmark of a demo: COCO JSON paths, spec, input size ``(W, H)``, datasets, options."""

    paths: dict[str, Path]
    spec: Any
    size: tuple[int, int]
    train: BottomUpDataset
    val: BottomUpDataset
    bench: dict[str, Any]


def crowd_setup(data_root: str | Path, bench: dict[str, Any] | None = None, progress: bool = True) -> CrowdSetup:
    """Generate (or reuse) the benchmark under ``data_root`` (:data:`DEMO_BENCH` updated by ``bench``) and open
    its training (augmented) and held-out whole-image datasets."""
    bench = {**DEMO_BENCH, **(bench or {})}
    paths = write_crowd_benchmark(data_root, bench, progress=progress)
    spec = load_spec("coco")
    size = (int(bench["width"]), int(bench["height"]))
    train_ds = BottomUpDataset(group_by_image(read_coco(paths["train"], spec).instances), spec, size, train=True,
                               cache_images=True, multiple=16)
    val_ds = BottomUpDataset(group_by_image(read_coco(paths["val"], spec).instances), spec, size, train=False,
                             cache_images=True, multiple=16)
    return CrowdSetup(paths, spec, size, train_ds, val_ds, bench)


def demo_header(setup: CrowdSetup, steps: int, seed: int, batch_size: int) -> dict[str, Any]:
    """The ``results.json`` skeleton: run settings, benchmark options, machine, an empty ``methods``."""
    return {"methods": {}, "steps": steps, "seed": seed, "batch_size": batch_size,
            "benchmark": {k: list(v) if isinstance(v, tuple) else v for k, v in setup.bench.items()},
            "machine": f"{platform.machine()} x {torch.get_num_threads()} threads, torch {torch.__version__}",
            "commit": source_commit() or "unknown (not a git checkout)"}


#: ``(name, backbone, setup) -> (strategy, model)``: how a demo builds one method.
Builder = Callable[[str, Any, CrowdSetup], tuple[Any, KeypointNet]]
#: ``(model, strategy, dataset, gt) -> metrics``: how a demo evaluates one method.
Evaluator = Callable[[KeypointNet, Any, BottomUpDataset, Any], dict[str, Any]]


def train_methods(methods: tuple[str, ...], build: Builder, evaluate: Evaluator, setup: CrowdSetup, out: Path,
                  steps: int, batch_size: int, seed: int, tiny_width: int, progress: bool = True,
                  aux: str = "tags", task: str = "bottomup") -> tuple[dict[str, Any], dict[str, tuple[list, list[dict]]]]:
    """Train and evaluate every method from the same seed (same initial backbone and data order); each model is
    written as a run directory ``out/<method>`` (:mod:`adaanchor.demo_rundir`) for ``predict``, ``viz``, ``eval``.

    Returns the metrics per method and the drawings for :func:`draw_poses` (outputs and results of the first
    four held-out images). ``aux``: the head whose loss the progress lines show next to the total; ``task``: the
    config's ``task`` of the run directories.
    """
    metrics: dict[str, Any] = {}
    drawings: dict[str, tuple[list, list[dict]]] = {}
    for name in methods:
        seed_everything(seed)
        strategy, model = build(name, build_backbone("tiny", tiny_width=tiny_width), setup)
        t0 = time.time()

        def log(step: int, row: dict[str, float], name: str = name) -> None:
            if progress:
                print(f"{name} step {step}: loss {row['loss']:.4f} ({aux} {row.get('loss_' + aux, 0):.4f}) "
                      f"{row['time_s']:.0f}s", flush=True)

        rows = train_steps(model, strategy, setup.train, steps, batch_size, lr=DEMO_LR, seed=seed, log=log,
                           log_every=50)
        train_s = time.time() - t0
        cfg = demo_run_config(task, name, out / name, setup.bench, setup.paths["root"], steps, seed, batch_size,
                              tiny_width)
        write_demo_run(out / name, cfg, model, steps)
        if progress:
            print(f"{name}: evaluating on {len(setup.val)} held-out images ...", flush=True)
        t_eval = time.time()
        m = evaluate(model, strategy, setup.val, setup.paths["val"])
        if progress:
            print(f"{name}: evaluated in {time.time() - t_eval:.0f} s", flush=True)
        m.update(train_s=round(train_s, 1), params=sum(p.numel() for p in model.parameters()),
                 loss_first=rows[0]["loss"], loss_last=rows[-1]["loss"])
        metrics[name] = m
        cached = predict_outputs(model, torch.utils.data.Subset(setup.val, range(min(4, len(setup.val)))))
        drawings[name] = (cached, results_at(strategy, cached, m["gamma"]))
    return metrics, drawings


def write_outputs(out: Path, results: dict[str, Any], table: str, sweeps: dict[str, Any], title: str,
                  drawings: dict[str, tuple[list, list[dict]]], setup: CrowdSetup) -> None:
    """``results.json``, ``results.md`` (``table``), ``gamma_sweep.png`` (``sweeps``) and ``poses.png``; prints the
    table and the files (as the single-person demo does: the run ended after minutes without a word)."""
    write_text_atomic(out / "results.json", json.dumps(results, indent=1))
    write_text_atomic(out / "results.md", table)
    plot_gamma_sweep(sweeps, out / "gamma_sweep.png", title)
    draw_poses(drawings, setup.val, setup.spec, out / "poses.png")
    print("\n" + table.rstrip("\n"))
    print(f"\nwrote {out / 'results.json'}, {out / 'results.md'}, gamma_sweep.png, poses.png")
    names = list(results["methods"])
    if names:  # the models: the way on to predict, viz, export and eval
        print(f"each model is a run directory ({', '.join(str(out / m) for m in names)}), e.g. "
              f"adaanchor predict {out / names[0]} IMAGES_OR_VIDEO --out predictions")


def run_methods(out_dir: str | Path, methods: tuple[str, ...], build: Builder, evaluate: Evaluator, steps: int,
                seed: int, batch_size: int, tiny_width: int, data_root: str | Path, bench: dict[str, Any] | None,
                progress: bool, aux: str = "tags",
                task: str = "bottomup") -> tuple[dict[str, Any], dict[str, tuple[list, list[dict]]], CrowdSetup, Path]:
    """A demo's whole run on at most 2 threads: the benchmark, :func:`train_methods`, the wall time.

    Returns the ``results.json`` content, the drawings, the benchmark set-up and the output folder (created).
    """
    check_demo_args(steps, seed)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot create the output folder ({e.strerror})") from None
    t_all = time.time()
    setup = crowd_setup(data_root, bench, progress)
    results = demo_header(setup, steps, seed, batch_size)
    results["methods"], drawings = train_methods(methods, build, evaluate, setup, out, steps, batch_size, seed,
                                                 tiny_width, progress, aux, task)
    results["wall_s"] = round(time.time() - t_all, 1)
    return results, drawings, setup, out


def check_demo_args(steps: int, seed: int) -> None:
    """``steps`` >= 1 and ``seed`` in the config's seed range, refused before anything is generated or trained (a
    non-positive step count would otherwise fail deep in the data sampler, a negative seed in numpy)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise AdaAnchorError(f"demo: --steps must be an integer >= 1, got {steps!r}")
    SEED.check("seed", seed)


def _bottomup_build(name: str, backbone: Any, setup: CrowdSetup) -> tuple[Any, KeypointNet]:
    strategy = build_bottomup({"name": name}, {}, setup.spec.num_keypoints, int(backbone.stride), setup.size)
    return strategy, KeypointNet(backbone, strategy.heads)


def run_bottomup_demo(out_dir: str | Path = "runs/demo_bottomup", steps: int = MULTI_DEMO_STEPS, seed: int = 0,
                      batch_size: int = 16, tiny_width: int = 24, data_root: str | Path = "data-cache/crowd",
                      bench: dict[str, Any] | None = None, methods: tuple[str, ...] = METHODS,
                      progress: bool = True) -> dict[str, Any]:
    """Train and evaluate every method; returns the ``results.json`` content."""
    results, drawings, setup, out = run_methods(out_dir, methods, _bottomup_build,
                                                partial(evaluate_bottomup, oracle_tags=True, progress=progress), steps, seed,
                                                batch_size, tiny_width, data_root, bench, progress)
    sweeps = {**results["methods"], **{f"{n}, oracle tags": m["oracle_tags"] for n, m in results["methods"].items()}}
    write_outputs(out, results, results_table(results), sweeps, "crowd figures, bottom-up (AE)", drawings, setup)
    return results


BOTTOMUP_TITLE = "Bottom-up (associative embedding) on crowd figures"
BOTTOMUP_NOTE = ("Learned tags: grouped by the jointly trained tag head. Oracle tags: each detection tagged with "
                 "its nearest ground-truth person (the paper's pretrained tagger stands for this), so only the "
                 "localization differs.")


def _pct(v: float | None) -> str:
    """A COCO AP in percent; pycocotools' -1 (no ground truth in the range, e.g. no large person) is ``N/A``, as in
    ``adaanchor eval``'s table, not -100.0."""
    return "N/A" if v is None or v < 0 else f"{100 * v:.1f}"


def results_table(results: dict[str, Any], title: str = BOTTOMUP_TITLE, note: str = BOTTOMUP_NOTE) -> str:
    """``results.md``: one row per method (and per method with oracle tags, where evaluated), AP in percent."""
    first = next(iter(results["methods"].values()))
    n = int(results["steps"])
    lines = [f"# {title}: {n} step{'' if n == 1 else 's'}, seed {results['seed']}",
             "", "| Method | Recall | AP | AP50 | AP75 | APM | APL | AR | " +
             " | ".join(f"AP@g={g}" for g in first["ap_by_gamma"]) + " |",
             "|---" * (8 + len(first["ap_by_gamma"])) + "|"]
    for name, m in results["methods"].items():
        for label, mm in ((name, m), (f"{name}, oracle tags", m.get("oracle_tags"))):
            if mm is None:
                continue
            cells = [f"{mm['recall']:.3f}"] + [_pct(mm[k]) for k in ("ap", "ap50", "ap75", "apm", "apl", "ar")]
            cells += [_pct(v) for v in mm["ap_by_gamma"].values()]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", note, "", f"gamma = {first['gamma']} for the main columns; "
              f"{results['machine']}; commit {results.get('commit', 'unknown')}; {results['wall_s']:.0f} s in all."]
    return "\n".join(lines) + "\n"


def draw_poses(drawings: dict[str, tuple[list, list[dict]]], dataset: BottomUpDataset, spec: Any, path: Path) -> None:
    """Grouped poses (one colour per pose, skeleton lines) on a few held-out images, one row per method.

    Each image shows a method's highest-scoring poses, as many as the image has labelled people: the poses an
    AP at high precision is made of (every low-score pose drawn would bury them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .data.image_read import load_image

    n_img = len(next(iter(drawings.values()))[0])
    fig, axes = plt.subplots(len(drawings), n_img, figsize=(3 * n_img, 2.4 * len(drawings)), squeeze=False)
    colours = plt.cm.tab10.colors
    for r, (name, (cached, res)) in enumerate(drawings.items()):
        for c, (_, meta) in enumerate(cached):
            ax = axes[r, c]
            ax.imshow(load_image(meta["image_path"]))
            people = int((dataset[c]["visibility"] > 0).any(dim=-1).sum())
            every = sorted((x for x in res if x["image_id"] == meta["image_id"]), key=lambda x: -float(x["score"]))
            poses = every[:people]
            for p, rec in enumerate(poses):
                kp = np.asarray(rec["keypoints"]).reshape(-1, 3)
                col = colours[p % len(colours)]
                for a, b in spec.skeleton:
                    if kp[a, 2] > 0 and kp[b, 2] > 0:
                        ax.plot(kp[[a, b], 0], kp[[a, b], 1], color=col, lw=1.2)
                ok = kp[:, 2] > 0
                ax.scatter(kp[ok, 0], kp[ok, 1], s=6, color=col)
            ax.set_title(f"{name}: best {len(poses)} of {len(every)} poses ({people} people)", fontsize=8)
            ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


__all__ = ["METHODS", "MULTI_DEMO_STEPS", "CrowdSetup", "crowd_setup", "demo_header", "draw_poses", "results_table", "run_bottomup_demo",
           "check_demo_args", "run_methods", "train_methods", "write_outputs"]
