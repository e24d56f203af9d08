"""The official PCKh head size, shared by the MPII readers and the PCKh metric."""

from __future__ import annotations

import math
from typing import Any

#: The official head-size factor (``util_get_head_size.m``): head size = SC_BIAS * head-box diagonal.
SC_BIAS = 0.6


def head_size_from_box(box: Any) -> float:
    """Official PCKh normaliser of a head box ``[x1, y1, x2, y2]``: ``0.6 * ||(x2, y2) - (x1, y1)||``."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return SC_BIAS * math.hypot(x2 - x1, y2 - y1)


__all__ = ["SC_BIAS", "head_size_from_box"]
