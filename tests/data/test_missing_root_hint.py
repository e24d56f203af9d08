"""An annotation file not found under a ``data.root`` that does not exist says so and how to give it: a packaged
config's relative root (``../shared/data/...``) is read against the working folder, and from another folder the
error named only the missing file."""

from __future__ import annotations

import pytest

from adaanchor.config import build_config
from adaanchor.data.paths import annotation_path
from adaanchor.errors import AdaAnchorError


def test_a_missing_root_is_named_with_the_fix(tmp_path):
    cfg = build_config("demo", ["data.format=coco", f"data.root={tmp_path / 'nowhere'}", "data.spec=coco"])
    with pytest.raises(AdaAnchorError, match=r"the folder data.root=.*nowhere does not exist: give data.root=PATH"):
        annotation_path(cfg.data, "train")


def test_an_existing_root_missing_its_file_names_the_file_only(tmp_path):
    cfg = build_config("demo", ["data.format=coco", f"data.root={tmp_path}", "data.spec=coco"])
    with pytest.raises(AdaAnchorError) as e:
        annotation_path(cfg.data, "train")
    assert "annotation file not found" in str(e.value) and "does not exist" not in str(e.value)
