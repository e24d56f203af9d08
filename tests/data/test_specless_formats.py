"""The config for your own data reads the keypoint spec from ``data.root`` (``spec: ${data.root}``); for a format
whose files name no keypoints (MPII, WFLW, .pts, landmark CSV) that ended in an error about a missing DeepLabCut
annotation table. Now the error names the format's usual spec to give."""

from __future__ import annotations

import pytest

from adaanchor.config import build_config
from adaanchor.data.build import data_spec
from adaanchor.errors import AdaAnchorError


@pytest.mark.parametrize("fmt, usual", [("mpii", "mpii"), ("wflw", "wflw"), ("pts", "face68"), ("csv", "face68")])
def test_a_format_without_keypoint_names_asks_for_its_spec(tmp_path, fmt, usual):
    cfg = build_config("custom", [f"data.format={fmt}", f"data.root={tmp_path}"])
    with pytest.raises(AdaAnchorError, match=rf"data.format={fmt}: its files name no keypoints.*data.spec={usual}"):
        data_spec(cfg.data)


def test_the_spec_given_is_read(tmp_path):
    cfg = build_config("custom", ["data.format=mpii", f"data.root={tmp_path}", "data.spec=mpii"])
    assert data_spec(cfg.data).name == "mpii"
