"""An exponential moving average of the model's weights, whose outputs the adaptive assignment can score.

Scoring the live model lets the assignment follow every step's noise: a cell that happens to predict well
once is taught to be confident, which makes it be chosen again (the drift in docs/results.md). Scoring an
average of recent weights, as detectors such as YOLOv5-8 evaluate an EMA of theirs, makes the assignment a
slower, steadier function of training. ``strategy.assign_ema_decay`` (0 = off) turns it on; the training
loop owns the copy (:mod:`adaanchor.engine.assign_step`).

The decay ramps up as ``min(decay, (1 + t) / (10 + t))`` after ``t`` updates, so the first assignments come
from weights close to the current ones rather than from the random initialisation.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn


class AssignEMA:
    """An EMA copy of ``model`` in eval mode (BatchNorm running statistics, no dropout), never trained.

    Args:
        model: the model being trained (unwrapped, not the DDP wrapper).
        decay: the EMA decay in (0, 1), e.g. 0.999.
    """

    def __init__(self, model: nn.Module, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.updates = 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def current_decay(self) -> float:
        """The decay of the next update (ramped up over the first updates)."""
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """``ema = d * ema + (1 - d) * model`` for floating-point parameters and buffers; other buffers
        (e.g. BatchNorm's batch counter) are copied."""
        d = self.current_decay()
        src = model.state_dict()
        for name, v in self.module.state_dict().items():
            s = src[name].detach()
            if v.dtype.is_floating_point:
                v.mul_(d).add_(s.to(v.dtype), alpha=1.0 - d)
            else:
                v.copy_(s)
        self.updates += 1

    @torch.no_grad()
    def outputs(self, images: Tensor) -> dict[str, Tensor]:
        """The EMA model's outputs (float32, no gradient) for the assignment: ``{head: (B, C, h, w)}``."""
        return {k: v.float() for k, v in self.module(images).items()}

    def state_dict(self) -> dict[str, Any]:
        """For checkpoints: the averaged weights and the update count."""
        return {"model": self.module.state_dict(), "updates": self.updates, "decay": self.decay}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["model"])
        self.updates = int(state["updates"])
