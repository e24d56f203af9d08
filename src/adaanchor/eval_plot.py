"""``adaanchor eval --plot``: where a top-down model errs, as a figure.

Left: the mean error of each keypoint type on visible and on invisible (occluded or outside the input) keypoints,
in original-image pixels, the per-keypoint table of ``eval`` drawn. Right, for a model with a confidence: the mean
error of the keypoints in each tenth of the confidence range they were given (deciles of their confidences,
visible and invisible apart), so that a threshold on the confidence can be read off: a falling curve means the
confidence ranks the errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .atomic import save_figure  # noqa: E402
from .errors import AdaAnchorError  # noqa: E402

#: Colours of the two visibility groups (visible v=2, invisible v=1).
VIS_COLOR, INV_COLOR = "#1f77b4", "#d62728"


def confidence_bins(score: np.ndarray, err: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keypoints ``score (N,)`` and ``err (N,)`` in ``bins`` groups of (nearly) equal size by confidence: each
    group's mean confidence, mean error and size. Ties of confidence stay in one group (a group may be larger);
    non-finite pairs are left out. Empty arrays for no keypoint."""
    ok = np.isfinite(score) & np.isfinite(err)
    s, e = score[ok], err[ok]
    if s.size == 0:
        return np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int64)
    order = np.argsort(s, kind="stable")
    s, e = s[order], e[order]
    # A keypoint's group is that of the first keypoint with its confidence, by rank: equal confidences stay together.
    idx = np.searchsorted(s, s, side="left") * bins // s.size
    groups = np.unique(idx)
    return (np.array([s[idx == g].mean() for g in groups]), np.array([e[idx == g].mean() for g in groups]),
            np.array([int((idx == g).sum()) for g in groups]))


def _keypoint_panel(ax: Any, per_keypoint: Mapping[str, Mapping[str, Any]]) -> None:
    names = list(per_keypoint)
    y = np.arange(len(names))
    h = 0.4
    for off, key, color, label in ((-h / 2, "vis_error", VIS_COLOR, "visible"), (h / 2, "inv_error", INV_COLOR, "invisible")):
        vals = [per_keypoint[n].get(key) for n in names]
        # A type without keypoints of that visibility has no bar of length 0 (an error of 0), but "n/a".
        ax.barh(y + off, [v if v is not None else np.nan for v in vals], h, color=color, label=label)
        for yi, v in zip(y, vals):
            if v is None:
                ax.text(0, yi + off, " n/a", va="center", ha="left", fontsize=6, color=color)
    ax.set_yticks(y, names, fontsize=7 if len(names) > 20 else 8)
    ax.invert_yaxis()
    ax.set_xlabel("mean error (original-image px)")
    ax.set_title("error by keypoint type", fontsize=10)
    ax.legend(fontsize=8)


def _confidence_panel(ax: Any, preds: Mapping[str, Any]) -> None:
    d = np.linalg.norm(preds["pred_orig"] - preds["gt_orig"], axis=-1)
    drawn = False
    for v, color, label in ((2, VIS_COLOR, "visible"), (1, INV_COLOR, "invisible")):
        m = preds["vis"] == v
        conf, err, n = confidence_bins(np.asarray(preds["score"])[m], d[m])
        if conf.size:
            ax.plot(conf, err, "o-", color=color, label=f"{label} ({int(n.sum())})")
            drawn = True
    if not drawn:  # every confidence or error not finite: an empty panel, and matplotlib warned of the legend
        ax.text(0.5, 0.5, "no keypoint with a finite confidence and error", ha="center", va="center",
                transform=ax.transAxes, fontsize=9)
    ax.set_xlabel("confidence (mean of each tenth of the keypoints)")
    ax.set_ylabel("mean error (original-image px)")
    ax.set_title("error by confidence", fontsize=10)
    if drawn:
        ax.legend(fontsize=8)


def plot_eval(m: Mapping[str, Any], preds: Mapping[str, Any], path: str | Path, title: str = "") -> Path:
    """The figure of the module docstring from ``eval``'s metrics ``m`` (``per_keypoint_orig``) and predictions
    ``preds`` (:func:`adaanchor.engine.evaluate.predict`: ``pred_orig``, ``gt_orig (M, K, 2)``, ``vis (M, K)``,
    ``score (M, K)`` or None), written whole to ``path`` (PNG, or any suffix matplotlib writes)."""
    per_kp = m.get("per_keypoint_orig") or {}
    has_conf = preds.get("score") is not None
    fig, axes = plt.subplots(1, 2 if has_conf else 1, figsize=(11 if has_conf else 6, max(3.5, 0.22 * len(per_kp) + 1.5)),
                             squeeze=False)
    _keypoint_panel(axes[0, 0], per_kp)
    if has_conf:
        _confidence_panel(axes[0, 1], preds)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(path)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)  # as --predictions and --json make theirs
        save_figure(fig, out, dpi=110)  # whole or not at all
    except ValueError as e:  # a suffix matplotlib has no writer for
        raise AdaAnchorError(f"{out}: cannot write the plot ({e})") from None
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot write the plot ({e.strerror or e})") from None
    finally:
        plt.close(fig)
    return out


__all__ = ["confidence_bins", "plot_eval"]
