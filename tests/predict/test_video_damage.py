"""Damaged and variable-frame-rate videos: frame indices stay on their frames, losses are reported."""

from __future__ import annotations

import random
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from adaanchor.errors import AdaAnchorError
from adaanchor.predict.frame_clock import FrameClock
from adaanchor.predict.sources import Skip, expand_sources, iter_frames, read_video
from root_helpers import write_video

FPS = 30


def _damage(src: Path, dst: Path, at: float = 0.5, n: int = 3000, seed: int = 0) -> Path:
    """``n`` random bytes written over the file from ``at`` of its length."""
    data = bytearray(src.read_bytes())
    rng = random.Random(seed)
    start = int(len(data) * at)
    for i in range(start, min(len(data), start + n)):
        data[i] = rng.randrange(256)
    dst.write_bytes(bytes(data))
    return dst


def _read(path: Path) -> tuple[list, list[Skip]]:
    skips: list[Skip] = []
    frames = list(iter_frames(expand_sources([str(path)])[0], skips.append))
    return frames, skips


@pytest.mark.parametrize("codec", ["mpeg4", "libx264"])
def test_a_damaged_mp4_keeps_every_frame_on_its_own_index_and_reports_the_lost_ones(tmp_path, codec):
    good = write_video(tmp_path / "v.mp4", 137, size=(160, 120), fps=FPS, codec=codec)
    frames, skips = _read(_damage(good, tmp_path / "d.mp4"))
    idx = [f.index for f in frames]
    # Each frame's index is its own (its timestamp says which frame it is), increasing, none repeated.
    assert idx == [round(f.time * FPS) for f in frames]
    assert idx == sorted(set(idx))
    lost = 137 - len(frames)
    assert lost > 0 and max(idx) > 120  # decoding went on past the damage (it used to stop at frame 67)
    assert len(skips) == 1 and skips[0].source == str(tmp_path / "d.mp4")
    first = min(set(range(137)) - set(idx))
    assert skips[0].reason == (f"{lost} frame(s) could not be decoded, the first of them frame {first}, "
                               f"and the other {len(frames)} keep their indices")


def test_an_avi_missing_frames_the_container_lists_is_reported(tmp_path):
    good = write_video(tmp_path / "v.avi", 137, size=(160, 120), fps=FPS)
    frames, skips = _read(_damage(good, tmp_path / "d.avi"))
    assert 0 < len(frames) < 137
    assert len(skips) == 1
    assert skips[0].reason.startswith(f"the container lists 137 frames and {len(frames)} could be read")


def test_a_cut_matroska_file_reports_where_reading_stopped(tmp_path):
    # Matroska: frames are readable without an index at the end (an .mp4 cut in half has lost its index).
    path = write_video(tmp_path / "t.mkv", 40, size=(160, 120), fps=10)
    data = path.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    frames, skips = _read(cut)
    assert 0 < len(frames) < 40
    assert [f.index for f in frames] == list(range(len(frames)))
    assert len(skips) == 1
    assert "reading stopped at" in skips[0].reason and "of the video's 4.00 s" in skips[0].reason


def _write_vfr(path: Path, codec: str, times_ms: list[int]) -> Path:
    import av

    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=FPS)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        for i, t in enumerate(times_ms):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 9) % 256, np.uint8), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


@pytest.mark.parametrize("codec,ext", [("libx264", "mp4"), ("libx264", "mkv"), ("libvpx", "webm")])
def test_a_variable_frame_rate_video_counts_its_frames_and_reports_nothing(tmp_path, codec, ext):
    rng = np.random.default_rng(0)
    times = np.cumsum(rng.choice([17, 33, 33, 66, 100], 60)).tolist()
    times[-1] = times[-2] + 700  # a last frame held 0.7 s is not a video that stopped early
    frames, skips = _read(_write_vfr(tmp_path / f"vfr.{ext}", codec, times))
    assert [f.index for f in frames] == list(range(60))
    np.testing.assert_allclose([f.time for f in frames], np.array(times) / 1000.0, atol=1e-3)
    assert skips == []


