"""Overlays and plots are written whole or not at all: a predict killed while writing an overlay left it cut short
under its name (PIL: "image file is truncated"), and a rerun counted it as an earlier output."""

from __future__ import annotations

import os

import numpy as np
import pytest

from adaanchor.errors import AdaAnchorError
from adaanchor.predict.overlay import save_png


def test_an_overlay_is_renamed_into_place_only_when_complete(tmp_path, monkeypatch):
    path = tmp_path / "a.png"
    path.write_bytes(b"the earlier overlay")

    def cut(*args, **kwargs):
        raise OSError(28, "No space left on device")  # the stop before the rename: the new file is not complete

    monkeypatch.setattr(os, "replace", cut)
    with pytest.raises(AdaAnchorError, match=r"a.png: cannot write \(No space left on device\)"):
        save_png(np.zeros((8, 8, 3), np.uint8), path)
    assert path.read_bytes() == b"the earlier overlay" and [p.name for p in tmp_path.iterdir()] == ["a.png"]
    monkeypatch.undo()
    save_png(np.full((8, 8, 3), 200, np.uint8), path)
    from PIL import Image

    with Image.open(path) as im:
        assert im.format == "PNG" and np.asarray(im).min() == 200


def test_a_figure_is_saved_the_same_way(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from adaanchor.atomic import save_figure

    fig = plt.figure()
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    with pytest.raises(OSError):
        save_figure(fig, tmp_path / "p.png", dpi=50)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    save_figure(fig, tmp_path / "p.png", dpi=50)
    save_figure(fig, tmp_path / "p.pdf")
    plt.close(fig)
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "p.pdf").read_bytes()[:4] == b"%PDF"
