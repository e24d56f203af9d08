"""Counts an input gets wrong: an AVI header listing a million frames, a stack page whose pixels are refused, video
detections of image ids that are no frame; and the smaller checks: ``fold_bn``, a float image spanning float64's
range, ``eval --predictions`` / ``--plot`` paths."""

from __future__ import annotations

import json
import struct
import warnings

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.pixels import rgb8
from adaanchor.errors import AdaAnchorError
from adaanchor.predict import Predictor
from adaanchor.predict.sources import expand_sources, iter_frames
from adaanchor.predict.stacks import read_stack
from adaanchor.predict.video_in import padded_count
from root_helpers import write_video


def _cli(capsys, argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def _big_header_avi(tmp_path, listed: int = 1_000_000):
    """A 10-frame AVI whose header lists ``listed`` frames (avih.dwTotalFrames, strh.dwLength, dmlh)."""
    data = bytearray(write_video(tmp_path / "small.avi", 10, fps=10).read_bytes())
    for tag, at in ((b"avih", 16), (b"strh", 32), (b"dmlh", 0)):
        i = data.find(tag)
        if i >= 0:
            struct.pack_into("<I", data, i + 8 + at, listed)
    path = tmp_path / "big_hdr.avi"
    path.write_bytes(bytes(data))
    return path


def test_an_avi_header_listing_a_million_frames_gives_no_million_csv_rows(pred_runs, tmp_path, capsys):
    """The CSV was padded to the container's count, 1,000,003 lines (58.9 MB) for 10 frames."""
    avi = _big_header_avi(tmp_path)
    out = tmp_path / "o"
    rc, stdout, _ = _cli(capsys, ["predict", pred_runs["adaanchor"], avi, "--out", out, "--format", "coco,csv",
                                  "--quiet", "--device", "cpu"])
    assert rc == 3
    df = pd.read_csv(out / "big_hdr.csv", header=[0, 1, 2], index_col=0)
    assert list(df.index) == list(range(10)) and not df.isna().any().any()
    assert (f"{avi}: the container lists 1000000 frames and 10 could be read, so the frames after the damage are "
            "numbered as read, 999990 index(es) early at most (more frames than the file's size can hold at the size of those read: the CSV has no rows for "
            "the listed ones not read)") in stdout
    # A count the file can hold is kept: the CSV keeps a row for each frame lost at the end (DeepLabCut's row i is
    # frame i of the video; test_video_damage's tail.avi); a count beyond twice the file's size at the size of the
    # packets read is not.
    assert padded_count(8, 10, 800, avi) == 8
    size = avi.stat().st_size
    assert padded_count(2 * size // 100, 10, 1000, avi) > 0 and padded_count(2 * size // 100 + 1, 10, 1000, avi) == 0


def _float_stack(path, pages):
    ims = [Image.fromarray(p) for p in pages]
    ims[0].save(path, save_all=True, append_images=ims[1:])
    return path


def test_a_nan_page_of_a_stack_is_skipped_and_the_next_pages_are_read(pred_runs, tmp_path, capsys):
    """A NaN page raised out of read_stack: every later page was dropped (the files held page 0 only)."""
    rng = np.random.default_rng(0)
    pages = [rng.uniform(0, 1, (96, 72)).astype(np.float32) for _ in range(3)]
    pages[1][:] = np.nan
    stack = _float_stack(tmp_path / "fnan.tif", pages)
    out = tmp_path / "o"
    rc, stdout, _ = _cli(capsys, ["predict", pred_runs["adaanchor"], stack, "--out", out, "--format", "coco,csv",
                                  "--quiet", "--device", "cpu"])
    assert rc == 3 and "predicted 2 frame(s)" in stdout
    assert f"{stack}: 1 page(s) could not be read, the first of them page 1 (6912 of 6912 values of a float32 " \
           "image are NaN or infinite" in stdout and "and the other 2 keep their indices" in stdout
    assert [r["frame"] for r in json.loads((out / "fnan.json").read_text())] == [0, 2]
    df = pd.read_csv(out / "fnan.csv", header=[0, 1, 2], index_col=0)
    assert list(df.index) == [0, 1, 2] and df.loc[1].isna().all() and not df.loc[[0, 2]].isna().any().any()


def test_a_page_above_the_declared_bit_depth_is_skipped_alone(tmp_path):
    pages = [np.full((20, 30), v, np.uint16) for v in (100, 60000, 4000)]
    stack = _float_stack(tmp_path / "s16.tif", pages)
    skips: list = []
    frames = list(iter_frames(expand_sources([stack])[0], skips.append, bit_depth=12))
    assert [f.index for f in frames] == [0, 2] and skips[0].frames == 3
    assert "page 1 (a value of 60000 does not fit the declared bit depth of 12" in skips[0].reason
    one = _float_stack(tmp_path / "all.tif", [pages[1], pages[1]])
    with pytest.raises(AdaAnchorError, match=r"all\.tif: page 0: a value of 60000 .*no page of the image stack"):
        list(read_stack(one, bit_depth=12))


def test_video_detections_of_ids_that_are_no_frame_are_noted(pred_runs, tmp_path, capsys):
    """Frames numbered 1..10 for a 10-frame video: frame 0 got nothing, each frame its neighbour's box, unsaid."""
    video = write_video(tmp_path / "v.mp4", 10, size=(72, 96))
    dets = [{"image_id": i, "category_id": 1, "bbox": [4, 4, 50, 80], "score": 0.9} for i in range(1, 11)]
    (tmp_path / "d.json").write_text(json.dumps(dets))
    rc, _, err = _cli(capsys, ["predict", pred_runs["adaanchor"], video, "--boxes", tmp_path / "d.json", "--out",
                               tmp_path / "o", "--format", "coco", "--quiet", "--device", "cpu"])
    assert rc == 0
    assert (f"note: {tmp_path / 'd.json'}: 1 detection(s) of 1 image id(s) not among the frames of v.mp4, not used "
            "(e.g. 10): a video's image ids are its frame indices, 0 to 9; frame 0 has none: are they numbered from "
            "1?") in err
    assert [r["frame"] for r in json.loads((tmp_path / "o" / "v.json").read_text())] == list(range(1, 10))


def test_fold_bn_must_be_a_boolean(pred_runs):
    with pytest.raises(AdaAnchorError, match="fold_bn must be True or False, got 'no'"):
        Predictor.from_run(pred_runs["adaanchor"], device="cpu", fold_bn="no")
    assert Predictor.from_run(pred_runs["adaanchor"], device="cpu", fold_bn=False).info["folded_bn"] == 0


def test_a_float_image_spanning_float64s_range_is_stretched_without_overflow():
    """(arr - lo) overflowed: RuntimeWarnings and an image of NaN cast to uint8."""
    top = np.finfo(np.float64).max
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = rgb8(np.array([[-top, 0.0], [top / 2, top]]))
    np.testing.assert_array_equal(got, rgb8(np.array([[-1.0, 0.0], [0.5, 1.0]])))
    np.testing.assert_array_equal(got[..., 0], [[0, 128], [191, 255]])


def test_eval_output_paths_are_checked_before_the_evaluation(pred_runs, tmp_path, capsys):
    """--predictions photo.png overwrote the photo with JSON; a --plot that cannot be written failed after the
    whole evaluation."""
    photo = tmp_path / "photo.png"
    Image.new("RGB", (4, 4)).save(photo)
    before = photo.read_bytes()
    run = pred_runs["adaanchor"]
    rc, _, err = _cli(capsys, ["eval", run, "--predictions", photo])
    assert rc == 2 and photo.read_bytes() == before
    assert err.strip() == (f"error: --predictions {photo} (an existing file, which would be overwritten): COCO "
                           "results are JSON: give a file name ending in .json")
    rc, _, err = _cli(capsys, ["eval", run, "--plot", tmp_path / "e.nosuch"])
    assert rc == 2 and err.startswith(f"error: --plot {tmp_path / 'e.nosuch'}: matplotlib cannot write .nosuch files")
    rc, _, err = _cli(capsys, ["eval", run, "--plot", photo / "e.png"])
    assert rc == 2 and err.strip() == f"error: {photo / 'e.png'}: cannot write the plot (a parent of it is a file, " \
                                      "not a folder)"
    assert len(err.strip().splitlines()) == 1  # refused before the evaluation: no progress bar, no table


def test_eval_plot_makes_its_folder_as_predictions_and_json_do(tmp_path):
    """``eval --plot nodir/p.png`` failed after the whole evaluation; --predictions and --json make their folders."""
    from adaanchor.eval_plot import plot_eval

    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 50, (6, 2, 2))
    preds = {"pred_orig": gt + 1.0, "gt_orig": gt, "vis": np.full((6, 2), 2), "score": None}
    m = {"per_keypoint_orig": {n: {"vis_error": 1.0, "inv_error": None, "vis": 6, "inv": 0} for n in "ab"}}
    path = plot_eval(m, preds, tmp_path / "nodir" / "p.png")
    assert path == tmp_path / "nodir" / "p.png" and Image.open(path).size[0] > 100