def test_h264_with_b_frames_in_an_avi_reads_every_frame_on_its_index(tmp_path):
    # An AVI's timestamps count its chunks in decode order: ranked as presentation times, every other frame was
    # called lost (exit 3) and the others were put on their neighbours' indices.
    frames, skips = _read(write_video(tmp_path / "v.avi", 40, size=(64, 48), fps=FPS, codec="libx264"))
    assert skips == []
    assert [f.index for f in frames] == list(range(40))
    blue = [float(f.image[..., 2].mean()) for f in frames]  # the helper's blue channel is (i * 7) % 256
    np.testing.assert_allclose(blue, [(i * 7) % 256 for i in range(40)], atol=8)
    np.testing.assert_allclose(np.diff([f.time for f in frames]), 1 / FPS, atol=1e-6)


def test_the_clock_counts_frames_when_a_reordering_decoder_had_timestamps_in_decode_order():
    clock = FrameClock()
    for pts in (1, 2, 3, 4):
        clock.add(pts)
    assert [clock.index(t, reorders=True) for t in (1, 3, 2, 4)] == [0, 1, 2, 3]
    clock.finish()
    assert clock.lost == 0 and clock.decode_order
    clock = FrameClock()  # without reordering a skipped timestamp is a lost frame, as before
    for pts in (1, 2, 3):
        clock.add(pts)
    assert [clock.index(t) for t in (1, 3)] == [0, 2] and clock.lost == 1


def test_the_clock_ranks_timestamps_and_counts_those_never_output():
    clock = FrameClock()
    for pts in (0, 20, 10, 40, 30, 50):  # decode order (B-frames)
        clock.add(pts)
    assert [clock.index(t) for t in (0, 10)] == [0, 1]
    assert clock.index(30) == 3  # 20 never came out: lost, and 30 keeps index 3
    assert clock.index(20) is None  # out after a later frame: dropped, its index stays given up
    assert clock.index(40) == 4
    clock.finish()  # 50 never came out
    assert (clock.lost, clock.first_lost) == (2, 2)


def test_the_clock_counts_frames_when_timestamps_are_missing_or_invented():
    clock = FrameClock()
    clock.add(None)
    assert [clock.index(t) for t in (5, None, 7)] == [0, 1, 2]
    clock = FrameClock()
    for pts in (0, 10, 20):
        clock.add(pts)
    assert clock.index(0) == 0
    assert [clock.index(t) for t in (15, 20)] == [1, 2]  # 15: no packet had it; counting from there
    clock.finish()
    assert clock.lost == 0


def test_the_dlc_csv_keeps_row_i_on_frame_i_across_lost_frames(tmp_path):
    import csv

    from adaanchor.predict.result import Prediction
    from adaanchor.predict.sources import Frame
    from adaanchor.predict.writers import DlcCsvWriter

    w = DlcCsvWriter(tmp_path / "v.csv", ("a", "b"), "me")
    img = np.zeros((4, 4, 3), np.uint8)
    pred = Prediction(np.ones((1, 2, 2)), np.full((1, 2), 0.5, np.float32), None, np.array([[0, 0, 4, 4.0]]),
                      np.ones(1), np.zeros((1, 2, 3)), (4, 4))
    for i in (0, 1, 4):
        w.write(Frame(img, tmp_path / "v.mp4", i, i / 10, "video"), pred, i)
    rows = list(csv.reader(w.close().open()))[3:]
    assert [r[0] for r in rows] == ["0", "1", "2", "3", "4"]
    assert rows[2][1:] == [""] * 6 and rows[4][1:] == ["1.000", "1.000", "0.50000"] * 2

    w = DlcCsvWriter(tmp_path / "w.csv", ("a", "b"), "me")  # the first frames lost: rows 0 and 1 still there
    for i in (2, 3):
        w.write(Frame(img, tmp_path / "w.mp4", i, i / 10, "video"), pred, i)
    rows = list(csv.reader(w.close().open()))[3:]
    assert [r[0] for r in rows] == ["0", "1", "2", "3"] and rows[0][1:] == rows[1][1:] == [""] * 6


def test_reading_a_file_that_is_not_a_video_still_fails_before_any_frame(tmp_path):
    bad = tmp_path / "x.mp4"
    bad.write_bytes(b"\x00" * 3000)
    with pytest.raises(AdaAnchorError, match="cannot open the video"):
        next(read_video(bad))


