"""Ctrl-C pressed again while ``adaanchor predict`` stops (adaanchor/predict/stop_signals.py): the files are closed
complete and listed whatever the timing. A second Ctrl-C while the .slp and .nwb files were being written (seconds
at a video's end) left neither of them, nor the labelled video (only its temporary file), nor the list of the files
written; once, a traceback from the reading thread's generator."""

from __future__ import annotations

import json
import signal
import time

import pandas as pd
import pytest

from adaanchor.cli import main
from adaanchor.predict import Predictor
from adaanchor.predict.sleap_writers import SlpWriter

FORMATS = ["--format", "coco,csv,slp,nwb", "--save-video"]


@pytest.fixture
def python_ctrl_c():
    """Python's own SIGINT handler, as in a terminal (a test runner started in the background ignores SIGINT)."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


def _complete(out, stem: str) -> int:
    """The number of frames in the files of video ``stem``, after checking that every file is there, complete and
    holds the same frames, and that no temporary file is left."""
    import sleap_io as sio

    assert sorted(p.name for p in out.iterdir()) == sorted(f"{stem}{s}" for s in (".csv", ".json", ".nwb", ".slp",
                                                                                  "_labeled.mp4"))
    frames = [r["frame"] for r in json.loads((out / f"{stem}.json").read_text())]
    assert 0 < len(frames) and frames == list(range(len(frames)))
    assert len(pd.read_csv(out / f"{stem}.csv", header=[0, 1, 2], index_col=0)) == len(frames)
    assert [lf.frame_idx for lf in sio.load_slp(str(out / f"{stem}.slp"), open_videos=False)] == frames
    assert len(sio.load_nwb(str(out / f"{stem}.nwb"))) == len(frames)
    assert not list(out.glob(".*"))
    return len(frames)


def test_a_second_ctrl_c_while_predicting_drops_the_frames_in_hand_and_closes_every_file(
        pred_runs, val_video, tmp_path, monkeypatch, capsys, python_ctrl_c):
    real = Predictor.predict_stream

    def two_presses(self, *a, **k):
        for i, item in enumerate(real(self, *a, **k)):
            if i == 3:  # raise_signal runs the handler before it returns: no timing involved
                signal.raise_signal(signal.SIGINT)
                signal.raise_signal(signal.SIGINT)  # within the predicting: KeyboardInterrupt there
            yield item

    monkeypatch.setattr(Predictor, "predict_stream", two_presses)
    before = signal.getsignal(signal.SIGINT)
    out = tmp_path / "o"
    rc = main(["predict", str(pred_runs["adaanchor"]), str(val_video), "--out", str(out), *FORMATS, "--quiet",
               "--device", "cpu"])
    cap = capsys.readouterr()
    assert rc == 130 and signal.getsignal(signal.SIGINT) == before
    assert _complete(out, "clip") == 3  # frame 3 was dropped
    assert "Ctrl-C again stops predicting at once; the files are closed all the same" in cap.err
    assert "stopped by Ctrl-C (SIGINT) twice after 3 frame(s)" in cap.out
    assert sum(line.startswith("wrote ") for line in cap.out.splitlines()) == 5


def test_ctrl_c_while_the_files_close_waits_for_them(pred_runs, val_video, tmp_path, monkeypatch, capsys,
                                                    python_ctrl_c):
    real_stream, real_close = Predictor.predict_stream, SlpWriter.close

    def one_press(self, *a, **k):
        for i, item in enumerate(real_stream(self, *a, **k)):
            if i == 5:
                signal.raise_signal(signal.SIGINT)
            yield item

    def pressed_while_closing(self):
        for _ in range(3):
            signal.raise_signal(signal.SIGINT)  # Python's handler raised KeyboardInterrupt here: no .slp, no .nwb
        return real_close(self)

    monkeypatch.setattr(Predictor, "predict_stream", one_press)
    monkeypatch.setattr(SlpWriter, "close", pressed_while_closing)
    out = tmp_path / "o"
    rc = main(["predict", str(pred_runs["adaanchor"]), str(val_video), "--out", str(out), *FORMATS, "--quiet",
               "--device", "cpu"])
    cap = capsys.readouterr()
    assert rc == 130
    assert _complete(out, "clip") == 6  # the frame in hand when Ctrl-C came was finished
    assert cap.err.count("Ctrl-C: closing the files, a moment (stopping now would leave them incomplete)") == 1
    assert "stopped by Ctrl-C (SIGINT) after 6 frame(s)" in cap.out


@pytest.mark.slow
@pytest.mark.parametrize("gap", [0.05, 0.3])
def test_two_ctrl_c_on_a_long_video_leave_every_file_complete(pred_runs, tmp_path, gap):
    """The auditor's case: 3000 frames, every format and the labelled video, two SIGINTs ``gap`` seconds apart."""
    from root_helpers import predict_in_background, write_video

    video = write_video(tmp_path / "long.mp4", 3000, (72, 96), 25)
    out = tmp_path / "out"
    proc = predict_in_background(pred_runs["adaanchor"], video, out, *FORMATS)
    proc.send_signal(signal.SIGINT)
    time.sleep(gap)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr and "Exception ignored" not in stderr and "interrupted" not in stderr, stderr
    n = _complete(out, "long")
    assert n < 3000 and f"after {n} frame(s)" in stdout
    assert [line.split("/")[-1] for line in stdout.splitlines() if line.startswith("wrote ")] == [
        "long.json", "long.csv", "long.slp", "long.nwb", "long_labeled.mp4"]
