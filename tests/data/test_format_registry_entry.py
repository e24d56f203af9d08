"""A format of the user's own is one entry in ``formats.REGISTRY`` (docs/datasets.md): the config accepts it as
``data.format``, errors list it, and the data pipeline reads through its reader."""

from __future__ import annotations

import numpy as np
import pytest

from adaanchor.config import build_config
from adaanchor.data.build import read_split
from adaanchor.data.readers import Collector, formats
from adaanchor.data.readers.pts import landmark_instance
from adaanchor.errors import AdaAnchorError


def read_points(path, spec, images_dir=None, skip_invalid=False, **_):
    """One instance of ``spec``'s keypoints on a diagonal; records where it was asked to read."""
    read_points.calls.append(str(path))
    xy = np.stack([np.arange(spec.num_keypoints) * 2.0 + 5] * 2, axis=1)
    inst = landmark_instance(str(path) + ".png", 0, 0, xy, np.full(spec.num_keypoints, 2))
    return Collector(str(path), skip_invalid).result([inst])


read_points.calls = []


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(formats.REGISTRY, "points_txt", (read_points, "mpii"))  # removed again after the test
    read_points.calls.clear()


def test_registry_entry_is_a_format(registered, tmp_path):
    (tmp_path / "train.json").write_text("points")
    assert formats.FORMATS["points_txt"] is read_points and formats.FORMAT_SPECS["points_txt"] == "mpii"
    cfg = build_config("demo", ["data.format=points_txt", f"data.root={tmp_path}", "data.spec=mpii"])
    res = read_split(cfg.data, "train", verbose=False)
    assert read_points.calls == [str(tmp_path / "train.json")] and res.instances[0].keypoints.shape == (16, 2)
    with pytest.raises(AdaAnchorError, match="points_txt"):
        build_config("demo", ["data.format=points_tx"])


def test_views_follow_the_registry(registered):
    assert set(formats.FORMATS) == set(formats.FORMAT_SPECS) == set(formats.REGISTRY)
    with pytest.raises(TypeError, match="REGISTRY"):
        formats.FORMATS["other"] = read_points  # type: ignore[index]


def test_entry_gone_after_the_test():
    assert "points_txt" not in formats.FORMATS