def test_predict_on_a_damaged_video_writes_every_decoded_frame_on_its_row_and_exits_3(pred_runs, tmp_path, capsys):
    import json

    import pandas as pd

    from adaanchor.cli import main

    good = write_video(tmp_path / "v.mp4", 137, size=(160, 120), fps=FPS)
    bad = _damage(good, tmp_path / "cage.mp4")
    out = tmp_path / "o"
    capsys.readouterr()
    rc = main(["predict", str(pred_runs["adaanchor"]), str(bad), "--out", str(out), "--format", "coco,csv",
               "--quiet", "--device", "cpu"])
    cap = capsys.readouterr()
    err = cap.out + cap.err
    assert rc == 3
    res = json.loads((out / "cage.json").read_text())
    frames = [r["frame"] for r in res]
    assert frames == [round(r["time"] * FPS) for r in res] and 0 < len(frames) < 137
    assert f"cage.mp4: {137 - len(frames)} frame(s) could not be decoded" in err
    df = pd.read_csv(out / "cage.csv", header=[0, 1, 2], index_col=0)
    assert list(df.index) == list(range(max(frames) + 1))  # one row per frame, empty where it was lost
    lost = sorted(set(range(max(frames) + 1)) - set(frames))
    assert df.loc[lost].isna().all().all() and not df.loc[frames].isna().any().any()


def test_the_coco_results_keep_five_decimals_of_a_keypoint_confidence(tmp_path):
    import json

    from adaanchor.predict.result import Prediction
    from adaanchor.predict.sources import Frame
    from adaanchor.predict.writers import CocoWriter

    w = CocoWriter(tmp_path / "p.json")
    pred = Prediction(np.array([[[1.23456, 2.0], [3.0, 4.0]]]), np.array([[0.00042, 0.98765]], np.float32), None,
                      np.array([[0, 0, 4, 4.0]]), np.ones(1), np.zeros((1, 2, 3)), (4, 4))
    w.write(Frame(np.zeros((4, 4, 3), np.uint8), tmp_path / "a.png"), pred, 1)
    rec = json.loads(w.close().read_text())[0]
    assert rec["keypoints"] == [1.235, 2.0, 0.00042, 3.0, 4.0, 0.98765]
    assert rec["file_name"] == str((tmp_path / "a.png").resolve())  # absolute: it was relative to the cwd


def test_a_damaged_mp4_header_is_an_unreadable_video_not_a_traceback(tmp_path):
    """PyAV read the damaged header's metadata as strict UTF-8: UnicodeDecodeError out of av.open, a traceback."""
    good = write_video(tmp_path / "v.mp4", 60, size=(160, 120), fps=FPS, codec="mpeg4")
    frames, skips = _read(_damage(good, tmp_path / "d.mp4", at=0.95))
    assert len(skips) == 1 and skips[0].source == str(tmp_path / "d.mp4")


def test_the_dlc_csv_has_a_row_for_every_frame_of_a_video_whose_last_frames_were_lost(pred_runs, tmp_path, capsys):
    """Frames lost at the end of a video got no rows: the CSV was shorter than the video."""
    import pandas as pd

    from adaanchor.cli import main

    good = write_video(tmp_path / "v.avi", 60, size=(160, 120), fps=FPS, codec="mpeg4")
    bad = _damage(good, tmp_path / "tail.avi", at=0.85)
    frames, skips = _read(bad)
    assert len(frames) < 60 and skips[0].frames == 60  # the container lists 60
    out = tmp_path / "o"
    assert main(["predict", str(pred_runs["adaanchor"]), str(bad), "--out", str(out), "--format", "csv",
                 "--quiet", "--device", "cpu"]) == 3
    df = pd.read_csv(out / "tail.csv", header=[0, 1, 2], index_col=0)
    assert list(df.index) == list(range(60))
    kept = [f.index for f in frames]
    assert not df.loc[kept].isna().any().any() and df.loc[[i for i in range(60) if i not in kept]].isna().all().all()


def test_the_clock_counts_frames_from_where_joined_clips_restart_their_timestamps():
    """Clips joined end to end (MPEG-TS recordings, HLS segments) each start at timestamp 0: ranked, the second
    clip's timestamps were taken for lost frames of the first, two of its frames went on other frames' rows and
    the whole second clip was dropped as 'could not be decoded'."""
    clock = FrameClock()
    for pts in (0, 10, 20):
        clock.add(pts)
    assert [clock.index(t) for t in (0, 10)] == [0, 1]
    for pts in (0, 10, 20):  # the second clip, fed while the first one's last frame is still in the decoder
        clock.add(pts)
    assert [clock.index(t) for t in (20, 0, 10, 20)] == [2, 3, 4, 5]
    clock.finish()
    assert clock.lost == 0 and clock.restarted and clock.frames() is None


