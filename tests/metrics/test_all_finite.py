"""``all_finite`` (the results reader's one-call test of a keypoint list) agrees with ``is_finite_number`` element by
element, on every kind of JSON number, and the reader still names the first bad keypoint."""

from __future__ import annotations

import math

import numpy as np
import pytest

from adaanchor.errors import DataError
from adaanchor.metrics.gt_checks import all_finite, is_finite_number
from adaanchor.metrics.results import load_results

NUMBERS = [0, 1, -7, 2**53 + 1, 10**400, -(10**400), 0.0, -0.0, 1.5, 1e308, 5e-324, math.nan, math.inf, -math.inf,
           np.float64(2.5), np.float64(math.nan)]


@pytest.mark.parametrize("value", NUMBERS)
def test_all_finite_is_is_finite_number_of_each(value):
    for values in ([value], [1.0, 2.0, value], [value, 3.0]):
        assert all_finite(values) == all(is_finite_number(v) for v in values)
    assert all_finite([])


@pytest.mark.parametrize("bad", [10**400, math.nan, -math.inf])
def test_load_results_names_the_first_bad_keypoint(bad):
    kp = [1.0, 2.0, 0.9] * 3
    kp[7] = bad
    kp[8] = math.inf  # a second one, later: the first is named
    with pytest.raises(DataError, match=r"\[record 1\] field 'keypoints': non-finite y of keypoint 2"):
        load_results([{"image_id": 1, "category_id": 1, "keypoints": [1.0, 2.0, 0.9] * 3, "score": 1.0},
                      {"image_id": 1, "category_id": 1, "keypoints": kp, "score": 1.0}])
