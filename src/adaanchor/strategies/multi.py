"""Multi-instance decoding for every dense strategy (paper section 5: several targets per keypoint type).

Single-instance decoding takes the argmax of confidence per type. With several people, every type has
several keypoints, so :func:`decode_multi` keeps every *local maximum* of confidence at or above ``gamma``
(a 3x3 max-pool suppression, as CenterNet and AE do), turns each surviving cell into one keypoint and
merges the keypoints that land within ``merge_radius`` pixels of a more confident one:

- anchor strategies (AdaAnchor, FixAnchor): keypoint = ``anchor + stride * offset`` (+ the local offset
  read bilinearly at that point, eq. 12), confidence ``sigmoid(conf)`` at the anchor cell. Several anchors
  of one target all point at that target (that is what the top-k assignment trains), so the merge step,
  not the max-pool, is what makes one keypoint of them;
- heatmap: the peak cell with SimpleBaseline's quarter-cell shift towards the higher neighbour, confidence
  the heatmap value (clamped to [0, 1]).

Output has a fixed size ``M`` per type with a validity mask, so the whole decoding is a static graph of
batched tensor ops (max-pool, top-k, gather, grid_sample, an M-step unrolled greedy merge): it exports.
The module only reads the strategies' outputs and attributes (``num_keypoints``, ``stride``, ``refine``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..coords import cell_centers, refine_points
from .base import Strategy


@dataclass
class MultiDecoded:
    """Decoded multi-instance keypoints, ``M`` slots per type, most confident first.

    Attributes:
        xy: ``(B, K, M, 2)`` keypoints in input pixels.
        score: ``(B, K, M)`` confidences in [0, 1] (0 in invalid slots).
        valid: ``(B, K, M)`` bool, the slot holds a kept keypoint.
        cell: ``(B, K, M)`` int64 flat index ``row * w + col`` of the cell the keypoint came from (the anchor
            cell; the peak cell for the heatmap): where per-cell heads such as tags are read.
        anchor: ``(B, K, M, 2)`` that cell's centre in input pixels.
    """

    xy: Tensor
    score: Tensor
    valid: Tensor
    cell: Tensor
    anchor: Tensor


def peak_candidates(conf: Tensor, gamma: float, max_candidates: int) -> tuple[Tensor, Tensor, Tensor]:
    """Local maxima (3x3) of ``conf (B, K, h, w)`` in [0, 1] with value >= ``gamma`` and > 0.

    Returns ``score (B, K, M)`` (sorted, descending), ``cell (B, K, M)`` flat indices and ``valid (B, K, M)``,
    ``M = min(max_candidates, h * w)``. Plateaus keep every cell of the plateau; the merge step joins them.
    """
    b, k, h, w = conf.shape
    pooled = F.max_pool2d(conf, 3, stride=1, padding=1)
    keep = (conf >= pooled) & (conf >= gamma)
    masked = torch.where(keep, conf, torch.full_like(conf, -1.0)).reshape(b, k, h * w)
    m = min(int(max_candidates), h * w)
    score, cell = masked.topk(m, dim=-1)
    # A cell of confidence 0 is no keypoint, even at gamma = 0: a heatmap's flat zero background (clamped negatives)
    # is a plateau of "peaks", which filled every slot and made poses of score 0 at (0, 0) in the results.
    valid = score > 0
    return score.clamp(min=0.0) * valid, cell, valid


def merge_close(xy: Tensor, score: Tensor, valid: Tensor, radius: float) -> Tensor:
    """Greedy merge: a keypoint within ``radius`` px of a kept, more confident one of the same type is dropped.

    Args:
        xy: ``(B, K, M, 2)``; score, valid: ``(B, K, M)``, slots sorted by descending score.
    Returns:
        ``(B, K, M)`` bool, the slots that survive (a subset of ``valid``).
    """
    m = xy.shape[2]
    # Direct differences, not cdist's default matrix-product form (taken from 26 slots on): that one is off by up
    # to 0.06 px at image coordinates (a point 0.06 px from itself), which flipped "<= radius" at the boundary,
    # and it took twice the time at 30 slots.
    flat = xy.reshape(-1, m, 2)
    close = torch.cdist(flat, flat, compute_mode="donot_use_mm_for_euclid_dist").view(*xy.shape[:2], m, m) <= radius
    # Slots are in score order, so slot j can only be absorbed by a slot i < j: each decided slot marks the later
    # slots it absorbs, one (B, K, M) update per slot. Stacking the slots kept so far at every step instead made
    # M - 1 growing copies, twice the time of the whole merge (M = 30).
    later = close & torch.ones(m, m, dtype=torch.bool, device=xy.device).triu(1)
    absorbed = torch.zeros_like(valid)
    for j in range(m):
        kept_j = valid[..., j] & ~absorbed[..., j]
        absorbed = absorbed | (kept_j.unsqueeze(-1) & later[..., j, :])
    return valid & ~absorbed


def _anchor_points(outputs: dict[str, Tensor], cell: Tensor, k: int, stride: int, refine: bool) -> tuple[Tensor, Tensor]:
    """Keypoints ``(B, K, M, 2)`` and anchor centres of the anchor cells ``cell (B, K, M)``."""
    off = outputs["offset"]
    b, _, h, w = off.shape
    m = cell.shape[-1]
    centres = cell_centers(h, w, stride, off.device)
    anchor = centres[cell]  # (B, K, M, 2)
    idx = cell.unsqueeze(2).expand(b, k, 2, m)
    sel = torch.gather(off.float().reshape(b, k, 2, h * w), 3, idx).transpose(2, 3)  # (B, K, M, 2)
    xy = anchor + stride * sel
    if refine and "local" in outputs:
        local = outputs["local"].float().reshape(b * k, 2, h, w)
        xy = refine_points(local, xy.reshape(b * k, m, 2), stride).view(b, k, m, 2)
    return xy, anchor


def _heatmap_points(hm: Tensor, cell: Tensor, stride: int) -> tuple[Tensor, Tensor]:
    """Peak cells with the quarter-cell shift towards the higher neighbour (SimpleBaseline), ``(B, K, M, 2)``."""
    b, k, h, w = hm.shape
    flat = hm.reshape(b, k, h * w)
    px, py = cell % w, torch.div(cell, w, rounding_mode="floor")

    def at(yy: Tensor, xx: Tensor) -> Tensor:
        return torch.gather(flat, 2, yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))

    sx = torch.sign(at(py, px + 1) - at(py, px - 1)) * ((px > 0) & (px < w - 1))
    sy = torch.sign(at(py + 1, px) - at(py - 1, px)) * ((py > 0) & (py < h - 1))
    uv = torch.stack([px.float() + 0.25 * sx, py.float() + 0.25 * sy], dim=-1)
    xy = uv * stride + (stride - 1) / 2.0
    anchor = cell_centers(h, w, stride, hm.device)[cell]
    return xy, anchor


def confidence_map(strategy: Strategy, outputs: dict[str, Tensor]) -> Tensor:
    """The per-cell confidence ``(B, K, h, w)`` in [0, 1] that multi-instance decoding thresholds."""
    if "conf" in outputs:
        return torch.sigmoid(outputs["conf"].float())
    if "heatmap" in outputs:
        return outputs["heatmap"].float().clamp(0.0, 1.0)
    raise ValueError(f"strategy '{strategy.name}' has no dense confidence head: multi-instance decoding needs one")


@torch.no_grad()
def decode_multi(
    strategy: Strategy,
    outputs: dict[str, Tensor],
    gamma: float = 0.1,
    max_candidates: int = 30,
    merge_radius: float | None = None,
) -> MultiDecoded:
    """Every keypoint of every type: threshold ``gamma``, 3x3 peak suppression, decode, merge.

    Args:
        strategy: a dense strategy (heatmap, fixanchor, adaanchor); its ``num_keypoints``, ``stride`` and
            (anchors) ``refine`` are read.
        outputs: the model outputs (``conf``/``offset``[/``local``] or ``heatmap``), ``(B, C, h, w)`` each.
        gamma: confidence threshold; a keypoint is kept when its confidence is >= gamma.
        max_candidates: ``M``, the number of slots per type (the most confident peaks are kept).
        merge_radius: input pixels; default one cell (``stride``).
    Returns:
        A :class:`MultiDecoded`; invalid slots have score 0.
    """
    k, s = strategy.num_keypoints, strategy.stride
    conf = confidence_map(strategy, outputs)
    score, cell, valid = peak_candidates(conf, gamma, max_candidates)
    if "conf" in outputs:
        xy, anchor = _anchor_points(outputs, cell, k, s, bool(getattr(strategy, "refine", False)))
    else:
        xy, anchor = _heatmap_points(outputs["heatmap"].float(), cell, s)
    radius = float(s if merge_radius is None else merge_radius)
    kept = merge_close(xy, score, valid, radius)
    return MultiDecoded(xy=xy, score=score * kept, valid=kept, cell=cell, anchor=anchor)


__all__ = ["MultiDecoded", "decode_multi", "peak_candidates", "merge_close", "confidence_map"]