def test_joined_mpeg_ts_clips_keep_every_frame_in_order(tmp_path):
    av = pytest.importorskip("av")
    clips = []
    for c in range(2):
        path = tmp_path / f"{c}.ts"
        with av.open(str(path), "w") as out:
            s = out.add_stream("libx264", rate=10)
            s.width, s.height, s.pix_fmt, s.options = 64, 48, "yuv420p", {"bf": "0"}
            for i in range(8):
                img = np.zeros((48, 64, 3), np.uint8)
                img[..., 2] = (c * 8 + i) * 15  # the frame's place in the joined video, in its blue channel
                for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    out.mux(p)
            for p in s.encode():
                out.mux(p)
        clips.append(path.read_bytes())
    joined = tmp_path / "joined.ts"
    joined.write_bytes(b"".join(clips))
    frames, skips = _read(joined)
    assert skips == [] and [f.index for f in frames] == list(range(16))
    np.testing.assert_allclose([float(f.image[..., 2].mean()) for f in frames], [i * 15 for i in range(16)], atol=5)
    assert np.all(np.diff([f.time for f in frames]) > 0)  # times keep going up (counted past the join)


def test_a_labelled_variable_frame_rate_video_keeps_its_sources_frame_times(pred_runs, tmp_path):
    """The labelled video was written at the average rate: its frames drifted from the source's (a 2.0 s source
    gave a 1.7 s labelled video)."""
    import av

    from adaanchor.cli import main

    times = [0, 40, 90, 300, 310, 320, 700, 1000, 1010, 1500, 1600, 2000]
    src = _write_vfr(tmp_path / "vfr.mp4", "libx264", times)
    assert main(["predict", str(pred_runs["adaanchor"]), str(src), "--out", str(tmp_path / "o"), "--save-video",
                 "--format", "coco", "--quiet", "--device", "cpu"]) == 0
    with av.open(str(tmp_path / "o" / "vfr_labeled.mp4")) as c:
        got = [float(f.time) for f in c.decode(video=0)]
    np.testing.assert_allclose(got, np.array(times) / 1000.0, atol=1e-3)


def test_a_cut_fast_start_mp4_says_the_total_loss_first(tmp_path):
    """An H.264 .mp4 written with its index first (``movflags=faststart``) cut in half: some frames do not decode and
    more were never read; the message gave the two counts (3 and 12 listed / 6 read), read as 3 lost of 9."""
    import av

    path = tmp_path / "v.mp4"
    with av.open(str(path), "w", options={"movflags": "faststart"}) as c:
        s = c.add_stream("libx264", rate=FPS)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(12):
            c.mux(s.encode(av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")))
        c.mux(s.encode())
    cut = tmp_path / "half.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    frames, skips = _read(cut)
    assert len(skips) == 1
    reason = skips[0].reason
    assert "could not be decoded" in reason and "the container lists 12 frames" in reason  # both kinds of loss
    assert reason.startswith(f"{12 - len(frames)} of the 12 frames the container lists are missing ({len(frames)} read); ")


def test_an_avi_whose_damaged_chunk_was_skipped_says_the_later_frames_are_numbered_as_read(tmp_path):
    """The AVI demuxer skips a damaged chunk and numbers the next one in its place: which frame was lost is not
    known, so the message said only that indices 'may be off'; it now says how far and where the empty rows went."""
    import av

    good = tmp_path / "v.avi"
    rng = np.random.default_rng(0)
    with av.open(str(good), mode="w") as c:
        s = c.add_stream("mjpeg", rate=FPS)
        s.width, s.height, s.pix_fmt = 160, 120, "yuvj420p"  # MJPEG's full-range YUV
        for _ in range(40):
            img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
            for packet in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(packet)
        for packet in s.encode():
            c.mux(packet)
    data = bytearray(good.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 4000] = bytes(4000)  # one frame's chunk and more, zeroed
    bad = tmp_path / "mid.avi"
    bad.write_bytes(bytes(data))
    frames, skips = _read(bad)
    assert len(skips) == 1 and len(frames) < 40
    lost = 40 - len(frames)
    assert (f"the container lists 40 frames and {len(frames)} could be read, so the frames after the damage are "
            f"numbered as read, {lost} index(es) early at most, and the lost ones' empty rows are at the CSV's end"
            in skips[0].reason)
