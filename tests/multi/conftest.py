"""Fixtures of the multi-person tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaanchor.bench.crowd import write_crowd_benchmark


@pytest.fixture(scope="module")
def crowd(tmp_path_factory) -> Path:
    """A tiny crowd-figures benchmark (8 training and 4 held-out 64x48 images of 2-3 people)."""
    root = tmp_path_factory.mktemp("crowd")
    write_crowd_benchmark(root, {"n_train": 8, "n_val": 4, "width": 64, "height": 48, "people": (2, 3)},
                          progress=False, workers=1)
    return root
