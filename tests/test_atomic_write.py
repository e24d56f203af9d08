"""Results, configs and records are written whole or not at all (adaanchor/atomic.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaanchor.atomic import write_bytes_atomic, write_text_atomic


def test_a_write_that_fails_halfway_leaves_the_previous_file(tmp_path, monkeypatch):
    """A full disk (or a crash) in the middle of writing a results file left it cut, and a later --collect or
    resume read the half file."""
    target = tmp_path / "results.json"
    target.write_text(json.dumps({"ap": 0.5}))
    real = Path.write_bytes  # what write_text_atomic and write_bytes_atomic write the temporary file with

    def half_then_full_disk(self, data, *args, **kwargs):
        real(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", half_then_full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(target, json.dumps({"ap": 0.75, "rows": list(range(100))}))
    with pytest.raises(OSError, match="No space left"):
        write_bytes_atomic(target, b"x" * 1000)
    monkeypatch.undo()
    assert json.loads(target.read_text()) == {"ap": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]  # no temporary file left behind


def test_a_complete_write_replaces_the_file(tmp_path):
    target = tmp_path / "a b" / "table.md"
    target.parent.mkdir()
    target.write_text("old")
    write_text_atomic(target, "new ü\n")
    assert target.read_text(encoding="utf-8") == "new ü\n" and len(list(target.parent.iterdir())) == 1


def test_a_pipe_is_written_into_not_replaced(tmp_path):
    """``adaanchor score ... --json /dev/stdout``: the rename replaced the device node (or pipe) with a regular file
    (for root; for others it failed to create the temporary file in /dev), and a reader of the pipe got nothing."""
    import os
    import stat

    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # a reader waiting: opening for writing does not block
    try:
        write_text_atomic(fifo, '{"AP": 0.5}\n')
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        assert os.read(reader, 1000) == b'{"AP": 0.5}\n'
    finally:
        os.close(reader)
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
