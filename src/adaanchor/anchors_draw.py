"""The PNG of one prediction on its original image (docs/export-and-visualize.md), drawn by :mod:`.anchors_viz`.

Left panel: the image, the predicted skeleton, the keypoints coloured by confidence and, for the anchor
strategies, a line from each keypoint to the anchor cell that produced it, the cell drawn as a small square (as
the paper's Fig. 4). Right panel: the confidence map (``sigmoid(conf)``, or the heatmap for ``heatmap``), maximum
over the selected keypoint types, resampled onto the original image and over the same region as the left
panel: where that reaches beyond the image (keypoints or anchors outside it), the map is drawn there too, as far as
the model's input (the crop) reached.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.patches import Polygon, Rectangle  # noqa: E402

from .atomic import save_figure
from .colors import method_color  # noqa: E402
from .coords import outside_frame
from .data.transforms import apply_affine, invert_affine  # noqa: E402
from .predict.images import as_rgb as _as_rgb  # noqa: E402
from .strategies import ANCHOR_STRATEGY_NAMES  # noqa: E402

ANCHOR_STRATEGIES = ANCHOR_STRATEGY_NAMES  # the strategies whose keypoints come from an anchor cell
ANCHOR_COLOR = "yellow"  # as the anchors of viz.plot_prediction_grid
SCORE_CMAP = "RdYlGn"  # keypoint confidence: red low, green high
MAP_CMAP = "magma"
OUTLINE = [patheffects.withStroke(linewidth=2.2, foreground="black")]  # a dark edge under the yellow marks


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``a o b`` (apply ``b`` first)."""
    m = np.vstack([np.asarray(a, np.float64), [0, 0, 1]]) @ np.vstack([np.asarray(b, np.float64), [0, 0, 1]])
    return m[:2]


