"""Multi-person metrics in one call (COCO AP family + keypoint recall) and the confidence-threshold sweep
of the paper's Fig. 5: AP and recall at every ``gamma`` of :data:`GAMMAS`, and its plot.

AP numbers are pycocotools' (through :func:`adaanchor.metrics.coco.coco_keypoint_ap`), as fractions in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..atomic import save_figure
from .checked import checked_gt
from .coco import GtLike, ResultsLike, coco_keypoint_ap
from .recall import keypoint_recall

GAMMAS = (0.01, 0.05, 0.1, 0.2, 0.3, 0.5)


def multi_person_metrics(gt: GtLike, results: ResultsLike, sigmas: Any | None = None) -> dict[str, float]:
    """``ap, ap50, ap75, apm, apl, ar`` (pycocotools) and ``recall`` (appendix A.2) of one results set. ``gt``
    is read and checked once for both (pass a :class:`~.checked.CheckedGt` to check it once for many calls)."""
    gt = checked_gt(gt)
    ap = coco_keypoint_ap(gt, results, sigmas=sigmas)
    out = {"ap": ap["AP"], "ap50": ap["AP50"], "ap75": ap["AP75"], "apm": ap["APM"], "apl": ap["APL"], "ar": ap["AR"]}
    out["recall"] = keypoint_recall(gt, results, sigmas=sigmas)["recall"]
    return out


def gamma_sweep(predict: Callable[[float], list[dict]], gt: GtLike, sigmas: Any | None = None,
                gammas: Sequence[float] = GAMMAS,
                known: Mapping[float, Mapping[str, float]] | None = None) -> dict[str, dict[str, float]]:
    """AP and recall at each threshold.

    Args:
        predict: ``gamma -> COCO results`` (decoding and grouping at that threshold).
        known: :func:`multi_person_metrics` already computed at some thresholds (an evaluation's own threshold,
            one of the sweep's): taken as they are, not predicted and scored a second time.
    Returns:
        ``{"ap_by_gamma": {str(gamma): ap}, "recall_by_gamma": {str(gamma): recall}}`` (JSON-ready keys).
    """
    known = known or {}
    gt = checked_gt(gt)  # once for the sweep, not twice per threshold
    ap, rec = {}, {}
    for g in gammas:
        m = known[float(g)] if float(g) in known else multi_person_metrics(gt, predict(float(g)), sigmas)
        ap[str(g)], rec[str(g)] = m["ap"], m["recall"]
    return {"ap_by_gamma": ap, "recall_by_gamma": rec}


def plot_gamma_sweep(methods: Mapping[str, Mapping[str, Mapping[str, float]]], path: str | Path,
                     title: str = "") -> Path:
    """Two panels, AP and recall against gamma, one line per curve ``methods[name]`` (``"ap_by_gamma"``,
    ``"recall_by_gamma"``: ``{gamma: value}``; a curve without recall is drawn in the AP panel only; with
    ``"ap_std_by_gamma"`` / ``"recall_std_by_gamma"`` a band of ± that spread is shaded around it). A curve's
    ``"method"`` (default its name) gives its colour (:func:`adaanchor.colors.method_color`: a method keeps its
    colour across groupings and benchmarks) and ``"linestyle"`` its line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from ..colors import method_color

    ncol = max(1, min(4, len(methods)))
    rows = -(-len(methods) // ncol)
    height = 3.6 + 0.28 * rows  # the legend sits under the panels: inside one it covered a flat curve
    fig, axes = plt.subplots(1, 2, figsize=(9, height))
    for name, m in methods.items():
        style = {"color": method_color(str(m.get("method", name))), "linestyle": m.get("linestyle", "-")}
        for ax, key in zip(axes, ("ap_by_gamma", "recall_by_gamma")):
            scale = 100.0 if key == "ap_by_gamma" else 1.0
            pts = sorted((float(g), scale * v) for g, v in (m.get(key) or {}).items())
            if not pts:
                continue
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=4, label=name, **style)
            sd = m.get(key.replace("_by_", "_std_by_")) or {}
            band = sorted((float(g), scale * v, scale * float(sd[g])) for g, v in (m.get(key) or {}).items() if g in sd)
            if band:
                x, y, s = (np.array(c) for c in zip(*band))
                ax.fill_between(x, y - s, y + s, color=style["color"], alpha=0.12, linewidth=0)
    axes[0].set_ylabel("AP (%)")
    axes[1].set_ylabel("keypoint recall")
    for ax in axes:
        ax.set_xlabel("confidence threshold gamma")
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=ncol, frameon=False, fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout(rect=(0.0, (0.28 * rows + 0.1) / height, 1.0, 1.0))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


__all__ = ["GAMMAS", "gamma_sweep", "multi_person_metrics", "plot_gamma_sweep"]
