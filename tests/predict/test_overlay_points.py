"""The drawn points' clip to OpenCV's fixed-point range gives np.clip's integers for every kind of coordinate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adaanchor.predict.overlay import _LIMIT, _pt

VALUES = [0, 5, -5, 2**30, -(2**30), _LIMIT, _LIMIT + 1, 1e30, -1e30, math.inf, -math.inf, -0.0, 0.5, -0.5, 2.7,
          np.int64(7), np.int64(-(2**40)), np.float64(3.7), np.float32(-1e20)]


def test_pt_is_the_clipped_integer_pair():
    for x in VALUES:
        for y in VALUES:
            want = int(np.clip(x, -_LIMIT, _LIMIT)), int(np.clip(y, -_LIMIT, _LIMIT))
            assert _pt(np.array([x, y], dtype=object)) == want
            assert _pt([x, y]) == want
    fixed = np.array([[3, -(2**40)], [2**40, 0]], dtype=np.int64)  # what _fx gives
    assert [_pt(p) for p in fixed] == [(3, -_LIMIT), (_LIMIT, 0)]


def test_pt_refuses_nan_as_int_does():
    with pytest.raises(ValueError):
        _pt(np.array([math.nan, 0.0]))
