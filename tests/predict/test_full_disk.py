"""A full disk while predict writes: one line naming the file, temporary files removed, never a traceback (it was an
``OSError: [Errno 28] No space left on device`` traceback, ``.vid.csv.tmp`` and ``.vid.json.tmp`` left behind)."""

from __future__ import annotations

import errno

import pytest

from adaanchor.cli import main
from adaanchor.errors import AdaAnchorError


def _full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_predict_names_the_file_it_cannot_write_and_leaves_no_temporary_file(pred_runs, val_video, tmp_path,
                                                                             monkeypatch):
    from adaanchor.predict import writers
    from adaanchor.predict.command import predict_command

    monkeypatch.setattr(writers.os, "replace", _full)  # the rename of a finished file, as a full disk fails it
    out = tmp_path / "o"
    with pytest.raises(AdaAnchorError, match=rf"{out / val_video.stem}\.(json|csv): cannot write \(No space left on "
                                             r"device\): not written"):
        predict_command(str(pred_runs["adaanchor"]), [str(val_video)], out=out, formats=["coco", "csv"],
                        progress=False, device="cpu", overlays=False)
    assert sorted(p.name for p in out.iterdir()) == []  # both groups closed, both temporary files removed


@pytest.mark.parametrize("code, said", [(errno.ENOSPC, True), (errno.EDQUOT, True), (errno.EROFS, True),
                                        (errno.EIO, False)])
def test_a_full_disk_under_any_command_is_one_line(code, said, monkeypatch, capsys):
    """A writer with no message of its own (a .slp or .nwb file, a labelled video): the machine's fault, said in one
    line; another OSError stays a traceback, as it may be a fault of the code."""
    from adaanchor.cli import parser

    def fail(a):
        raise OSError(code, "the reason", "/data/out/a.slp")

    monkeypatch.setattr(parser, "cmd_score", fail)
    argv = ["score", "gt.json", "res.json", "--metric", "coco"]
    if not said:
        with pytest.raises(OSError):
            main(argv)
        return
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: /data/out/a.slp: cannot write (the reason); a file not written whole keeps its "
                          "temporary name") and "\n" not in err
