"""Predictions and anchors on any image file: the whole image is fitted into the model input, predictions
are mapped back to the original image, and one PNG per image shows them (docs/export-and-visualize.md).

Left panel: the image, the predicted skeleton, the keypoints coloured by confidence and, for the anchor
strategies (fixanchor, adaanchor), a line from each keypoint to the anchor cell that produced it, the cell
drawn as a small square (as the paper's Fig. 4). Right panel: the confidence map (``sigmoid(conf)``, or the
heatmap for ``heatmap``), maximum over the selected keypoint types, resampled onto the original image.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Polygon  # noqa: E402
from torch import nn  # noqa: E402

from .data.dataset import load_image  # noqa: E402
from .data.transforms import apply_affine, invert_affine, warp_image  # noqa: E402
from .data.types import to_tensor_image  # noqa: E402
from .errors import AdaAnchorError, unknown_name_error  # noqa: E402
from .predict.images import as_rgb as _as_rgb  # noqa: E402
from .predict.predictor import fit_image_affine  # noqa: E402  (the crop of TopDownDataset(crop="image"))
from .predict.sources import Source, expand_sources, read_video  # noqa: E402
from .viz import COLORS  # noqa: E402

ANCHOR_STRATEGIES = ("fixanchor", "adaanchor")
ANCHOR_COLOR = "yellow"  # as the anchors of viz.plot_prediction_grid
SCORE_CMAP = "RdYlGn"  # keypoint confidence: red low, green high
MAP_CMAP = "magma"


def _confidence_maps(outputs: dict[str, torch.Tensor], strategy_name: str) -> np.ndarray | None:
    """``(K, h, w)`` in [0, 1]: ``sigmoid(conf)`` (anchor strategies) or the heatmap clipped; None for regression."""
    if "conf" in outputs:
        return torch.sigmoid(outputs["conf"][0].float()).numpy()
    if "heatmap" in outputs:
        return outputs["heatmap"][0].float().clamp(0, 1).numpy()
    return None


@torch.no_grad()
def predict_image(model: nn.Module, strategy: Any, image: np.ndarray | str | Path, input_size: Sequence[int],
                  device: torch.device | str = "cpu") -> dict[str, Any]:
    """Predict keypoints on a whole image, returned in ORIGINAL image pixels.

    Args:
        model: in eval mode, on ``device``.
        image: ``(H, W, 3)`` uint8 RGB (grayscale ``(H, W)`` and RGBA are accepted), or an image file path.
        input_size: ``(W, H)`` of the model input.

    Returns:
        ``keypoints (K, 2)`` float64 original pixels; ``scores (K,)`` or None (regression); ``anchors (K, 2)``
        original pixels or None; ``conf_map (K, h, w)`` float32 in [0, 1] on the model's output grid (stride
        ``stride``, cell ``(i, j)`` centred at input pixel ``(s*j + (s-1)/2, s*i + (s-1)/2)``) or None for
        regression; ``affine`` (2x3, original -> input pixels); ``crop_keypoints`` and ``crop_anchors`` (input
        pixels, as decoded); ``stride``, ``input_size``, ``image_hw``, ``method``.
    """
    img = _as_rgb(load_image(image) if isinstance(image, (str, Path)) else image)
    w_in, h_in = int(input_size[0]), int(input_size[1])
    a = fit_image_affine(img.shape[:2], (w_in, h_in))
    crop = warp_image(img, a, (w_in, h_in))
    x = to_tensor_image(crop)[None].to(device)
    outputs = model(x)
    dec = strategy.decode(outputs)
    inv = invert_affine(a)
    crop_xy = dec.xy[0].float().cpu().numpy().astype(np.float64)
    crop_an = dec.anchor[0].float().cpu().numpy().astype(np.float64) if dec.anchor is not None else None
    name = str(getattr(strategy, "name", ""))
    return {
        "keypoints": apply_affine(inv, crop_xy),
        "scores": dec.score[0].float().cpu().numpy() if dec.score is not None else None,
        "anchors": apply_affine(inv, crop_an) if crop_an is not None else None,
        "conf_map": _confidence_maps({k: v.cpu() for k, v in outputs.items()}, name),
        "affine": a,
        "crop_keypoints": crop_xy,
        "crop_anchors": crop_an,
        "stride": int(strategy.stride),
        "input_size": (w_in, h_in),
        "image_hw": tuple(int(v) for v in img.shape[:2]),
        "method": name,
    }


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The 2x3 affine ``a o b`` (apply ``b`` first)."""
    m = np.vstack([np.asarray(a, np.float64), [0, 0, 1]]) @ np.vstack([np.asarray(b, np.float64), [0, 0, 1]])
    return m[:2]


