"""Source paths that cannot be read, said when the sources are listed, in ``predict`` and ``viz`` alike: a file name
that is not UTF-8, links to nothing and link loops, FIFOs and folders named like media files; ``.ico`` files in a
folder; an image given where the run goes; ``viz --out ''``."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest

from adaanchor.anchors_viz import visualize_command
from adaanchor.cli import main
from adaanchor.errors import AdaAnchorError
from adaanchor.predict.sources import Skip, expand_sources

BAD = os.fsdecode(b"bad\xff.png")  # a name that is not UTF-8, as Linux allows
UTF8_REASON = "the file name is not valid UTF-8 (rename it"


def _run_cli(capsys, argv) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, out, err


def _folder(tmp_path, val_images, *names):
    folder = tmp_path / "in"
    folder.mkdir()
    for n in names:
        shutil.copy(val_images[0], folder / n)
    return folder


def test_a_file_name_that_is_not_utf8_is_skipped_when_the_sources_are_listed(tmp_path, val_images):
    folder = _folder(tmp_path, val_images, "a.png", BAD)
    srcs, skips = expand_sources([str(folder), str(folder / BAD)])
    assert [s.path.name for s in srcs] == ["a.png"]
    assert [str(s) for s in skips] == [f"{folder}/bad\\xff.png: {UTF8_REASON}: the output files hold file names as "
                                       "UTF-8 text)"]
    assert str(Skip(os.fsdecode(b"x\xfe.png"), "r")) == "x\\xfe.png: r"  # printable: it raised UnicodeEncodeError


def test_predict_with_a_name_that_is_not_utf8_writes_every_format_for_the_others(pred_runs, tmp_path, val_images,
                                                                                   capsys):
    """The CSV and NWB writers raised UnicodeEncodeError half way (exit 1), sleap-io crashed the process writing the
    .slp (exit 139), leaving files with part of the images."""
    folder = _folder(tmp_path, val_images, "a.png", BAD, "c.png")
    out = tmp_path / "o"
    rc, stdout, _ = _run_cli(capsys, ["predict", pred_runs["adaanchor"], folder, "--out", out, "--format",
                                      "coco,csv,slp,nwb", "--quiet", "--device", "cpu"])
    assert rc == 3
    assert f"  {folder}/bad\\xff.png: {UTF8_REASON}" in stdout and "skipped 1 input(s):" in stdout
    assert sorted(p.name for p in out.iterdir()) == ["overlays", "predictions.csv", "predictions.json",
                                                     "predictions.nwb", "predictions.slp"]
    assert [os.path.basename(r["file_name"]) for r in json.loads((out / "predictions.json").read_text())] == \
        ["a.png", "c.png"]
    assert len(pd.read_csv(out / "predictions.csv", header=[0, 1, 2], index_col=0)) == 2
    # alone it is nothing to predict, before the model loads (sleap-io crashed here)
    rc, _, err = _run_cli(capsys, ["predict", pred_runs["adaanchor"], folder / BAD, "--out", tmp_path / "o2",
                                   "--format", "slp", "--quiet", "--device", "cpu"])
    assert rc == 2 and "bad\\xff.png: " + UTF8_REASON in err and not (tmp_path / "o2").exists()


def test_viz_skips_a_name_that_is_not_utf8_as_predict_does(pred_runs, tmp_path, val_images, capsys):
    """matplotlib raised TypeError from set_text() drawing the title."""
    folder = _folder(tmp_path, val_images, "a.png", BAD)
    rc, stdout, _ = _run_cli(capsys, ["viz", pred_runs["adaanchor"], folder, "--out", tmp_path / "v"])
    assert rc == 3 and f"  {folder}/bad\\xff.png: {UTF8_REASON}" in stdout
    assert [p.name for p in (tmp_path / "v").iterdir()] == ["a_adaanchor.png"]


def test_links_to_nothing_and_link_loops_are_named_for_what_they_are(tmp_path, val_images):
    folder = _folder(tmp_path, val_images, "a.png")
    (folder / "gone.png").symlink_to(tmp_path / "deleted.png")
    (folder / "l1.png").symlink_to(folder / "l2.png")
    (folder / "l2.png").symlink_to(folder / "l1.png")
    srcs, skips = expand_sources([str(folder), str(folder / "l1.png"), str(folder / "gone.png")])
    assert [s.path.name for s in srcs] == ["a.png"]
    loop = "a link loop (the link leads back to itself): not a file"
    assert [(os.path.basename(s.source), s.reason) for s in skips] == [
        ("gone.png", "a link to a missing file"), ("l1.png", loop), ("l2.png", loop),
        ("l1.png", loop), ("gone.png", "a link to a missing file")]  # named directly: 'no such file or folder'


def test_viz_skips_a_dangling_link_in_a_folder_and_draws_the_rest(pred_runs, tmp_path, val_images, capsys):
    """viz stopped with 'error: ...: a link to a missing file' (exit 2, nothing drawn) where predict skipped it."""
    folder = _folder(tmp_path, val_images, "a.png")
    (folder / "dangling.png").symlink_to("/nonexistent.png")
    rc, stdout, _ = _run_cli(capsys, ["viz", pred_runs["adaanchor"], folder, "--out", tmp_path / "v"])
    assert rc == 3 and f"skipped 1 input(s):\n  {folder / 'dangling.png'}: a link to a missing file" in stdout
    assert (tmp_path / "v" / "a_adaanchor.png").is_file()
    skipped: list[str] = []
    paths = visualize_command(str(pred_runs["adaanchor"]), [str(folder)], str(tmp_path / "v2"), device="cpu",
                              skipped=skipped)
    assert [p.name for p in paths] == ["a_adaanchor.png"] and skipped == [f"{folder / 'dangling.png'}: a link to a "
                                                                          "missing file"]
    with pytest.raises(AdaAnchorError, match="dangling.png: a link to a missing file"):  # without a list: raised
        visualize_command(str(pred_runs["adaanchor"]), [str(folder)], str(tmp_path / "v3"), device="cpu")
    rc, _, err = _run_cli(capsys, ["viz", pred_runs["adaanchor"], tmp_path / "nope.png", "--out", tmp_path / "v4"])
    assert rc == 2 and "nope.png: image file not found" in err  # a missing argument is still an error


def test_fifos_and_folders_named_like_media_are_counted_and_ico_files_read(pred_runs, tmp_path, val_images, capsys):
    """A FIFO named x.mp4 was 'no such file or folder'; in a folder, FIFOs, a folder named dir.png and .ico files
    were left out without a word."""
    from PIL import Image

    folder = _folder(tmp_path, val_images, "a.png")
    Image.open(val_images[1]).convert("RGB").save(folder / "icon.ico")
    os.mkfifo(folder / "cam.mp4")
    (folder / "dir.png").mkdir()
    fifo = tmp_path / "x.mp4"
    os.mkfifo(fifo)
    srcs, skips = expand_sources([str(folder), str(fifo)])
    assert [s.path.name for s in srcs] == ["a.png", "icon.ico"]
    fifo_why = "not a regular file but a FIFO (named pipe): reading it would wait for a writer; copy it to a file"
    assert [(os.path.basename(s.source), s.reason) for s in skips] == [
        ("cam.mp4", fifo_why),
        ("dir.png", "a folder, not a file (folders are not searched recursively: name it, or give a pattern)"),
        ("x.mp4", fifo_why)]
    out = tmp_path / "o"
    rc, stdout, _ = _run_cli(capsys, ["predict", pred_runs["adaanchor"], folder, fifo, "--out", out, "--quiet",
                                      "--device", "cpu"])
    assert rc == 3 and "predicted 2 frame(s)" in stdout and "skipped 3 input(s):" in stdout
    assert sorted(p.name for p in (out / "overlays").iterdir()) == ["a.png", "icon.png"]


@pytest.mark.parametrize("command", ["predict", "viz", "export", "eval"])
def test_an_image_or_video_given_where_the_run_goes_says_so(tmp_path, val_images, val_video, capsys, command):
    """``predict in/rgb.png in/gray.png`` said 'in/rgb.png: not UTF-8 text (invalid start byte at byte 0)'."""
    for first, kind in ((val_images[0], "an image"), (val_video, "a video")):
        argv = [command, first] + ([val_images[1]] if command in ("predict", "viz") else [])
        argv += ["--out", tmp_path / "o"] if command in ("predict", "viz") else []
        rc, _, err = _run_cli(capsys, argv)
        assert rc == 2 and err.strip() == (f"error: {first}: {kind} file, not a run: the first argument is the run, a "
                                           "run directory (or a checkpoint in one, or a config file); was it left out?")


def test_viz_refuses_an_empty_out_as_predict_does(pred_runs, val_images, tmp_path, capsys, monkeypatch):
    """``viz RUN img --out ''`` wrote its PNGs into the working folder."""
    monkeypatch.chdir(tmp_path)
    rc, _, err = _run_cli(capsys, ["viz", pred_runs["adaanchor"], val_images[0], "--out", ""])
    assert rc == 2 and err.strip() == "error: --out is empty: give the output folder"
    assert list(tmp_path.iterdir()) == []
