"""Flip testing (``eval.flip_test``): an input predicted as it is and mirrored, the two passes merged.

The paper tests without it (single scale, no flip), and so does every table here; pose libraries commonly
offer it for a little accuracy at twice the inference cost.

**Top-down** (``task=topdown``): the two passes' decoded points are averaged. The mirrored pass's keypoints are mirrored back
(``x -> W - 1 - x``, about the crop's centre as the training flip mirrors, pixel centres at integers) and their
left / right labels swapped (the spec's flip pairs). Then:

- keypoints: the mean of the two passes' points, the regression-style flip test (the anchor strategies decode to
  points, so their maps are not averaged as a heatmap flip test averages heatmaps; the strategies' cells are
  symmetric about the crop's centre, so no half-cell shift is needed);
- confidences: the mean of the two;
- anchors: the unmirrored pass's (an averaged point has no single anchor cell).

The same function serves torch tensors (``adaanchor eval``) and numpy arrays (the predictor's backends, the ONNX
graph included).

**Multi-person tasks** (``task=bottomup``, ``task=centre``): decoded people cannot be matched across two passes,
so the *maps* are merged before decoding, as HigherHRNet's and DEKR's flip tests do; decoding and grouping then run
once on the merged maps and give one set of people. Each strategy merges its own heads (``Strategy.flip_merge``),
by these rules:

- every map of the mirrored pass is mirrored back along the width (``torch.flip`` on the last dim) and its keypoint
  channels permuted by the spec's flip pairs (type ``k`` of the input is type ``flip_index[k]`` of the mirror);
- confidences (the anchor strategies' ``conf``), heatmaps and the centre heatmap: the mean of the two passes (of the
  confidences, ``sigmoid(conf)``, stored back as a logit, so that decoding reads the mean confidence);
- offset maps (``offset``, ``local``, the centre task's ``poseoff``): the x component negated after mirroring (an
  offset to the right is one to the left in the mirror), then the mean with the plain pass. This needs the cell grid
  to be symmetric: cell ``j`` of a map of width ``w`` is centred at ``s * j + (s - 1) / 2`` in an input of width
  ``W = s * w``, which ``x -> W - 1 - x`` takes to the centre of cell ``w - 1 - j``, so the mirrored-back cell holds the
  same anchor (:func:`flip_outputs` refuses maps whose width times the stride is not the input's);
- associative-embedding tags: the two passes' tags, mirrored back and permuted, are **concatenated** into a 2-D tag
  per keypoint (HigherHRNet's), ``tags (B, K, 2, h, w)``; the grouping compares tag vectors by their root mean square
  difference (:mod:`adaanchor.strategies.grouping`), which is the one-pass distance where the passes agree, so
  ``bottomup.tag_threshold`` keeps its meaning. Concatenated, the two passes need not give a person the same tag
  value (an averaged tag would merge two people whose values the passes exchange).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import AdaAnchorError
from .base import Decoded

#: ``eval.flip_offsets``: how the multi-person flip test merges the anchor strategies' anchor offsets.
FLIP_OFFSET_RULES = ("mean", "weighted", "max")
#: ``eval.flip_conf``: how it merges their confidences (``plain``: the plain pass's, so its anchor cells are kept).
FLIP_CONF_RULES = ("mean", "plain")


def mirror_back(xy: Any, flip_index: Any, width: int) -> Any:
    """``(B, K, 2)`` points of a mirrored ``width``-pixel input as points of the input itself: labels swapped by
    ``flip_index (K,)`` (after a flip keypoint ``k`` takes the label of ``flip_index[k]``) and ``x -> W - 1 - x``."""
    out = xy[:, flip_index] * 1.0  # a copy, float, for numpy and torch alike
    out[..., 0] = (width - 1) - out[..., 0]
    return out


def average_flipped(plain: Mapping[str, Any], mirrored: Mapping[str, Any], flip_index: Any, width: int) -> dict[str, Any]:
    """The flip test's outputs from two passes' ``keypoints (B, K, 2)``, ``scores (B, K)`` (optional) and
    ``anchors (B, K, 2)`` (optional; kept from ``plain``): see the module docstring."""
    out = dict(plain)
    out["keypoints"] = (plain["keypoints"] + mirror_back(mirrored["keypoints"], flip_index, width)) / 2
    if plain.get("scores") is not None:
        out["scores"] = (plain["scores"] + mirrored["scores"][:, flip_index]) / 2
    return out


def predict_flip(predict: Callable[[Tensor], Decoded], x: Tensor, flip_index: np.ndarray,
                 plain: Decoded | None = None) -> Decoded:
    """``predict`` (a strategy's decoding of a batch ``x (B, 3, H, W)``) with the flip test; ``plain``: the pass on
    ``x`` when the caller has it already (``viz`` keeps its maps), so that only the mirrored pass runs."""
    a, b = plain if plain is not None else predict(x), predict(torch.flip(x, dims=(-1,)))
    idx = torch.as_tensor(np.asarray(flip_index), dtype=torch.long, device=a.xy.device)
    avg = average_flipped({"keypoints": a.xy, "scores": a.score}, {"keypoints": b.xy, "scores": b.score}, idx,
                          int(x.shape[-1]))
    return Decoded(avg["keypoints"], avg["scores"], a.anchor)


class FlipBackend:
    """A predictor backend (``(B, 3, H, W)`` float32 array -> ``keypoints``, ``scores``, ``anchors`` arrays) run on
    each batch as it is and mirrored, averaged by :func:`average_flipped`."""

    def __init__(self, backend: Any, flip_index: np.ndarray):
        self.backend, self.flip_index = backend, np.asarray(flip_index, dtype=np.int64)
        self.name = getattr(backend, "name", "?")

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        plain = self.backend(x)
        mirrored = self.backend(np.ascontiguousarray(x[..., ::-1]))
        return average_flipped(plain, mirrored, self.flip_index, int(x.shape[-1]))


# ---- multi-person: the maps ------------------------------------------------------------------------------------


def _index(flip_index: Any, device: torch.device) -> Tensor:
    return torch.as_tensor(np.asarray(flip_index), dtype=torch.long).to(device)


def mirror_types(x: Tensor, flip_index: Any) -> Tensor:
    """``x (B, K, ..., h, w)``, per-type maps of the mirrored input, as maps of the input: mirrored back along the
    width, channel ``k`` taken from channel ``flip_index[k]``."""
    return torch.flip(x, dims=(-1,))[:, _index(flip_index, x.device)]


def mirror_pairs(x: Tensor, flip_index: Any) -> Tensor:
    """``x (B, 2K, h, w)``, per-type ``(x, y)`` offsets of the mirrored input (channel ``2k`` x, ``2k + 1`` y), as
    offsets of the input: mirrored back, types permuted, the x components negated."""
    b, c, h, w = x.shape
    y = torch.flip(x, dims=(-1,)).reshape(b, c // 2, 2, h, w)[:, _index(flip_index, x.device)]
    sign = torch.tensor([-1.0, 1.0], dtype=y.dtype, device=y.device).view(1, 1, 2, 1, 1)
    return (y * sign).reshape(b, c, h, w)


def mean_maps(plain: Tensor, mirrored: Tensor, flip_index: Any) -> Tensor:
    """Heatmaps: the mean of ``plain`` and the mirrored pass's maps mirrored back (:func:`mirror_types`)."""
    return (plain + mirror_types(mirrored, flip_index)) / 2


def mean_offsets(plain: Tensor, mirrored: Tensor, flip_index: Any) -> Tensor:
    """Offset maps ``(B, 2K, h, w)``: the mean of ``plain`` and the mirrored pass's (:func:`mirror_pairs`)."""
    return (plain + mirror_pairs(mirrored, flip_index)) / 2


def weighted_offsets(plain: Tensor, mirrored: Tensor, plain_conf: Tensor, mirrored_conf: Tensor, flip_index: Any,
                     rule: str = "weighted") -> Tensor:
    """Offset maps ``(B, 2K, h, w)`` of the two passes merged by their confidences ``(B, K, h, w)`` (logits) at the
    same cell and type: ``weighted``, the mean weighted by ``sigmoid(conf)``; ``max``, the offset of the pass with the
    higher confidence (the plain pass's on a tie)."""
    b, c, h, w = plain.shape
    a = plain.reshape(b, c // 2, 2, h, w)
    m = mirror_pairs(mirrored, flip_index).reshape(b, c // 2, 2, h, w)
    la = F.logsigmoid(plain_conf.float()).unsqueeze(2)  # (B, K, 1, h, w): log of each pass's confidence
    lm = F.logsigmoid(mirror_types(mirrored_conf, flip_index).float()).unsqueeze(2)
    if rule == "max":
        out = torch.where(la >= lm, a, m)
    elif rule == "weighted":
        # the plain pass's weight p_a / (p_a + p_m) as sigmoid(log p_a - log p_m): exact where both confidences
        # underflow float32 (logits below about -88), where p_a / (p_a + p_m) was 0 / 0
        wa = torch.sigmoid(la - lm)
        out = m + wa * (a - m)
    else:
        raise ValueError(f"flip offsets rule must be mean, weighted or max, got {rule!r}")
    return out.reshape(b, c, h, w)


def has_anchor_maps(strategy_name: str) -> bool:
    """Whether the registered strategy ``strategy_name`` has anchor maps to merge (its class has the anchor strategies'
    inference half, :class:`~adaanchor.strategies.anchor_decode.AnchorInference`)."""
    from . import STRATEGIES  # here: the registry's modules import this one
    from .anchor_decode import AnchorInference

    cls = STRATEGIES.get(strategy_name)
    return cls is not None and issubclass(cls, AnchorInference)


def check_flip_rules(task: str, strategy_name: str, rules: Mapping[str, str]) -> None:
    """Refuse ``eval.flip_offsets`` / ``eval.flip_conf`` (``rules``: option -> value) other than ``mean`` where no
    anchor map is merged: a top-down flip test averages decoded keypoints, and a strategy other than an anchor
    strategy has no anchor offsets or confidences. (Without the flip test such a rule is accepted, as a run's config
    may keep it for later evaluations: :func:`adaanchor.config.build_config` says it has no effect then.)"""
    from . import STRATEGIES  # here: the registry's modules import this one

    for key, rule in rules.items():
        if rule == "mean":
            continue
        if task not in ("bottomup", "centre"):
            raise AdaAnchorError(f"eval.{key}={rule}: the top-down flip test averages the decoded keypoints of the "
                                 "two passes and merges no maps (task=bottomup and task=centre merge them); leave "
                                 f"eval.{key}=mean")
        if not has_anchor_maps(strategy_name):
            raise AdaAnchorError(f"eval.{key}={rule}: strategy {strategy_name} has no anchor offsets or confidences "
                                 f"(the anchor strategies: {', '.join(n for n in STRATEGIES if has_anchor_maps(n))}); "
                                 f"leave eval.{key}=mean")


def set_flip_rules(strategy: Any, offsets: str = "mean", conf: str = "mean") -> None:
    """Give ``strategy``'s anchor strategy (itself, a bottom-up strategy's ``inner`` or a centre strategy's ``centre``)
    the flip test's rules for the anchor offsets (:data:`FLIP_OFFSET_RULES`) and the confidences
    (:data:`FLIP_CONF_RULES`); a strategy without anchors is left as it is."""
    if offsets not in FLIP_OFFSET_RULES:
        raise ValueError(f"flip offsets rule must be mean, weighted or max, got {offsets!r}")
    if conf not in FLIP_CONF_RULES:
        raise ValueError(f"flip confidence rule must be mean or plain, got {conf!r}")
    for part in (strategy, getattr(strategy, "inner", None), getattr(strategy, "centre", None)):
        if part is not None and hasattr(part, "flip_offsets"):
            part.flip_offsets, part.flip_conf = offsets, conf


def mean_confidence_logits(plain: Tensor, mirrored: Tensor, flip_index: Any) -> Tensor:
    """Confidence logits: the logit of the mean of the two passes' ``sigmoid`` (computed in float64, so that a pass
    merged with its own mirror comes back to float32 rounding)."""
    p = (torch.sigmoid(plain.double()) + torch.sigmoid(mirror_types(mirrored, flip_index).double())) / 2
    return torch.logit(p, eps=1e-15).to(plain.dtype)


def concat_tags(plain: Tensor, mirrored: Tensor, flip_index: Any) -> Tensor:
    """Tags ``(B, K, h, w)`` of the two passes as one 2-D tag per keypoint and cell, ``(B, K, 2, h, w)``: the plain
    pass's first, the mirrored pass's (mirrored back, types permuted) second."""
    return torch.stack([plain, mirror_types(mirrored, flip_index)], dim=2)


def check_symmetric_grid(maps: Mapping[str, Tensor], width: int, stride: int) -> None:
    """Refuse maps whose width ``w`` is not ``width / stride``: their cells are not mirrored onto cells by the
    input's mirror, so a map mirrored back would be shifted (the multi-person inputs are padded to a multiple of the
    stride, which makes them so)."""
    for name, m in maps.items():
        if int(m.shape[-1]) * int(stride) != int(width):
            raise AdaAnchorError(f"flip test: the map '{name}' is {int(m.shape[-1])} cells wide at stride {stride} for "
                                 f"an input {width} px wide; the mirrored cells match only where the input is the "
                                 "map's width times the stride (pad the input to a multiple of the stride)")


def flip_outputs(run: Callable[[Tensor], Mapping[str, Tensor]], strategy: Any, x: Tensor,
                 flip_index: Any) -> dict[str, Tensor]:
    """The multi-person flip test's maps: ``run`` (the network: input ``(B, 3, H, W)`` -> head maps) on ``x`` and on
    its mirror, merged by ``strategy.flip_merge`` (float32 maps; see the module docstring)."""
    plain = {k: v.float() for k, v in run(x).items()}
    check_symmetric_grid(plain, int(x.shape[-1]), int(strategy.stride))  # before the second pass, not after it
    mirrored = {k: v.float() for k, v in run(torch.flip(x, dims=(-1,))).items()}
    return strategy.flip_merge(plain, mirrored, np.asarray(flip_index, dtype=np.int64))


class FlipHeads:
    """A multi-person predictor's network (``(1, 3, H, W)`` -> head maps, :class:`~adaanchor.predict.multi.TorchHeads`
    or :class:`~adaanchor.predict.backends.OnnxHeads`) with the flip test: the maps of :func:`flip_outputs`."""

    def __init__(self, heads: Callable[[Tensor], Mapping[str, Tensor]], strategy: Any, flip_index: np.ndarray):
        self.heads, self.strategy = heads, strategy
        self.flip_index = np.asarray(flip_index, dtype=np.int64)
        self.name = getattr(heads, "name", "?")

    def __call__(self, x: Tensor) -> dict[str, Tensor]:
        with torch.inference_mode():
            return flip_outputs(self.heads, self.strategy, x, self.flip_index)


__all__ = ["FLIP_CONF_RULES", "FLIP_OFFSET_RULES", "FlipBackend", "FlipHeads", "average_flipped", "check_flip_rules", "has_anchor_maps",
           "check_symmetric_grid", "concat_tags", "flip_outputs", "set_flip_rules", "weighted_offsets",
           "mean_confidence_logits", "mean_maps", "mean_offsets", "mirror_back", "mirror_pairs", "mirror_types",
           "predict_flip"]
