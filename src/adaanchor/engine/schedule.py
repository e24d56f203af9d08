"""The learning-rate schedule of a run in optimizer steps, and the warnings for settings that cannot be what was
meant (``train`` prints both at the start)."""

from __future__ import annotations

import math
from typing import Any

from omegaconf import DictConfig

from .assign_step import anchor_strategy


def milestones_in_steps(cfg: DictConfig, per_epoch: int) -> list[int]:
    """``train.lr_steps`` in optimizer steps: they are epochs, or steps when training counts steps (max_steps)."""
    return [int(m) * (1 if cfg.train.max_steps else per_epoch) for m in cfg.train.lr_steps]


#: A step-counted run whose every learning-rate drop falls within this share of it was, most likely, given
#: ``train.lr_steps`` in epochs (a config's epoch milestones kept while ``train.max_steps`` was added).
EARLY_DROP = 0.05


def describe_schedule(cfg: DictConfig, per_epoch: int, total: int, milestones: list[int]) -> tuple[str, list[str]]:
    """The schedule line ``train`` prints, and a warning for each milestone that cannot be what was meant: at or
    past the last step (never applied), or every drop within the first :data:`EARLY_DROP` of a run whose
    ``train.max_steps`` makes ``lr_steps`` count steps."""
    tc = cfg.train
    unit = "steps" if tc.max_steps else "epochs"
    lr, factor = float(tc.lr), float(tc.lr_factor)
    line = f"schedule: {total} steps ({per_epoch} per epoch), lr {lr:g}"
    if milestones:
        at = f"step{'s' if len(milestones) > 1 else ''} {', '.join(map(str, milestones))}"
        line += f", x{factor:g} after {at} (train.lr_steps={list(tc.lr_steps)} in {unit})"
    warnings = []
    late = [int(m) for m, step in zip(tc.lr_steps, milestones, strict=True) if step >= total]
    if late:
        warnings.append(f"warning: train.lr_steps {late} ({unit}) fall at or after the last step ({total}): never applied")
    if tc.max_steps and milestones and max(milestones) < EARLY_DROP * total:
        low = lr * factor ** len(milestones)
        warnings.append(f"warning: train.lr_steps={list(tc.lr_steps)} count steps because train.max_steps is set: the "
                        f"learning rate is {low:g} after step {max(milestones)} of {total}. Epochs are "
                        f"train.lr_steps={[int(m) * per_epoch for m in tc.lr_steps]} in steps")
    return line, warnings


def evaluation_note(cfg: DictConfig, per_epoch: int, total: int) -> list[str]:
    """A note when ``train.eval_every`` (epochs) is not shorter than the run: one evaluation, at the end, so that
    ``best.pt`` is the last step (a ``custom`` config's 25 epochs on a large project)."""
    every = int(cfg.train.eval_every)
    if every <= 0 or every * per_epoch < total:
        return []
    return [f"note: train.eval_every={every} epochs ({every * per_epoch} steps) is not shorter than the run "
            f"({total} steps): the model is evaluated at the end only, and best.pt is the last step"]


def warmup_warning(strategy: Any, total: int) -> list[str]:
    """A warning when ``strategy.warmup_steps`` covers the whole run: an adaptive run that never adapts."""
    inner = anchor_strategy(strategy)  # a multi-person strategy wraps the dense one (bottom-up, centre)
    warm = int(getattr(inner, "warmup_steps", 0))
    if getattr(inner, "assign", None) != "adaptive" or warm < total:
        return []
    return [f"warning: strategy.warmup_steps={warm} is not less than the run's {total} steps: the adaptive "
            "assignment never starts (every step assigns the k nearest cells, as FixAnchor)"]


#: The farthest a point inside the map can be from its nearest cell centre, in cells (half a cell's diagonal).
NEAREST_CELL_MAX = math.sqrt(0.5)


def candidate_warning(strategy: Any) -> list[str]:
    """A warning when ``strategy.candidate_radius`` is under half a cell's diagonal: a keypoint between cell
    centres then has no candidate cell, so no positive, and its confidence map is trained to 0 at full weight;
    and when ``strategy.topk`` takes every cell of the map (every cell a positive: no assignment is left)."""
    inner = anchor_strategy(strategy)
    out = []
    takes_k = getattr(inner, "assign", None) == "fixed" or getattr(inner, "opts", {}).get("select") == "topk"
    if inner is not None and getattr(inner, "topk", None) is not None and takes_k:
        w, h = (-(-int(v) // int(inner.stride)) for v in inner.input_size)
        if int(inner.topk) >= h * w:
            out.append(f"warning: strategy.topk={inner.topk} takes every one of the map's {h * w} cells ({w}x{h}): every "
                       "cell is a positive of every keypoint and no assignment is left")
    radius = getattr(inner, "candidate_radius", None)
    if getattr(inner, "assign", None) != "adaptive" or radius is None or float(radius) >= NEAREST_CELL_MAX:
        return out
    return out + [f"warning: strategy.candidate_radius={float(radius):g} cells is under {NEAREST_CELL_MAX:.2f} (half a "
                  "cell's diagonal): a keypoint between cell centres has no candidate cell, gets no positive, and its "
                  "confidence is trained to 0 there"]