def _warp_grid(grid: np.ndarray, affine: np.ndarray, stride: int, image_to_raster: np.ndarray,
               size: tuple[int, int]) -> np.ndarray:
    """A ``(h, w)`` map on the model's output grid resampled (bilinear) onto a raster of ``size`` ``(cols, rows)``
    placed on the original image by the 2x3 affine ``image_to_raster``. Cell ``(i, j)`` sits at input pixel
    ``(s*j + (s-1)/2, s*i + (s-1)/2)`` and input pixels go back to the image through the inverse of ``affine``;
    raster pixels beyond the outermost cell centres take the border cell's value."""
    import cv2

    s = float(stride)
    cell_to_input = np.array([[s, 0.0, (s - 1) / 2.0], [0.0, s, (s - 1) / 2.0]])
    m = _compose(image_to_raster, _compose(invert_affine(affine), cell_to_input))
    return cv2.warpAffine(np.ascontiguousarray(grid, dtype=np.float32), m, size, flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def grid_to_image(grid: np.ndarray, affine: np.ndarray, stride: int, image_hw: Sequence[int]) -> np.ndarray:
    """Resample a ``(h, w)`` map on the model's output grid onto the original ``(H, W)`` image (bilinear; see
    :func:`_warp_grid`)."""
    return _warp_grid(grid, affine, stride, np.eye(2, 3), (int(image_hw[1]), int(image_hw[0])))


def grid_to_view(grid: np.ndarray, affine: np.ndarray, stride: int, view: Sequence[float],
                 longest: int = 400) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Resample a ``(h, w)`` map on the model's output grid onto a raster of the original image's region ``view``
    ``(x0, x1, y0, y1)`` (original pixels; it may reach beyond the image, as the keypoint panel's view does for
    keypoints and anchors outside it), ``longest`` pixels on its longer side.

    Returns the raster ``(rows, cols)``, NaN (drawn transparent) where the region lies outside the model's input
    (the crop), and its ``extent`` ``(left, right, bottom, top)`` for ``imshow``. Inside the input, values are
    :func:`grid_to_image`'s: bilinear between cell centres, the border cell's value beyond them.
    """
    x0, x1 = sorted(float(v) for v in view[:2])
    y0, y1 = sorted(float(v) for v in view[2:])
    scale = longest / max(x1 - x0, y1 - y0, 1e-6)
    cols, rows = max(2, int(np.ceil((x1 - x0) * scale))), max(2, int(np.ceil((y1 - y0) * scale)))
    image_to_raster = np.array([[scale, 0.0, -x0 * scale - 0.5], [0.0, scale, -y0 * scale - 0.5]])
    out = _warp_grid(grid, affine, stride, image_to_raster, (cols, rows))
    # Raster pixel centres in input pixels: outside the input rectangle the model saw nothing.
    u, v = np.meshgrid(np.arange(cols), np.arange(rows))
    img_xy = np.stack([x0 + (u + 0.5) / scale, y0 + (v + 0.5) / scale], -1).reshape(-1, 2)
    inp = apply_affine(np.asarray(affine, np.float64), img_xy).reshape(rows, cols, 2)
    h_in, w_in = grid.shape[0] * float(stride), grid.shape[1] * float(stride)
    outside = outside_frame(inp[..., 0], inp[..., 1], w_in, h_in)
    out[outside] = np.nan
    return out, (x0, x0 + cols / scale, y0 + rows / scale, y0)


def _cell_square(anchor: np.ndarray, stride: int, inv: np.ndarray) -> np.ndarray:
    """The four corners (original pixels) of the cell centred at input pixel ``anchor``."""
    h = stride / 2.0
    corners = anchor + np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    return apply_affine(inv, corners)


def render_prediction(image: np.ndarray, pred: dict[str, Any], path: str | Path, skeleton: Sequence[tuple[int, int]] = (),
                      keypoint_names: Sequence[str] = (), selected: Sequence[int] | None = None, title: str = "") -> Path:
    """Write the two-panel PNG of one prediction (see the module docstring); returns ``path``.

    ``pred``: :func:`adaanchor.anchors_viz.predict_image`'s result; ``selected``: the keypoint types of the
    anchors and the confidence map (None: all)."""
    img = _as_rgb(image)
    h, w = img.shape[:2]
    method, scores = pred.get("method", ""), pred["scores"]
    sel = list(range(pred["keypoints"].shape[0])) if selected is None else list(selected)
    panel_w = 5.0
    panel_h = float(np.clip(panel_w * h / max(w, 1), 2.5, 9.0))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(2 * panel_w + 1.6, panel_h + 0.9))
    _keypoint_panel(fig, ax0, img, pred, skeleton, sel)
    # The map panel shows the keypoint panel's region, so that confidence beyond the image (a truncated person,
    # a letterboxed crop) is drawn where the keypoints and anchors beside it are.
    _map_panel(fig, ax1, img, pred, keypoint_names, sel, (*ax0.get_xlim(), *ax0.get_ylim()))
    for ax in (ax0, ax1):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(f"{method}: {_score_line(scores, sel, keypoint_names)}" + (f"   {title}" if title else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    path = Path(path)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def _score_line(scores: np.ndarray | None, sel: list[int], names: Sequence[str]) -> str:
    """``mean score 0.41`` of the selected keypoints (named when they are a few), over those with a finite score."""
    if scores is None or not sel:
        return "score N/A"
    finite = [float(scores[j]) for j in sel if np.isfinite(scores[j])]
    of = "" if len(sel) == len(scores) else (" of " + ", ".join(names[j] for j in sel) if names and len(sel) <= 4
                                              else f" of {len(sel)} keypoints")
    if not finite:
        return f"no finite score{of}"
    lost = f" ({len(sel) - len(finite)} not finite)" if len(finite) < len(sel) else ""
    return f"mean score{of} {np.mean(finite):.3f}{lost}"


#: The longest side an image is drawn at in a panel (about twice the panel's own pixels at the figure's dpi). A larger
#: photo is shrunk first: matplotlib drew an 8000 x 6000 image at full size, 4.65 GB for one PNG of 440 KB.
SHOWN_SIDE = 1200


def _shown(img: np.ndarray, gray: bool = False) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """``img (H, W, 3)`` uint8 as a panel draws it: at most :data:`SHOWN_SIDE` on its longest side (area-averaged,
    in uint8), gray with ``gray``, and the ``extent`` that puts it on the original pixel coordinates (pixel centres
    at integers), the same for any shrink."""
    import cv2

    h, w = img.shape[:2]
    f = SHOWN_SIDE / max(h, w)
    if f < 1:
        img = cv2.resize(img, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    if gray:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    return img, (-0.5, w - 0.5, h - 0.5, -0.5)


def _keypoint_panel(fig: Any, ax: Any, img: np.ndarray, pred: dict[str, Any], skeleton: Sequence[tuple[int, int]],
                    sel: list[int]) -> None:
    """The image, the skeleton, the keypoints by confidence and, for the anchor strategies, the anchor cells; the
    view holds every keypoint and anchor, also those outside the image."""
    h, w = img.shape[:2]
    method = pred.get("method", "")
    kp, scores, anchors = pred["keypoints"], pred["scores"], pred["anchors"]
    k = kp.shape[0]
    color = method_color(method)
    shown, extent = _shown(img)
    ax.imshow(shown, interpolation="nearest", extent=extent)
    for a, b in skeleton:  # white, outlined: the method's colour (green for adaanchor) read as a confidence
        if a < k and b < k:
            ax.plot([kp[a, 0], kp[b, 0]], [kp[a, 1], kp[b, 1]], color="white", lw=1.2, zorder=2, path_effects=OUTLINE)
    pts = [kp]
    if pred.get("box") is not None:  # the instance's box (viz --boxes): which person the picture is of
        bx, by, bw, bh = (float(v) for v in pred["box"])
        for edge, lw, ls in (("black", 2.0, "-"), ("white", 1.0, "--")):  # seen on light and dark alike
            ax.add_patch(Rectangle((bx, by), bw, bh, fill=False, edgecolor=edge, lw=lw, ls=ls, zorder=3))
        pts.append(np.array([[bx, by], [bx + bw, by + bh]]))
    if anchors is not None and method in ANCHOR_STRATEGIES:
        pts.append(anchors[sel])
        inv = invert_affine(pred["affine"])
        for j in sel:  # an arrow from the anchor cell to its keypoint, outlined: seen on yellow images too
            ax.annotate("", xy=(kp[j, 0], kp[j, 1]), xytext=(anchors[j, 0], anchors[j, 1]), zorder=3,
                        arrowprops={"arrowstyle": "-|>", "color": ANCHOR_COLOR, "lw": 0.9, "mutation_scale": 8,
                                    "shrinkA": 0, "shrinkB": 3, "path_effects": OUTLINE})
            ax.add_patch(Polygon(_cell_square(pred["crop_anchors"][j], pred["stride"], inv), closed=True,
                                 fill=False, edgecolor=ANCHOR_COLOR, lw=0.9, zorder=3, path_effects=OUTLINE))
    _keypoint_marks(fig, ax, kp, scores, color)
    if len(sel) < k:  # the keypoints viz --keypoints chose: ringed and named
        ax.scatter(kp[sel, 0], kp[sel, 1], s=110, facecolors="none", edgecolors="white", linewidths=1.6, zorder=5,
                   path_effects=OUTLINE)
    allp = np.concatenate(pts, axis=0)
    x0, x1 = min(-0.5, allp[:, 0].min()), max(w - 0.5, allp[:, 0].max())
    y0, y1 = min(-0.5, allp[:, 1].min()), max(h - 0.5, allp[:, 1].max())
    mx, my = 0.04 * (x1 - x0), 0.04 * (y1 - y0)
    ax.set_xlim(x0 - mx, x1 + mx)
    ax.set_ylim(y1 + my, y0 - my)
    sub = "keypoints coloured by confidence" if scores is not None else "keypoints (no confidence)"
    if scores is not None and not np.isfinite(scores).all():
        sub += "; x: no finite score"
    if method in ANCHOR_STRATEGIES:
        sub += "; yellow: anchor cell of each keypoint" if len(sel) == k else "; yellow: anchor cell of each ringed keypoint"
    ax.set_title(sub, fontsize=8)


def _keypoint_marks(fig: Any, ax: Any, kp: np.ndarray, scores: np.ndarray | None, color: str) -> None:
    """The keypoints ``(K, 2)``: coloured by confidence with a colour bar, a keypoint without a finite score as a
    magenta x (matplotlib leaves a NaN colour out: the keypoint vanished), or in the method's colour for a strategy
    without confidence."""
    if scores is None:
        ax.scatter(kp[:, 0], kp[:, 1], c=color, s=22, edgecolors="black", linewidths=0.5, zorder=4)
        return
    ok = np.isfinite(scores)
    sc = ax.scatter(kp[ok, 0], kp[ok, 1], c=scores[ok], cmap=SCORE_CMAP, vmin=0.0, vmax=1.0, s=22,
                    edgecolors="black", linewidths=0.5, zorder=4)
    ax.scatter(kp[~ok, 0], kp[~ok, 1], marker="x", c="magenta", s=30, linewidths=1.5, zorder=4)
    fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.02, label="keypoint confidence")


def _map_panel(fig: Any, ax: Any, img: np.ndarray, pred: dict[str, Any], keypoint_names: Sequence[str],
               sel: list[int], view: Sequence[float] | None = None) -> None:
    """The confidence map, max over the selected types, on the original image (gray), over the region ``view``
    ``(x0, x1, y0, y1)`` in original pixels (default: the image)."""
    h, w = img.shape[:2]
    method, kp = pred.get("method", ""), pred["keypoints"]
    view = (-0.5, w - 0.5, h - 0.5, -0.5) if view is None else tuple(view)
    shown, extent = _shown(img, gray=True)
    ax.imshow(shown, cmap="gray", vmin=0, vmax=255, interpolation="nearest", extent=extent)
    if pred["conf_map"] is not None and sel:
        cm = pred["conf_map"]
        # One map per keypoint type, or another count (a centre run's one person-centre map): then all of it.
        # fmax: a NaN map (a diverged type) leaves the others' maximum, where max made the whole panel NaN.
        grid = np.fmax.reduce(cm[sel] if cm.shape[0] == kp.shape[0] else cm, axis=0)
        raster, extent = grid_to_view(grid, pred["affine"], pred["stride"], view)
        im = ax.imshow(raster, cmap=MAP_CMAP, vmin=0.0, vmax=1.0, alpha=0.6, interpolation="bilinear", extent=extent)
        # What the map is, from the head maps (a multi-person run's method is heatmap_ae or heatmap_centre).
        label = pred.get("map_label") or ("heatmap" if method == "heatmap" else "sigmoid(conf)")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label=label)
        ax.scatter(kp[sel, 0], kp[sel, 1], s=10, c="white", edgecolors="black", linewidths=0.4, zorder=4)
        what = ", ".join(keypoint_names[j] for j in sel) if len(sel) <= 4 and keypoint_names else f"{len(sel)} keypoints"
        per_type = cm.shape[0] == kp.shape[0]
        ax.set_title(f"confidence map, max over {what}" if per_type else "person-centre confidence map", fontsize=8)
    else:
        ax.text(0.5, 0.5, f"{method or 'this method'}: no confidence map", ha="center", va="center",
                transform=ax.transAxes, color="white", fontsize=9,
                bbox={"facecolor": "black", "alpha": 0.6, "edgecolor": "none"})
        ax.set_title("confidence map", fontsize=8)
    ax.set_xlim(*view[:2])
    ax.set_ylim(*view[2:])
