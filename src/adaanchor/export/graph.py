"""The exported module: model and decoding as one graph, and the names of its outputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn


class DecodedGraph(nn.Module):
    """Model and decoding as one module: ``image (B,3,H,W) -> (keypoints, [scores], [anchors])``."""

    def __init__(self, model: nn.Module, strategy: Any, outputs: Sequence[str]):
        super().__init__()
        self.model = model
        self.strategy = strategy
        self.outputs = tuple(outputs)

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        d = self.strategy.predict(self.model, image)
        parts = {"keypoints": d.xy, "scores": d.score, "anchors": d.anchor}
        return tuple(parts[n].float() for n in self.outputs)


class HeadsGraph(nn.Module):
    """The network alone, its head maps as the outputs: ``image (B,3,H,W) -> (head (B, C_head, h, w), ...)`` in the
    order of ``names``. A multi-person run exports this: its grouping (tags, person centres) works on the maps of
    a whole image of any size, after the graph (:class:`adaanchor.predict.backends.OnnxHeads`)."""

    def __init__(self, model: nn.Module, names: Sequence[str]):
        super().__init__()
        self.model = model
        self.names = tuple(names)

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        out = self.model(image)
        return tuple(out[n].float() for n in self.names)


def head_names(model: nn.Module, input_size: Sequence[int]) -> list[str]:
    """The head maps of ``model``, in its output order (a trial forward of one blank image)."""
    w, h = int(input_size[0]), int(input_size[1])
    with torch.no_grad():
        return list(model(torch.zeros(1, 3, h, w)))


def graph_outputs(model: nn.Module, strategy: Any, input_size: Sequence[int]) -> list[str]:
    """The output names of the graph for this strategy (decided by a trial decode of one blank image)."""
    w, h = int(input_size[0]), int(input_size[1])
    with torch.no_grad():
        d = strategy.decode(model(torch.zeros(1, 3, h, w)))
    names = ["keypoints"]
    if d.score is not None:
        names.append("scores")
    if d.anchor is not None:
        names.append("anchors")
    return names


__all__ = ["DecodedGraph", "HeadsGraph", "graph_outputs", "head_names"]
