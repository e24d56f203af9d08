"""Plots: error and score by visibility per method, and a grid of predictions with the anchors used."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .atomic import save_figure
from .colors import method_color  # noqa: E402
from .coords import outside_frame  # noqa: E402
from .data.types import from_tensor_image  # noqa: E402
from .strategies import ANCHOR_STRATEGY_NAMES  # noqa: E402


def plot_error_score(results: Mapping[str, Mapping[str, Any]], path: str | Path, title: str = "") -> None:
    """Two bar charts: error (px) and mean score for visible / invisible keypoints, one bar per method (a value a
    method has not, regression's confidence, written N/A); ``title`` above them."""
    names = list(results)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    x = np.arange(2)
    width = 0.8 / max(1, len(names))
    for ax, (key, label) in zip(axes, (("error", "mean error (input px), lower is better"),
                                       ("score", "mean confidence"))):
        for i, n in enumerate(names):
            vals = [results[n].get(f"vis_{key}"), results[n].get(f"inv_{key}")]
            # A value the method has not (regression's confidence, no invisible keypoint) is no bar of height 0.
            ax.bar(x + i * width, [np.nan if v is None else v for v in vals], width, label=n, color=method_color(n))
            for j, v in enumerate(vals):
                if v is None:
                    ax.text(x[j] + i * width, 0.02, f"{n}: N/A", rotation=90, ha="center", va="bottom",
                            fontsize=8, transform=ax.get_xaxis_transform())
        ax.set_xticks(x + width * (len(names) - 1) / 2, ["visible (v=2)", "invisible (v=1)"])
        ax.set_title(label, fontsize=10)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _pick_examples(vis: np.ndarray, n: int) -> list[int]:
    """The ``n`` images with the most invisible keypoints (the interesting ones), in index order."""
    inv = (vis == 1).sum(1)
    return sorted(np.argsort(-inv, kind="stable")[:n].tolist())


def _row_view(hw: tuple[int, int], *point_sets: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """``(xlim, ylim)`` of one row of the grid: the image and every finite point of ``point_sets`` (``(N, 2)``
    arrays, or lists of them), with a margin; the same for each method of the row. A fixed margin cut off the
    keypoints farther outside the image."""
    h, w = hw
    pts = [np.asarray(p, np.float64).reshape(-1, 2) for s in point_sets for p in (s if isinstance(s, list) else [s])]
    allp = np.concatenate([np.array([[-0.5, -0.5], [w - 0.5, h - 0.5]]), *pts])
    allp = allp[np.isfinite(allp).all(1)]
    lo, hi = allp.min(0), allp.max(0)
    # At most a whole image's width / height beyond each side: a wild prediction would shrink the image to a dot.
    lo, hi = np.maximum(lo, [-0.5 - w, -0.5 - h]), np.minimum(hi, [w - 0.5 + w, h - 0.5 + h])
    m = 0.05 * (hi - lo)
    return (lo[0] - m[0], hi[0] + m[0]), (hi[1] + m[1], lo[1] - m[1])


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
        view = _row_view(img.shape[:2], gt[vis > 0], [preds[n]["pred"][idx] for n in names]
                         + [preds[n]["anchor"][idx] for n in names if preds[n].get("anchor") is not None])
        for c, name in enumerate(names):
            ax = axes[r][c]
            ax.imshow(img)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(name, fontsize=9)
            p = preds[name]["pred"][idx]
            color = method_color(name)
            for a, b in skeleton:
                if vis[a] > 0 and vis[b] > 0:
                    ax.plot([p[a, 0], p[b, 0]], [p[a, 1], p[b, 1]], color=color, lw=1.2)
            anchors = preds[name].get("anchor")
            if anchors is not None and name in ANCHOR_STRATEGY_NAMES:
                an = anchors[idx]
                for k in np.flatnonzero(vis == 1):
                    ax.plot([an[k, 0], p[k, 0]], [an[k, 1], p[k, 1]], color="yellow", lw=0.7)
                    ax.plot(an[k, 0], an[k, 1], "s", ms=3, mfc="none", mec="yellow", mew=0.8)
            h, w = img.shape[:2]
            out = outside_frame(gt[:, 0], gt[:, 1], w, h)
            ax.scatter(gt[vis == 2, 0], gt[vis == 2, 1], s=14, c="white", edgecolors="black", linewidths=0.4, zorder=3)
            ax.scatter(gt[(vis == 1) & ~out, 0], gt[(vis == 1) & ~out, 1], s=14, c="red", edgecolors="black",
                       linewidths=0.4, zorder=3)
            ax.scatter(gt[(vis == 1) & out, 0], gt[(vis == 1) & out, 1], s=16, facecolors="none", edgecolors="red",
                       linewidths=1.0, zorder=3)
            ax.set_xlim(*view[0])
            ax.set_ylim(*view[1])
    fig.suptitle("ground truth: white visible, red occluded, red ring outside the image; lines: prediction;\n"
                 "yellow: anchor of each invisible keypoint", fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
