"""``adaanchor demo --task center``: single-stage (DEKR-style) pose with the person centre located by the heatmap,
FixAnchor or AdaAnchor, on the crowd-figures benchmark; same backbone, pose branches, data order and steps.

Steps: generate (or reuse) the benchmark (the bottom-up demo's, :func:`adaanchor.demo_bottomup.crowd_setup`);
for each method build the tiny CNN with the centre heads plus the per-keypoint ``poseoff`` branches, train it
for ``steps`` steps on whole augmented images, evaluate on the held-out images (AP family and recall at
gamma = 0.1, and the gamma sweep); write ``results.json``
(``{"methods": {NAME: {"ap", "ap50", "ap75", "recall", "ap_by_gamma", "recall_by_gamma", ...}}}``),
``results.md``, ``gamma_sweep.png`` and ``poses.png`` (poses of a few held-out images per method).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .demo_bottomup import METHODS, MULTI_DEMO_STEPS, CrowdSetup, results_table, run_methods, write_outputs
from .engine.bottomup import evaluate_bottomup
from .engine.centre import build_centre_model
from .models.net import KeypointNet
from .strategies.centre import build_centre

CENTRE_TITLE = "Single-stage pose (DEKR-style person centres) on crowd figures"
CENTRE_NOTE = ("Each method locates the person centre (mean of the labelled keypoints) with its own head; the "
               "per-keypoint pose branches, their loss and the decoding are shared. Pose score = centre confidence.")


def _centre_build(name: str, backbone: Any, setup: CrowdSetup) -> tuple[Any, KeypointNet]:
    strategy = build_centre({"name": name}, {}, setup.spec.num_keypoints, int(backbone.stride), setup.size)
    return strategy, build_centre_model(backbone, strategy)


def run_centre_demo(out_dir: str | Path = "runs/demo_centre", steps: int = MULTI_DEMO_STEPS, seed: int = 0,
                    batch_size: int = 16, tiny_width: int = 24, data_root: str | Path = "data-cache/crowd",
                    bench: dict[str, Any] | None = None, methods: tuple[str, ...] = METHODS,
                    progress: bool = True) -> dict[str, Any]:
    """Train and evaluate every centre method; returns the ``results.json`` content."""
    results, drawings, setup, out = run_methods(out_dir, methods, _centre_build, evaluate_bottomup, steps, seed,
                                                batch_size, tiny_width, data_root, bench, progress, aux="poseoff",
                                                task="centre")
    table = results_table(results, CENTRE_TITLE, CENTRE_NOTE)
    write_outputs(out, results, table, results["methods"], "crowd figures, single-stage (person centres)", drawings,
                  setup)
    return results


__all__ = ["run_centre_demo"]
