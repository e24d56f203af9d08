"""Plots: error and score by visibility per method, and a grid of predictions with the anchors used."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .data.types import from_tensor_image  # noqa: E402
from .strategies import ANCHOR_STRATEGY_NAMES  # noqa: E402

COLORS = {"regression": "#999999", "heatmap": "#1f77b4", "fixanchor": "#ff7f0e", "adaanchor": "#2ca02c"}


def plot_error_score(results: Mapping[str, Mapping[str, Any]], path: str | Path) -> None:
    """Two bar charts: error (px) and mean score for visible / invisible keypoints, one bar per method."""
    names = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    x = np.arange(2)
    width = 0.8 / max(1, len(names))
    for ax, (key, label) in zip(axes, (("error", "mean error (input px), lower is better"),
                                       ("score", "mean confidence"))):
        for i, n in enumerate(names):
            vals = [results[n].get(f"vis_{key}"), results[n].get(f"inv_{key}")]
            if all(v is None for v in vals):
                ax.text(x[0] + i * width, 0, "N/A", rotation=90, ha="center", va="bottom", fontsize=8)
                continue
            ax.bar(x + i * width, [v or 0 for v in vals], width, label=n, color=COLORS.get(n))
        ax.set_xticks(x + width * (len(names) - 1) / 2, ["visible (v=2)", "invisible (v=1)"])
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _pick_examples(vis: np.ndarray, n: int) -> list[int]:
    """The ``n`` images with the most invisible keypoints (the interesting ones), in index order."""
    inv = (vis == 1).sum(1)
    return sorted(np.argsort(-inv, kind="stable")[:n].tolist())


def plot_prediction_grid(dataset: Any, preds: Mapping[str, Mapping[str, Any]], path: str | Path, n: int = 6,
                         skeleton: tuple[tuple[int, int], ...] | None = None) -> None:
    """Rows: test images; columns: methods. Ground truth as small dots (white visible, red invisible),
    predictions as the method's skeleton; for anchor methods a thin line joins each invisible keypoint's
    prediction to the anchor cell that produced it (as the paper's Fig. 4)."""
    names = list(preds)
    first = preds[names[0]]
    rows = _pick_examples(first["vis"], n)
    skeleton = skeleton if skeleton is not None else getattr(getattr(dataset, "spec", None), "skeleton", ())
    fig, axes = plt.subplots(len(rows), len(names), figsize=(1.9 * len(names), 2.5 * len(rows)), squeeze=False)
    for r, idx in enumerate(rows):
        img = from_tensor_image(dataset[idx]["image"])
        gt, vis = first["gt"][idx], first["vis"][idx]
        for c, name in enumerate(names):
            ax = axes[r][c]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            p = preds[name]["pred"][idx]
            color = COLORS.get(name, "#d62728")
            for a, b in skeleton:
                if vis[a] > 0 and vis[b] > 0:
                    ax.plot([p[a, 0], p[b, 0]], [p[a, 1], p[b, 1]], color=color, lw=1.2)
            anchors = preds[name].get("anchor")
            if anchors is not None and name in ANCHOR_STRATEGY_NAMES:
                an = anchors[idx]
                for k in np.flatnonzero(vis == 1):
                    ax.plot([an[k, 0], p[k, 0]], [an[k, 1], p[k, 1]], color="yellow", lw=0.7)
                    ax.plot(an[k, 0], an[k, 1], "s", ms=3, mfc="none", mec="yellow", mew=0.8)
            ax.scatter(gt[vis == 2, 0], gt[vis == 2, 1], s=6, c="white", edgecolors="black", linewidths=0.3, zorder=3)
            ax.scatter(gt[vis == 1, 0], gt[vis == 1, 1], s=6, c="red", zorder=3)
            h, w = img.shape[:2]
            ax.set_xlim(-0.5 - 0.15 * w, w - 0.5 + 0.15 * w)
            ax.set_ylim(h - 0.5 + 0.1 * h, -0.5 - 0.1 * h)
    fig.suptitle("dots: ground truth (red = invisible); lines: prediction; yellow: anchor of each invisible keypoint",
                 fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
