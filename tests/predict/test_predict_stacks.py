"""Multi-frame image files (a TIFF stack, an animated GIF) are read page by page as a video is: read as an image,
only their first page was predicted, without a word."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from adaanchor.cli import main
from adaanchor.errors import AdaAnchorError
from adaanchor.predict import Predictor
from adaanchor.predict.sources import count_frames, expand_sources, frames_info, iter_frames
from adaanchor.predict.stacks import page_count, read_stack


def _pages(n: int, dtype=np.uint16, top: int = 4000, size=(40, 48)) -> list[np.ndarray]:
    rng = np.random.default_rng(n)
    return [rng.integers(0, top, size[::-1], dtype=np.int64).astype(dtype) for _ in range(n)]


def _tiff(path, pages: list[np.ndarray]):
    ims = [Image.fromarray(p) for p in pages]
    ims[0].save(path, save_all=True, append_images=ims[1:])
    return path


def test_a_tiff_stack_is_a_video_source_of_its_pages_and_a_single_page_an_image(tmp_path):
    pages = _pages(3)
    stack = _tiff(tmp_path / "stack.tif", pages)
    one = _tiff(tmp_path / "one.tif", pages[:1])
    srcs, skips = expand_sources([stack, one])
    assert [s.kind for s in srcs] == ["video", "image"] and not skips
    assert page_count(stack) == 3 and count_frames(srcs) == 4
    info = frames_info(stack)
    assert (info.frames, info.width, info.height, info.fps) == (3, 40, 48, 0.0)
    frames = list(iter_frames(srcs[:1], skips.append, "stored", 12))
    assert [f.index for f in frames] == [0, 1, 2] and {f.kind for f in frames} == {"video"}
    for f, page in zip(frames, pages):  # one declared scale for every page
        np.testing.assert_array_equal(f.image[..., 0], np.round(page * 255.0 / 4095).astype(np.uint8))
        assert f.time is None


def test_an_animated_gif_gives_its_frames_with_their_times(tmp_path):
    pages = [np.full((20, 30), v, np.uint8) for v in (10, 120, 240)]
    gif = tmp_path / "a.gif"
    ims = [Image.fromarray(p) for p in pages]
    ims[0].save(gif, save_all=True, append_images=ims[1:], duration=200, loop=0)
    frames = list(read_stack(gif))
    assert [f.index for f in frames] == [0, 1, 2] and frames[1].image[0, 0, 0] == 120
    np.testing.assert_allclose([f.time for f in frames], [0.0, 0.2, 0.4])
    assert frames_info(gif).fps == pytest.approx(5.0)


def test_a_page_above_the_declared_depth_is_named(tmp_path):
    stack = _tiff(tmp_path / "s.tif", _pages(2, top=60000))
    with pytest.raises(AdaAnchorError, match=r"s\.tif: page 0: .*declared bit depth of 12"):
        list(read_stack(stack, bit_depth=12))


def test_predict_on_a_stack_writes_a_row_per_page_and_a_labelled_video(pred_runs, tmp_path):
    pages = _pages(4, dtype=np.uint8, top=255, size=(72, 96))
    stack = _tiff(tmp_path / "rec.tif", pages)
    out = tmp_path / "o"
    assert main(["predict", str(pred_runs["adaanchor"]), str(stack), "--out", str(out), "--save-video",
                 "--format", "coco,csv", "--quiet", "--device", "cpu"]) == 0
    df = pd.read_csv(out / "rec.csv", header=[0, 1, 2], index_col=0)
    assert list(df.index) == [0, 1, 2, 3]
    res = json.loads((out / "rec.json").read_text())
    assert [r["frame"] for r in res] == [0, 1, 2, 3] and "time" not in res[0]
    # Each page is predicted as that image alone would be.
    ref = Predictor.from_run(pred_runs["adaanchor"], device="cpu").predict(pages[2])
    np.testing.assert_allclose(np.asarray(res[2]["keypoints"]).reshape(17, 3)[:, :2], ref.keypoints[0], atol=2e-3)
    info = frames_info(out / "rec_labeled.mp4")
    assert info.frames == 4 and info.fps == 25


def test_the_predictor_api_refuses_a_stack_given_as_one_image_and_takes_its_pages(pred_runs, tmp_path):
    pages = _pages(3, dtype=np.uint8, top=255, size=(72, 96))
    stack = _tiff(tmp_path / "rec.tif", pages)
    p = Predictor.from_run(pred_runs["adaanchor"], device="cpu")
    with pytest.raises(AdaAnchorError, match=r"rec\.tif: an image stack of 3 pages.*read_stack"):
        p.predict(stack)
    got = [pred for _, pred in p.predict_stream((f.image, None, f.index) for f in read_stack(stack))]
    np.testing.assert_allclose(got[1].keypoints, p.predict(pages[1]).keypoints)