def grid_to_image(grid: np.ndarray, affine: np.ndarray, stride: int, image_hw: Sequence[int]) -> np.ndarray:
    """Resample a ``(h, w)`` map on the model's output grid onto the original ``(H, W)`` image (bilinear).

    Cell ``(i, j)`` sits at input pixel ``(s*j + (s-1)/2, s*i + (s-1)/2)`` and input pixels go back to the image
    through the inverse of ``affine``; pixels beyond the outermost cell centres take the border cell's value.
    """
    import cv2

    s = float(stride)
    cell_to_input = np.array([[s, 0.0, (s - 1) / 2.0], [0.0, s, (s - 1) / 2.0]])
    m = _compose(invert_affine(affine), cell_to_input)
    h, w = int(image_hw[0]), int(image_hw[1])
    return cv2.warpAffine(np.ascontiguousarray(grid, dtype=np.float32), m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)


def select_keypoints(names: Sequence[str] | None, valid: Sequence[str]) -> list[int]:
    """Indices of the keypoint ``names`` (all when None or empty); an unknown name is an error listing the valid ones."""
    if not names:
        return list(range(len(valid)))
    out = []
    for n in names:
        if n not in valid:
            raise unknown_name_error("keypoint", str(n), valid)
        out.append(list(valid).index(n))
    return out


def _cell_square(anchor: np.ndarray, stride: int, inv: np.ndarray) -> np.ndarray:
    """The four corners (original pixels) of the cell centred at input pixel ``anchor``."""
    h = stride / 2.0
    corners = anchor + np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    return apply_affine(inv, corners)


