"""``adaanchor demo``: ``--steps`` and ``--budget-minutes`` are exclusive and validated before anything runs."""

from __future__ import annotations

import pytest

from adaanchor.cli import main
from adaanchor.demo import run_demo
from adaanchor.errors import AdaAnchorError


@pytest.mark.parametrize(
    "args,text",
    [
        (["--steps", "0"], "error: demo: --steps must be an integer >= 1, got 0"),
        (["--steps", "-3"], "error: demo: --steps must be an integer >= 1, got -3"),
        (["--budget-minutes", "0"], "error: demo: --budget-minutes must be a finite number > 0, got 0.0"),
        (["--budget-minutes", "-1"], "error: demo: --budget-minutes must be a finite number > 0, got -1.0"),
        (["--budget-minutes", "inf"], "error: demo: --budget-minutes must be a finite number > 0, got inf"),
        (["--budget-minutes", "nan"], "error: demo: --budget-minutes must be a finite number > 0, got nan"),
    ],
)
def test_bad_demo_length_is_one_line_and_exit_2(args, text, tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert err == text
    assert not (tmp_path / "demo").exists()  # refused before anything was written


@pytest.mark.parametrize("args,text", [(["--steps", "5", "--budget-minutes", "1"], "not allowed with argument --steps"),
                                       (["--steps", "2.5"], "invalid int value: '2.5'")])
def test_demo_usage_errors_exit_2(args, text, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["demo", "--out", str(tmp_path / "demo"), *args])
    assert e.value.code == 2
    assert text in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize(
    "kw,text",
    [
        ({"steps": 0}, "--steps must be an integer >= 1, got 0"),
        ({"steps": True}, "--steps must be an integer >= 1"),
        ({"budget_minutes": 0.0}, "--budget-minutes must be a finite number > 0"),
        ({"budget_minutes": float("nan")}, "--budget-minutes must be a finite number > 0"),
        ({"steps": 10, "budget_minutes": 1.0}, "give --steps or --budget-minutes, not both"),
    ],
)
def test_run_demo_validates_its_length(kw, text, tmp_path):
    with pytest.raises(AdaAnchorError, match=text):
        run_demo(out_dir=tmp_path / "demo", **kw)
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("task", ["bottomup", "centre"])
@pytest.mark.parametrize(
    "args,text",
    [
        (["--steps", "0"], "error: demo: --steps must be an integer >= 1, got 0"),
        (["--steps", "-1"], "error: demo: --steps must be an integer >= 1, got -1"),
    ],
)
def test_bad_multi_person_demo_args_are_one_line(task, args, text, tmp_path, capsys):
    """--steps 0 ran the default 1,200 steps; -1 and a negative seed failed with a traceback after the benchmark."""
    assert main(["demo", "--task", task, "--out", str(tmp_path / "demo"), *args]) == 2
    assert capsys.readouterr().err.strip() == text
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("task", ["single", "bottomup", "centre"])
def test_a_bad_demo_seed_is_argparse_s_error_naming_the_option(task, tmp_path, capsys):
    """It was a config-key error ('seed'), said after the output folder was made (an empty folder left behind)."""
    with pytest.raises(SystemExit) as e:
        main(["demo", "--task", task, "--out", str(tmp_path / "demo"), "--seed", "-1"])
    assert e.value.code == 2 and "argument --seed: must be an integer >= 0, got -1" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()


@pytest.mark.parametrize("task", ["bottomup", "centre"])
def test_multi_person_demo_output_folder_that_is_a_file(task, tmp_path, capsys):
    (tmp_path / "f").write_text("")
    assert main(["demo", "--task", task, "--out", str(tmp_path / "f" / "demo"), "--steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {tmp_path / 'f' / 'demo'}: cannot create the output folder") and "\n" not in err


def test_the_report_states_the_input_size_of_the_run(tmp_path, capsys):
    """results.md said "72x96 images" whatever data.input_size the demo ran with."""
    from adaanchor.demo import write_report

    row = {"vis_error": 1.0, "inv_error": 2.0, "inv_error_in": 1.5, "inv_error_out": 3.0, "vis_score": 0.5,
           "inv_score": 0.4, "score_auc": 0.7, "ap": 0.3, "pck": {"0.05": 0.5}}
    doc = {"methods": {"heatmap": row}, "dataset": {"val": {}}, "wall_seconds": 1.0,
           "config": {"steps_per_method": 2, "data": {"input_size": [96, 128]}},
           "machine": {"platform": "p", "torch_threads": 2}}
    write_report(doc, tmp_path, 0, None, {})
    md = (tmp_path / "results.md").read_text()
    assert "(96x128 images)" in md and "72x96" not in md


@pytest.mark.parametrize("item, sets", [("train.max_steps=5", "--steps or --budget-minutes"), ("out_dir=/x", "--out"),
                                        ("strategy.name=heatmap", "the five methods are the demo"),
                                        ("seed=3", "--seed"),
                                        ("resume=auto", "each run is afresh, so that one table holds one budget: "
                                                        "run the demo again to redo it"),
                                        # each method stopped at the limit under a table headed by --steps
                                        ("train.time_limit_s=0.05", "--steps or --budget-minutes: one budget for "
                                                                    "every method"),
                                        ("train.epochs=1", "--steps: the demo trains a number of steps"),
                                        ("task=bottomup", "--task bottomup or --task centre")])
def test_a_key_the_demo_sets_itself_is_refused(item, sets, tmp_path, capsys):
    """These were overwritten for every method without a word (five methods trained 2 steps into --out)."""
    assert main(["demo", "--steps", "2", "--out", str(tmp_path / "demo"), item]) == 2
    key = item.split("=")[0]
    assert capsys.readouterr().err.strip() == (f"error: demo: {item} is set by the demo itself ({key}: {sets}); "
                                               "adaanchor train takes it")
    assert not (tmp_path / "demo").exists()


def test_a_demo_stopped_by_a_signal_advises_running_the_demo_again(tmp_path, monkeypatch):
    """The stop said "continue with resume=auto": following it, a run with another --steps kept the checkpoint's
    198-step model in a table headed "1 steps per method"."""
    import adaanchor.demo as demo
    from adaanchor.engine.saving import TrainingError

    def stopped(cfg):
        err = TrainingError("stopped by SIGTERM after step 198; saved x/last.pt: continue with resume=auto")
        err.signal_stop = True
        raise err

    monkeypatch.setattr(demo, "train", stopped)
    cfg = demo._method_cfg([], "regression", tmp_path, 400)
    with pytest.raises(AdaAnchorError) as e:
        demo.train_demo_method(cfg)
    assert str(e.value) == ("demo: regression stopped by SIGTERM after step 198; the demo trains every method afresh "
                            "and does not resume: run the same demo command again to redo it")
    assert "resume=auto" not in str(e.value)


def test_one_step_is_singular_in_the_report(tmp_path, capsys):
    """The table was headed "1 steps per method"."""
    from adaanchor.demo import write_report

    row = {"vis_error": 1.0, "inv_error": 2.0, "inv_error_in": 1.5, "inv_error_out": 3.0, "vis_score": 0.5,
           "inv_score": 0.4, "score_auc": 0.7, "ap": 0.3, "pck": {"0.05": 0.5}}
    doc = {"methods": {"heatmap": row}, "dataset": {"val": {}}, "wall_seconds": 1.0,
           "config": {"steps_per_method": 1, "data": {"input_size": [72, 96]}},
           "machine": {"platform": "p", "torch_threads": 2}}
    write_report(doc, tmp_path, 0, None, {})
    md = (tmp_path / "results.md").read_text()
    assert "# Occlusion benchmark: 1 step per method" in md and "1 steps" not in md + capsys.readouterr().out


def test_a_section_given_whole_is_checked_key_by_key(tmp_path, capsys):
    """``train={max_steps: 1}`` passed the check and was dropped without a word (the demo trained --steps)."""
    item = "train={max_steps: 1, lr: 0.01}"
    assert main(["demo", "--steps", "2", "--out", str(tmp_path / "demo"), item]) == 2
    assert capsys.readouterr().err.strip() == (f"error: demo: {item} is set by the demo itself (train.max_steps: "
                                               "--steps or --budget-minutes); adaanchor train takes it")
