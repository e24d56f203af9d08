"""The colour of each method in every plot: the demo's figures, ``viz``, the benchmark tables' bars and the gamma
sweeps draw a strategy in one colour, so that a figure can be read beside another."""

from __future__ import annotations

#: One colour per registered strategy (tested distinct, and none of them red: red marks the invisible ground truth).
COLORS = {"regression": "#7f7f7f", "heatmap": "#1f77b4", "fixanchor": "#ff7f0e", "adaanchor": "#2ca02c",
          "localanchor": "#9467bd", "alignanchor": "#8c564b"}
OTHER_COLOR = "#17becf"  # a method of no registered strategy


def method_color(name: str) -> str:
    """The colour of method ``name``; a name ``<strategy>_<suffix>`` (``heatmap_ae``) takes its strategy's."""
    return COLORS.get(name) or COLORS.get(str(name).split("_")[0], OTHER_COLOR)


__all__ = ["COLORS", "OTHER_COLOR", "method_color"]