def render_prediction(image: np.ndarray, pred: dict[str, Any], path: str | Path, skeleton: Sequence[tuple[int, int]] = (),
                      keypoint_names: Sequence[str] = (), selected: Sequence[int] | None = None, title: str = "") -> Path:
    """Write the two-panel PNG of one prediction (see the module docstring); returns ``path``."""
    img = _as_rgb(image)
    h, w = img.shape[:2]
    method = pred.get("method", "")
    kp, scores, anchors = pred["keypoints"], pred["scores"], pred["anchors"]
    k = kp.shape[0]
    sel = list(range(k)) if selected is None else list(selected)
    color = COLORS.get(method, "#d62728")
    inv = invert_affine(pred["affine"])

    panel_w = 5.0
    panel_h = float(np.clip(panel_w * h / max(w, 1), 2.5, 9.0))
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(2 * panel_w + 1.6, panel_h + 0.9))

    # Panel 1: image, skeleton, keypoints by confidence, anchors.
    ax0.imshow(img, interpolation="nearest")
    for a, b in skeleton:
        if a < k and b < k:
            ax0.plot([kp[a, 0], kp[b, 0]], [kp[a, 1], kp[b, 1]], color=color, lw=1.4, alpha=0.9, zorder=2)
    pts = [kp]
    if anchors is not None and method in ANCHOR_STRATEGIES:
        pts.append(anchors[sel])
        for j in sel:
            ax0.plot([anchors[j, 0], kp[j, 0]], [anchors[j, 1], kp[j, 1]], color=ANCHOR_COLOR, lw=0.8, zorder=3)
            ax0.add_patch(Polygon(_cell_square(pred["crop_anchors"][j], pred["stride"], inv), closed=True,
                                  fill=False, edgecolor=ANCHOR_COLOR, lw=0.9, zorder=3))
    if scores is not None:
        sc = ax0.scatter(kp[:, 0], kp[:, 1], c=scores, cmap=SCORE_CMAP, vmin=0.0, vmax=1.0, s=22,
                         edgecolors="black", linewidths=0.5, zorder=4)
        fig.colorbar(sc, ax=ax0, fraction=0.046, pad=0.02, label="keypoint confidence")
    else:
        ax0.scatter(kp[:, 0], kp[:, 1], c=color, s=22, edgecolors="black", linewidths=0.5, zorder=4)
    allp = np.concatenate(pts, axis=0)
    x0, x1 = min(-0.5, allp[:, 0].min()), max(w - 0.5, allp[:, 0].max())
    y0, y1 = min(-0.5, allp[:, 1].min()), max(h - 0.5, allp[:, 1].max())
    mx, my = 0.04 * (x1 - x0), 0.04 * (y1 - y0)
    ax0.set_xlim(x0 - mx, x1 + mx)
    ax0.set_ylim(y1 + my, y0 - my)
    sub = "keypoints coloured by confidence" if scores is not None else "keypoints (no confidence)"
    if method in ANCHOR_STRATEGIES:
        sub += "; yellow: anchor cell of each keypoint"
    ax0.set_title(sub, fontsize=8)

    # Panel 2: confidence map, max over the selected types, on the original image.
    ax1.imshow(img.mean(axis=2), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    if pred["conf_map"] is not None and sel:
        grid = pred["conf_map"][sel].max(axis=0)
        full = grid_to_image(grid, pred["affine"], pred["stride"], (h, w))
        im = ax1.imshow(full, cmap=MAP_CMAP, vmin=0.0, vmax=1.0, alpha=0.6, interpolation="bilinear")
        fig.colorbar(im, ax=ax1, fraction=0.046, pad=0.02, label="heatmap" if method == "heatmap" else "sigmoid(conf)")
        ax1.scatter(kp[sel, 0], kp[sel, 1], s=10, c="white", edgecolors="black", linewidths=0.4, zorder=4)
        what = ", ".join(keypoint_names[j] for j in sel) if len(sel) <= 4 and keypoint_names else f"{len(sel)} keypoints"
        ax1.set_title(f"confidence map, max over {what}", fontsize=8)
    else:
        ax1.text(0.5, 0.5, f"{method or 'this method'}: no confidence map", ha="center", va="center",
                 transform=ax1.transAxes, color="white", fontsize=9,
                 bbox={"facecolor": "black", "alpha": 0.6, "edgecolor": "none"})
        ax1.set_title("confidence map", fontsize=8)
    ax1.set_xlim(-0.5, w - 0.5)
    ax1.set_ylim(h - 0.5, -0.5)
    for ax in (ax0, ax1):
        ax.set_xticks([])
        ax.set_yticks([])
    mean = f"mean score {float(np.mean(scores[sel])):.3f}" if scores is not None and sel else "score N/A"
    fig.suptitle(f"{method}: {mean}" + (f"   {title}" if title else ""), fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _unique_name(stem: str, method: str, used: set[str]) -> str:
    name = f"{stem}_{method}.png"
    i = 1
    while name in used:
        name = f"{stem}_{i}_{method}.png"
        i += 1
    used.add(name)
    return name


def visualize_images(model: nn.Module, strategy: Any, images: Iterable[str | Path | tuple[np.ndarray, str, str]], out_dir: str | Path,
                     input_size: Sequence[int], spec: Any = None, keypoints: Sequence[str] | None = None,
                     device: torch.device | str = "cpu") -> list[Path]:
    """One PNG per image in ``out_dir`` (``<stem>_<method>.png``); returns the paths written. An item is an
    image file or an ``(image, stem, title)`` tuple (:func:`video_frames`)."""
    names = tuple(spec.keypoints) if spec is not None else tuple(str(i) for i in range(strategy.num_keypoints))
    skeleton = tuple(spec.skeleton) if spec is not None else ()
    sel = select_keypoints(keypoints, names)
    if isinstance(images, (list, tuple)) and not images:
        raise AdaAnchorError("no image given")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise AdaAnchorError(f"{out}: exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AdaAnchorError(f"{out}: cannot create the output folder ({e.strerror or e})") from None
    used: set[str] = set()
    written = []
    for item in images:
        if isinstance(item, tuple):  # (image array, name stem, title): a video frame
            img, stem, title = item
        else:
            p = Path(item)
            img, stem, title = load_image(p), p.stem, p.name  # DataError naming the file when missing or corrupt
        pred = predict_image(model, strategy, img, input_size, device)
        target = out / _unique_name(stem, pred["method"] or "model", used)
        try:
            written.append(render_prediction(img, pred, target, skeleton, names, sel, title=title))
        except OSError as e:
            raise AdaAnchorError(f"{target}: cannot write ({e.strerror or e})") from None
    return written


def video_frames(path: str | Path, every: int = 1, max_frames: int | None = None) -> Iterator[tuple[np.ndarray, str, str]]:
    """Every ``every``-th frame of a video (at most ``max_frames``), as ``(image, stem, title)`` items of
    :func:`visualize_images`, decoded as a stream (:func:`adaanchor.predict.sources.read_video`)."""
    p = Path(path)
    n = 0
    for fr in read_video(p):
        if fr.index % max(1, every):
            continue
        if max_frames is not None and n >= max_frames:
            return
        t = f" {fr.time:.2f} s" if fr.time is not None else ""
        yield fr.image, f"{p.stem}_f{fr.index:06d}", f"{p.name} frame {fr.index}{t}"
        n += 1


def expand_viz_inputs(items: Sequence[str | Path]) -> list[Source]:
    """Image files, videos, folders (their images and videos) and glob patterns, as sources; a path that
    does not exist, an empty folder or a pattern without match is an error naming it."""
    out: list[Source] = []
    for it in items:
        srcs, skips = expand_sources([it])
        if skips:
            reason = "image file not found" if skips[0].reason == "no such file or folder" else skips[0].reason
            raise AdaAnchorError(f"{skips[0].source}: {reason}")
        out.extend(srcs)
    return out


def visualize_command(run: str, images: list[str] | Sequence[str], out_dir: str, overrides: list[str] | Sequence[str] = (),
                      ckpt: str | None = None, keypoints: list[str] | None = None,
                      device: torch.device | str = "cpu", every: int = 1, max_frames: int | None = 100) -> list[Path]:
    """``adaanchor viz RUN IMAGE [IMAGE ...] --out DIR [ckpt=PATH] [key=value ...] [--keypoints name ...]``.

    ``run`` is a run directory (its ``best.pt``, else ``last.pt``) or a config file (with ``ckpt=PATH`` or
    ``model.weights``). ``images`` are image files, videos, folders or glob patterns; of a video, every
    ``every``-th frame is drawn, at most ``max_frames`` (None: all). Returns the PNGs written.
    """
    from .data.spec_source import load_spec
    from .engine.run import load_for_eval, resolve_run

    cfg, ckpt_path = resolve_run(run, ckpt, list(overrides))
    if ckpt_path is None and not cfg.model.weights:
        raise AdaAnchorError(f"{run}: no checkpoint found (checkpoints/best.pt or last.pt); pass ckpt=PATH")
    spec = load_spec(cfg.data.spec)
    select_keypoints(keypoints, spec.keypoints)  # fail before loading anything heavy
    srcs = expand_viz_inputs(images)
    if not srcs:
        raise AdaAnchorError("no image given")
    model, strategy, _ = load_for_eval(cfg, ckpt_path, device)
    input_size = (int(cfg.data.input_size[0]), int(cfg.data.input_size[1]))
    items = itertools.chain.from_iterable(
        video_frames(s.path, every, max_frames) if s.kind == "video" else [s.path] for s in srcs)
    return visualize_images(model, strategy, items, out_dir, input_size, spec, keypoints, device)


def split_image_args(items: Sequence[str]) -> tuple[list[str], str | None, list[str]]:
    """Split the ``viz`` positionals into image paths, ``ckpt=PATH`` and ``key=value`` overrides: an item with
    ``=`` that is not an existing file is an override."""
    images, overrides, ckpt = [], [], None
    for it in items:
        if "=" in it and not Path(it).is_file():
            if it.startswith("ckpt="):
                ckpt = it.split("=", 1)[1]
            else:
                overrides.append(it)
        else:
            images.append(it)
    return images, ckpt, overrides


__all__ = [
    "fit_image_affine",
    "grid_to_image",
    "predict_image",
    "render_prediction",
    "select_keypoints",
    "split_image_args",
    "visualize_command",
    "visualize_images",
    "video_frames",
]
