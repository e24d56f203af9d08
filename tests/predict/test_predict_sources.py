"""Sources: files, folders, globs and videos; video decoding streams frames with their indices and times."""

from __future__ import annotations

import inspect
import tracemalloc

import numpy as np
import pytest

from adaanchor.errors import AdaAnchorError
from adaanchor.predict.sources import Skip, expand_sources, image_id_of, iter_frames, read_video, video_info
from root_helpers import write_video


def test_expand_files_folders_globs_and_missing(tmp_path, val_images, val_video):
    folder = tmp_path / "f"
    folder.mkdir()
    for p in val_images[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    (folder / "notes.txt").write_text("not an input")
    (tmp_path / "empty").mkdir()
    srcs, skips = expand_sources([str(folder), str(folder / "000001.png"), str(tmp_path / "f" / "*.png"),
                                  str(val_video), str(tmp_path / "missing.png"), str(tmp_path / "empty"),
                                  str(tmp_path / "*.jpg")])
    assert [s.path.name for s in srcs] == ["000000.png", "000001.png", "000002.png", "clip.mp4"]  # each file once
    assert [s.kind for s in srcs] == ["image"] * 3 + ["video"]
    assert [s.reason for s in skips] == ["no such file or folder", "folder holds no image or video file",
                                        "pattern matches no file"]
    assert image_id_of("a/000000000785.jpg") == 785 and image_id_of("x1.png") is None


def test_a_link_to_a_missing_file_in_a_folder_is_counted(tmp_path, val_images):
    """Named directly such a link was 'no such file or folder'; inside a folder it was left out without a word."""
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.png").write_bytes(val_images[0].read_bytes())
    (folder / "gone.png").symlink_to(tmp_path / "deleted.png")
    srcs, skips = expand_sources([str(folder)])
    assert [s.path.name for s in srcs] == ["a.png"]
    assert [str(s) for s in skips] == [f"{folder / 'gone.png'}: a link to a missing file"]


def test_a_url_is_named_as_one():
    """A URL was reported as ``http:/host/a.jpg: no such file or folder`` (Path() folds "//"), and one with a
    query as a glob pattern that matches no file."""
    urls = ["http://example.com/a.jpg", "https://example.com/v.mp4?x=1", "rtsp://cam.local/stream"]
    srcs, skips = expand_sources(urls)
    assert srcs == [] and [s.source for s in skips] == urls
    assert all(s.reason.startswith("a URL: sources are local files") for s in skips)


def test_a_folder_whose_media_lie_in_subfolders_says_how_to_read_them(tmp_path, val_images):
    top = tmp_path / "images"
    for sub in ("train", "val"):
        (top / sub).mkdir(parents=True)
        for p in val_images[:2]:
            (top / sub / p.name).write_bytes(p.read_bytes())
    srcs, skips = expand_sources([str(top)])
    assert srcs == [] and len(skips) == 1
    pattern = str(top / "**" / "*.png")
    assert skips[0].reason.startswith("folder holds no image or video file (its subfolders hold 4;")
    assert f"'{pattern}'" in skips[0].reason
    srcs, skips = expand_sources([pattern])  # the pattern it gives reads them
    assert len(srcs) == 4 and not skips


def test_video_frames_indices_and_times(tmp_path):
    path = write_video(tmp_path / "v.mp4", 30, fps=15)
    info = video_info(path)
    assert (info.frames, info.fps, info.width, info.height) == (30, 15.0, 64, 48)
    frames = list(read_video(path))
    assert len(frames) == 30
    assert [f.index for f in frames] == list(range(30))
    np.testing.assert_allclose([f.time for f in frames], np.arange(30) / 15.0, atol=1e-6)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    # Frames differ (the encoder did not collapse the moving pattern): decoding really advances.
    assert np.abs(frames[0].image.astype(int) - frames[10].image.astype(int)).mean() > 5


def test_video_decoding_streams_in_constant_memory(tmp_path):
    path = write_video(tmp_path / "long.mp4", 240, size=(320, 240), fps=30)
    gen = read_video(path)
    assert inspect.isgenerator(gen)
    frame_bytes = 320 * 240 * 3
    tracemalloc.start()
    n = 0
    for f in gen:
        n += 1
        del f
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 240
    # Holding every frame would take 240 frames; the stream holds a few at a time.
    assert peak < 8 * frame_bytes, f"peak {peak / frame_bytes:.1f} frames"


def test_unreadable_inputs_are_skipped_and_the_stream_goes_on(tmp_path, val_images):
    bad_img = tmp_path / "broken.png"
    bad_img.write_bytes(b"\x89PNG not really")
    bad_vid = tmp_path / "broken.mp4"
    bad_vid.write_bytes(b"\x00" * 2000)
    srcs, _ = expand_sources([str(bad_img), str(val_images[0]), str(bad_vid), str(val_images[1])])
    skips: list[Skip] = []
    frames = list(iter_frames(srcs, skips.append))
    assert [f.source.name for f in frames] == ["000000.png", "000001.png"]
    assert [s.source for s in skips] == [str(bad_img), str(bad_vid)]
    assert "cannot open the video" in skips[1].reason
    with pytest.raises(AdaAnchorError, match="broken.mp4: cannot open the video"):
        video_info(bad_vid)


def test_prefetch_is_bounded_ordered_and_raises():
    import time

    from adaanchor.predict.sources import prefetch

    made = []

    def gen():
        for i in range(50):
            made.append(i)
            yield i

    got = []
    for x in prefetch(gen(), 4):
        time.sleep(0.001)
        assert len(made) <= len(got) + 1 + 4 + 1  # the queue, the item in hand, the one being put
        got.append(x)
    assert got == list(range(50))

    def bad():
        yield 1
        raise ValueError("decoder broke")

    with pytest.raises(ValueError, match="decoder broke"):
        list(prefetch(bad(), 2))
    it = prefetch(gen(), 2)
    assert next(it) == 0
    it.close()  # stops the producer; no thread left behind
    import threading

    assert not any(t.name == "adaanchor-prefetch" and t.is_alive() for t in threading.enumerate())


def test_hidden_files_in_a_folder_are_passed_over(tmp_path, val_images):
    """macOS's ``._A.PNG`` metadata beside each image was an input that could not be read (exit 3)."""
    import shutil

    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(val_images[0], folder / "A.png")
    (folder / "._A.png").write_bytes(b"\x00\x05\x16\x07 AppleDouble")
    srcs, skips = expand_sources([str(folder)])
    assert [s.path.name for s in srcs] == ["A.png"] and skips == []


def test_the_predictor_names_a_video_given_as_an_image(pred_runs, val_video):
    """``Predictor.predict("clip.mp4")`` said "cannot decode image (UnidentifiedImageError ...)"."""
    from adaanchor.predict import Predictor

    pred = Predictor.from_run(pred_runs["adaanchor"], device="cpu")
    with pytest.raises(AdaAnchorError, match=r"clip.mp4: a video file, and the predictor takes images: read its frames "
                       r"with adaanchor.predict.sources.read_video\(path\)"):
        pred.predict(str(val_video))


def test_a_run_folder_that_cannot_take_the_graph_points_to_onnx_file(pred_runs, tmp_path):
    """A read-only run folder: "cannot write the ONNX file (Read-only file system)", nothing on what to do. (Tested
    with a file in the way of RUN/export: root may write a read-only folder.)"""
    import shutil

    from adaanchor.predict import Predictor

    run = shutil.copytree(pred_runs["adaanchor"], tmp_path / "run", ignore=shutil.ignore_patterns("export"))
    (run / "export").write_text("in the way")
    with pytest.raises(AdaAnchorError, match=r"cannot write the ONNX file \(.*\); the onnx backend writes the run's "
                       r"graph there once: give another place with --onnx FILE"):
        Predictor.from_run(run, device="cpu", backend="onnx")
    pred = Predictor.from_run(run, device="cpu", backend="onnx", onnx_path=tmp_path / "m.onnx")
    assert (tmp_path / "m.onnx").is_file() and "backend='onnx'" in repr(pred)


def test_a_folder_of_hidden_images_only_is_said_so(tmp_path, val_images):
    """It said "its subfolders hold 1 ... give a pattern such as 'hid/**/*.png'": there were no subfolders."""
    import shutil

    folder = tmp_path / "hid"
    folder.mkdir()
    shutil.copy(val_images[0], folder / ".a.png")
    srcs, skips = expand_sources([str(folder)])
    assert srcs == [] and [s.reason for s in skips] == [
        "folder holds no image or video file (only hidden ones, whose names start with '.', which are passed over)"]
