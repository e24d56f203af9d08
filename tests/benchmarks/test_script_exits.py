"""The benchmark scripts' bad inputs and stops: one line on standard error, never a traceback; exit 2 for a refusal
(``error: ...`` or argparse's usage), 130 for Ctrl-C."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))


def _script(name: str):
    return importlib.import_module(name)


@pytest.mark.parametrize("kind", ["missing", "not json", "other json"])
def test_paired_tables_names_a_file_it_cannot_read(kind, tmp_path, capsys):
    """A missing file was a FileNotFoundError traceback, a non-JSON one a JSONDecodeError traceback."""
    path = tmp_path / "a.json"
    if kind == "not json":
        path.write_text("not json {")
    elif kind == "other json":
        path.write_text("[1, 2]")
    assert _script("paired_tables").main([str(path), str(path), "--name", "x", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: ") and "\n" not in err
    assert {"missing": "cannot read it", "not json": "not a JSON file",
            "other json": "not a results JSON"}[kind] in err
    assert not (tmp_path / "o").exists()


def test_step_phases_takes_the_registrys_strategies_only(tmp_path, capsys):
    """--strategies nosuch failed with an AdaAnchorError traceback after the setup."""
    with pytest.raises(SystemExit) as e:
        _script("step_phases").main(["--strategies", "nosuch", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "argument --strategies: invalid choice: 'nosuch'" in err and "Traceback" not in err


@pytest.mark.parametrize("size", ["12", "0x0", "15x16", "360x-2", "axb", "360x480x2"])
def test_predict_speed_validates_the_video_size(size, capsys):
    """--size 12 failed inside OpenCV with a 'dsize' traceback."""
    with pytest.raises(SystemExit) as e:
        _script("predict_speed").main(["--size", size])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "argument --size:" in err and "Traceback" not in err
    assert _script("predict_speed").video_size("360X480") == (360, 480)


def test_multi_tables_ctrl_c_is_one_line_saying_how_to_go_on(monkeypatch, tmp_path, capsys):
    """Ctrl-C in paper_tables.py table5 printed a ~30-line KeyboardInterrupt traceback and no way to go on."""
    mt = _script("multi_tables")

    def stopped(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(mt, "run_table", stopped)
    assert mt.main(["table5", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err.strip() == (
        f"error: stopped by Ctrl-C (SIGINT); finished runs are kept under {tmp_path / 'runs' / 'table5'}, a run in "
        "progress at its last saved state: re-run the same command to resume")


def test_multi_tables_fig5_without_its_tables_is_an_error_line(tmp_path, capsys):
    assert _script("multi_tables").main(["fig5", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: fig5 draws on ") and "\n" not in err


def test_a_script_that_keeps_nothing_says_to_run_it_again(monkeypatch, tmp_path, capsys):
    """Ctrl-C in step_phases.py was a KeyboardInterrupt traceback; it keeps nothing, so it says to start again."""
    sp = _script("step_phases")

    def stopped(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(sp, "measure", stopped)
    assert sp.main(["--steps", "1", "--out", str(tmp_path)]) == 130
    assert capsys.readouterr().err.strip() == ("error: stopped by Ctrl-C (SIGINT); nothing was written: run the same "
                                               "command again")


@pytest.mark.parametrize("script,args", [
    ("speed", ["--rows", "infer_tiny_b1", "--name", "a/b"]),
    ("step_phases", ["--name", "a/b"]),
    ("paired_tables", ["x.json", "y.json", "--name", "a/b"]),
    ("anchor_reach", ["r1", "--name", "a/b"]),
    ("inference_options", ["r1", "--name", "a/b"]),
    ("crowd_errors", ["--out", "x", "--name", "a/b"]),
    ("predict_speed", ["--name", "a/b"]),
])
def test_a_results_name_with_a_folder_is_refused_before_the_work(script, args, capsys):
    """speed.py --name a/b timed its rows, then failed with a FileNotFoundError traceback: the figures were lost."""
    with pytest.raises(SystemExit) as e:
        _script(script).main(args)
    assert e.value.code == 2 and "--name 'a/b': a file name stem, without folders" in capsys.readouterr().err


def test_an_out_folder_under_a_file_is_refused_before_the_work(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SystemExit) as e:
        _script("step_phases").main(["--out", str(tmp_path / "f" / "sub")])
    assert e.value.code == 2 and f"{tmp_path / 'f'} is a file, not a folder" in capsys.readouterr().err


def test_duplicates_that_would_count_twice_are_refused(tmp_path, capsys):
    """A run folder given twice counted twice (n 3, a smaller standard error); two --out folders of one name lost
    one's results; --strategies heatmap heatmap shared one stepper."""
    from anchor_reach import distinct_runs
    from script_exit import Refused

    a = tmp_path / "FixAnchor_dev_s0"
    with pytest.raises(Refused, match=r"FixAnchor_dev_s0: given twice \(FixAnchor, seed 0\): each run counts once"):
        distinct_runs([a, a, tmp_path / "FixAnchor_dev_s1"])
    with pytest.raises(Refused, match="the same method and seed as"):
        distinct_runs([a, tmp_path / "other" / "FixAnchor_dev_s0"])
    for script, args, says in (("crowd_errors", ["--out", str(tmp_path / "x" / "o5"), "--out", str(tmp_path / "o5")],
                                "--out folders need their own labels, ['o5'] name several"),
                               ("step_phases", ["--strategies", "heatmap", "heatmap", "--out", str(tmp_path)],
                                "--strategies: each once")):
        with pytest.raises(SystemExit) as e:
            _script(script).main(args)
        assert e.value.code == 2 and says in capsys.readouterr().err


@pytest.mark.parametrize("content", ['[1, 2]', '{"wall_seconds": 3}'])
def test_off_map_refuses_what_is_not_a_coco_file(tmp_path, capsys, content):
    """A JSON list was an AttributeError traceback; another results file printed a table of zeros (exit 0)."""
    path = tmp_path / "x.json"
    path.write_text(content)
    assert _script("off_map").main([str(path)]) == 2
    assert "not a COCO keypoints file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _script("off_map").main([str(path), "--radius", "nan"])
    assert "--radius must be a finite number >= 0, got nan" in capsys.readouterr().err


def test_inference_options_refuses_in_one_line(tmp_path, capsys):
    """Its refusals went through no run_main: a run given twice would have been a traceback."""
    run = tmp_path / "FixAnchor_dev_s0"
    assert _script("inference_options").main([str(run), str(run), "--name", "x", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "given twice" in err and "\n" not in err


HELPER_MODULES = sorted(p.name for p in (REPO / "benchmarks").glob("*.py") if "def main(" not in p.read_text())


def test_the_helper_modules_are_the_ones_known():
    """A file without a ``main`` is a helper module; a new one needs the refusal below (the list is checked so that
    this test cannot pass on an empty list)."""
    assert HELPER_MODULES == ["multi_report.py", "multi_runs.py", "parallel.py", "protocol.py", "ratio_spread.py",
                              "script_exit.py", "speed_timers.py", "table_report.py", "table_runs.py"]


@pytest.mark.parametrize("name", HELPER_MODULES)
def test_a_helper_module_run_as_a_script_names_the_script_to_run(name):
    """``python benchmarks/protocol.py --help`` printed nothing and exited 0."""
    import subprocess

    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), "--help"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    err = done.stderr.strip()
    assert err.startswith(f"error: {name} is a module of the benchmark scripts, not a script: run python benchmarks/")
    assert err.endswith(".py --help") and "\n" not in err
