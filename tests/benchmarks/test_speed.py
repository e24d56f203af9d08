"""benchmarks/speed.py: interleaved timing, paired ratios and their targets (with stand-in timers)."""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "speed.py"


def _speed():
    spec = importlib.util.spec_from_file_location("speed_bench", BENCH)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_measure_pairs_repetitions_and_reports_both_kinds_of_target():
    speed = _speed()
    calls: list[str] = []

    def timer(name: str, seconds: float):
        def run() -> None:
            calls.append(name)
            time.sleep(seconds)
        return run

    row = speed.Row("stand-in", lambda: {"slow": timer("slow", 0.004), "fast": timer("fast", 0.001)},
                    {"slow / fast": ("slow", "fast")}, {"slow / fast": 1.5},
                    at_least={"slow / fast": 2.0})
    res = speed.measure(row, reps=4, warmup=1)
    assert calls[2:] == ["slow", "fast", "fast", "slow", "slow", "fast", "fast", "slow"]  # alternating order
    q = res["ratios"]["slow / fast"]
    assert q["min"] <= q["median"] <= q["max"] and q["median"] > 1.5
    assert q["target"] == 1.5 and q["at_least"] == 2.0
    md = speed.to_markdown({"machine": speed.machine(1), "load_before": [0], "load_after": [0], "wall_s": 1.0,
                            "rows": {"x": res}})
    assert "slow / fast: **" in md and "<= 1.50" in md


def test_every_row_names_strategies_its_ratios_use():
    speed = _speed()
    for name, row in speed.ROWS.items():
        assert row.ratios, name
        for label in {*row.target, *row.at_least}:
            assert label in row.ratios, (name, label)


def test_deconv_rows_flip_the_matmul_switch_for_one_call_only(monkeypatch):
    from adaanchor.models import deconv

    _speed()  # puts benchmarks/ on the path
    import speed_timers

    seen: list[float] = []
    stand_in = {"heatmap": lambda: seen.append(deconv.MATMUL_MIN_RATIO)}
    monkeypatch.setattr(speed_timers, "inference_timers", lambda *a, **k: stand_in)
    before = deconv.MATMUL_MIN_RATIO
    timers = speed_timers.deconv_timers(speed_timers.RESNET50, False, 1)
    timers["kernel"]()
    timers["matmul"]()
    assert seen == [float("inf"), before] and deconv.MATMUL_MIN_RATIO == before


def test_zero_or_negative_counts_are_usage_errors(tmp_path, capsys):
    import pytest

    speed = _speed()
    for args, text in ((["--reps", "0"], "argument --reps: must be an integer >= 1, got 0"),
                       (["--threads", "-1"], "argument --threads: must be an integer >= 1, got -1")):
        with pytest.raises(SystemExit) as e:
            speed.main([*args, "--rows", "train_tiny", "--out", str(tmp_path)])
        assert e.value.code == 2 and text in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_a_run_of_some_rows_does_not_replace_the_full_table(tmp_path, monkeypatch):
    """``--rows ONE`` wrote speed.md and speed.json, the files the README quotes, with that row alone."""
    speed = _speed()
    row = speed.Row("stand-in", lambda: {"a": lambda: None, "b": lambda: None}, {"a / b": ("a", "b")}, reps=2)
    monkeypatch.setattr(speed, "ROWS", {"one": row, "two": row})
    monkeypatch.setattr(speed, "set_malloc", lambda mode: mode)  # the process's allocator is left as it is
    assert speed.main(["--rows", "one", "--out", str(tmp_path), "--threads", "1"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speed_rows.json", "speed_rows.md"]
    assert speed.main(["--out", str(tmp_path), "--threads", "1"]) == 0
    assert (tmp_path / "speed.json").is_file()
    assert speed.main(["--rows", "two", "--out", str(tmp_path), "--threads", "1", "--name", "mine"]) == 0
    assert (tmp_path / "mine.md").is_file()


def test_paired_ratios_of_wide_spread_are_warned_about(tmp_path, monkeypatch, capsys):
    """With few reps under load the ratio was the median of wildly different pairs, with no word of it."""
    speed = _speed()
    times = iter([1.0, 1.0, 3.0, 1.0, 1.0, 1.0])  # a: 1, 3, 1 ms against b: 1, 1, 1 ms: pairs 1.0, 3.0, 1.0

    def fake_measure(row, reps, warmup=1):
        a = [next(times) for _ in range(3)]
        b = [next(times) for _ in range(3)]
        paired = [x / y for x, y in zip(a, b)]
        return {"measure": row.measure, "reps": 3, "ms": {"a": 1.0, "b": 1.0}, "ms_all": {"a": a, "b": b},
                "ratios": {"a / b": {"median": sorted(paired)[1], "min": min(paired), "max": max(paired),
                                     "target": None, "at_least": None}}}

    row = speed.Row("stand-in", lambda: {}, {"a / b": ("a", "b")}, reps=3)
    monkeypatch.setattr(speed, "ROWS", {"one": row})
    monkeypatch.setattr(speed, "measure", fake_measure)
    monkeypatch.setattr(speed, "set_malloc", lambda mode: mode)
    assert speed.main(["--out", str(tmp_path), "--threads", "1", "--name", "x"]) == 0
    err = capsys.readouterr().err
    assert "warning: one: a / b: the 3 paired ratios range 1.00-3.00 (200% of the median 1.000" in err
    assert "(wide spread: see the warning)" in (tmp_path / "x.md").read_text()


def test_close_paired_ratios_are_not_warned_about():
    from ratio_spread import spread_note

    assert spread_note("a / b", {"median": 1.10, "min": 1.08, "max": 1.12}, 15) is None
    assert spread_note("a / b", {"median": 1.10, "min": 1.00, "max": 1.25}, 15) is not None


def test_a_stop_keeps_the_rows_measured(tmp_path, monkeypatch, capsys):
    """Rows take minutes each, and a Ctrl-C lost them all (a KeyboardInterrupt traceback)."""
    speed = _speed()
    row = speed.Row("stand-in", lambda: {"a": lambda: None, "b": lambda: None}, {"a / b": ("a", "b")}, reps=2)

    def interrupted():
        raise KeyboardInterrupt

    stop = speed.Row("stopped", lambda: {"a": interrupted, "b": interrupted}, {"a / b": ("a", "b")}, reps=2)
    monkeypatch.setattr(speed, "ROWS", {"one": row, "two": stop})
    monkeypatch.setattr(speed, "set_malloc", lambda mode: mode)
    assert speed.main(["--rows", "one", "two", "--out", str(tmp_path), "--threads", "1"]) == 130
    assert "stopped by Ctrl-C" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speed_partial.json", "speed_partial.md"]  # every row asked
