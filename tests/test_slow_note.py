"""A long ``data stats`` says what it is doing after a few seconds (50,000 COCO images were read for 18-64 s without a
word); a quick one stays quiet."""

from __future__ import annotations

import time

from adaanchor.cli import main, slow_note


def test_the_note_comes_only_when_the_block_runs_long(capsys):
    with slow_note.said_when_slow("working", after_s=0.05):
        time.sleep(1.0)  # 20 times the delay: the timer's line comes under any load
    assert capsys.readouterr().err == "note: working\n"
    with slow_note.said_when_slow("working", after_s=5.0):
        pass
    time.sleep(0.05)
    assert capsys.readouterr().err == ""


def test_data_stats_says_it_is_reading_when_the_reading_runs_long(tiny_overrides, monkeypatch, capsys):
    assert main(["data", "stats", "demo", *tiny_overrides]) == 0
    assert "note:" not in capsys.readouterr().err  # quick: quiet
    from adaanchor.data import stats  # the command imports it when it runs: patched where it lives

    slow = stats.dataset_stats

    def slowly(*a, **k):
        time.sleep(1.0)
        return slow(*a, **k)

    monkeypatch.setattr(stats, "dataset_stats", slowly)
    monkeypatch.setattr(slow_note, "AFTER_S", 0.05)
    assert main(["data", "stats", "demo", *tiny_overrides]) == 0
    err = capsys.readouterr().err
    assert err.count("note: reading the annotations and opening every image's header") == 1
