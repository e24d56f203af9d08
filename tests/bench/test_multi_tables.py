"""The multi-person paper tables: table5 runs end to end at a tiny size through paper_tables.py, writes its files
and keys, and a finished run is evaluated again, not retrained."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

from adaanchor.errors import AdaAnchorError

REPO = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("paper_tables", REPO / "benchmarks" / "paper_tables.py")
paper_tables = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(paper_tables)


@pytest.mark.slow
def test_table5_end_to_end(tmp_path):
    out = tmp_path / "results"
    argv = ["table5", "--split", "test", "--steps", "2", "--seeds", "0", "--n-train", "8", "--n-val", "4", "--width", "8",
            "--methods", "heatmap", "fixanchor", "adaanchor", "--out", str(out), "--data-cache", str(tmp_path / "cache")]
    assert paper_tables.main(argv) == 0
    for ext in ("md", "json", "png"):
        assert (out / f"table5.{ext}").is_file()
    doc = json.loads((out / "table5.json").read_text())
    assert doc["table"] == "table5" and doc["seeds"] == [0] and doc["task"] == "ae"
    bench = doc["benches"]["crowd"]
    assert set(bench["summary"]) == {"Heatmap", "FixAnchor", "AdaAnchor"} and bench["steps"] == 2
    s = bench["summary"]["AdaAnchor"]
    for key in ("recall", "ap", "ap50", "ap75", "ar", "oracle.ap", "ap@0.1", "recall@0.5", "oracle.ap@0.01"):
        assert key in s and len(s[key]) == 2  # (mean, std)
    assert set(bench["paired"]) == {"FixAnchor", "Heatmap"} and "AdaAnchor" in bench["paired"]["FixAnchor"]
    assert bench["paired"]["FixAnchor"]["AdaAnchor"]["ap"]["n"] == 1
    row = bench["runs"]["FixAnchor"][0]
    assert row["seed"] == 0 and set(row["ap_by_gamma"]) == {"0.01", "0.05", "0.1", "0.2", "0.3", "0.5"}
    md = (out / "table5.md").read_text()
    assert "| AdaAnchor | oracle tags |" in md and "Paired differences against FixAnchor" in md
    run = out / "runs" / "table5" / "adaanchor_s0"
    weights, record = run / "model.pt", json.loads((run / "run.json").read_text())
    assert weights.is_file() and record["settings"]["steps"] == 2 and "ap" in record["metrics"]
    # again: the finished runs are evaluated, not retrained
    stamp = weights.stat().st_mtime_ns
    assert paper_tables.main(argv) == 0
    assert weights.stat().st_mtime_ns == stamp
    again = json.loads((run / "run.json").read_text())
    assert again["train"] == record["train"] and again["metrics"]["ap"] == pytest.approx(record["metrics"]["ap"])


@pytest.mark.slow
def test_table5_dev_split_has_its_own_instance_and_a_convergence_check(tmp_path):
    """--split dev (the default): the crowd benchmark's dev instance (generator seed 1, its own cache), run folders
    and files marked dev, the weights at 80% and 90% of the steps evaluated into eval_log.csv, LocalAnchor listed."""
    out = tmp_path / "results"
    argv = ["table5", "--steps", "5", "--seeds", "0", "--n-train", "8", "--n-val", "4", "--width", "8",
            "--methods", "fixanchor", "localanchor", "--out", str(out), "--data-cache", str(tmp_path / "cache")]
    assert paper_tables.main(argv) == 0
    doc = json.loads((out / "table5_dev.json").read_text())
    assert not (out / "table5.json").exists() and doc["split"] == "dev"
    bench = doc["benches"]["crowd"]
    assert bench["benchmark"]["seed"] == paper_tables.DEV_SYNTH_SEED and bench["split"] == "dev"
    assert set(bench["summary"]) == {"FixAnchor", "LocalAnchor"}
    manifest = json.loads((tmp_path / "cache" / "crowd-8-4-dev" / "manifest.json").read_text())
    assert manifest["config"]["seed"] == paper_tables.DEV_SYNTH_SEED
    run = out / "runs" / "table5" / "localanchor_dev_s0"
    log = (run / "eval_log.csv").read_text().strip().splitlines()
    assert log[0] == "step,ap,oracle_ap,recall" and [r.split(",")[0] for r in log[1:]] == ["4", "5"]
    conv = bench["runs"]["LocalAnchor"][0]["convergence"]
    assert conv["key"] == "oracle_ap" and set(conv) >= {"rel_change_last20", "rel_change_last10", "converged"}
    assert "Convergence (dev split)" in (out / "table5_dev.md").read_text()
    # Evaluated again (not retrained): the snapshot rows are kept.
    assert paper_tables.main(argv) == 0
    assert (run / "eval_log.csv").read_text().strip().splitlines() == log
    # The tag and detection diagnostics read the same runs (nothing trained) and write their table.
    diag = importlib.util.spec_from_file_location("tag_diagnostics", REPO / "benchmarks" / "tag_diagnostics.py")
    tag_diagnostics = importlib.util.module_from_spec(diag)
    diag.loader.exec_module(tag_diagnostics)
    assert tag_diagnostics.main(["--methods", "fixanchor", "localanchor", "heatmap", "--n-train", "8", "--n-val", "4",
                                 "--width", "8", "--out", str(out), "--data-cache", str(tmp_path / "cache")]) == 0
    diag_doc = json.loads((out / "tag_diagnostics_crowd_dev.json").read_text())
    assert set(diag_doc["runs"]) == {"FixAnchor", "LocalAnchor"}  # no heatmap run was made: skipped
    row = diag_doc["runs"]["LocalAnchor"][0]
    assert set(tag_diagnostics.KEYS) <= set(row) and row["people_per_image"] > 0
    assert "| LocalAnchor | 1 |" in (out / "tag_diagnostics_crowd_dev.md").read_text()


class _Stop(Exception):
    pass


@pytest.mark.slow
def test_a_run_stopped_midway_resumes_with_its_snapshots(tmp_path, monkeypatch, capsys):
    """A dev run killed after its saved state of step 4 (and the snapshot at 80% of the steps) continues from
    there: the same weights and convergence log as a run that was not stopped, and the partial files go."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # where paper_tables finds it
    mt = importlib.import_module("multi_tables")
    monkeypatch.setattr(importlib.import_module("multi_runs"), "SAVE_EVERY", 2)

    def argv(out):
        return ["table5", "--steps", "5", "--seeds", "0", "--n-train", "8", "--n-val", "4", "--width", "8",
                "--methods", "adaanchor", "--out", str(out), "--data-cache", str(tmp_path / "cache")]

    assert paper_tables.main(argv(tmp_path / "full")) == 0
    task = mt.TASKS["ae"]

    def crashing(*args, on_step, **kwargs):
        def step(s):
            on_step(s)
            if s == 5:
                raise _Stop

        return task.train(*args, on_step=step, **kwargs)

    monkeypatch.setitem(mt.TASKS, "ae", task._replace(train=crashing))
    with pytest.raises(_Stop):
        paper_tables.main(argv(tmp_path / "cut"))
    run = tmp_path / "cut" / "runs" / "table5" / "adaanchor_dev_s0"
    assert {f.name for f in run.iterdir()} >= {"partial.pt", "partial.json", "partial_snapshot_4.pt"}
    monkeypatch.setitem(mt.TASKS, "ae", task)
    capsys.readouterr()
    assert paper_tables.main(argv(tmp_path / "cut")) == 0
    assert f"table5/adaanchor_dev_s0: resuming from its saved training state ({run / 'partial.pt'})" \
        in capsys.readouterr().out  # it said nothing of it
    assert not list(run.glob("partial*"))
    ref = tmp_path / "full" / "runs" / "table5" / "adaanchor_dev_s0"
    got, want = torch.load(run / "model.pt"), torch.load(ref / "model.pt")
    for k, v in want.items():
        torch.testing.assert_close(got[k], v, rtol=1e-5, atol=1e-6, msg=k)
    assert (run / "eval_log.csv").read_text().splitlines()[1:] == (ref / "eval_log.csv").read_text().splitlines()[1:]


@pytest.mark.slow
def test_a_run_stopped_during_its_evaluation_is_not_trained_again(tmp_path, monkeypatch, capsys):
    """Stopped after its training, during the evaluation: run.json and the snapshots were written only at the end
    and the training state was gone, so the run was trained again from step 0. Now it is evaluated only, with the
    same convergence log as a run that was not stopped, and the partial files go."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    mt, mr = importlib.import_module("multi_tables"), importlib.import_module("multi_runs")

    def argv(out):
        return ["table5", "--steps", "5", "--seeds", "0", "--n-train", "8", "--n-val", "4", "--width", "8",
                "--methods", "fixanchor", "--out", str(out), "--data-cache", str(tmp_path / "cache")]

    assert paper_tables.main(argv(tmp_path / "full")) == 0
    evaluate, task = mr.evaluate_run, mt.TASKS["ae"]

    def stop(*args, **kwargs):
        raise _Stop

    monkeypatch.setattr(mr, "evaluate_run", stop)
    with pytest.raises(_Stop):
        paper_tables.main(argv(tmp_path / "cut"))
    run = tmp_path / "cut" / "runs" / "table5" / "fixanchor_dev_s0"
    assert json.loads((run / "run.json").read_text())["settings"]["steps"] == 5 and (run / "model.pt").is_file()
    monkeypatch.setattr(mr, "evaluate_run", evaluate)

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setitem(mt.TASKS, "ae", task._replace(train=no_training))
    capsys.readouterr()
    assert paper_tables.main(argv(tmp_path / "cut")) == 0
    assert "table5/fixanchor_dev_s0: trained before, evaluating it again" in capsys.readouterr().out
    assert not list(run.glob("partial*"))
    ref = tmp_path / "full" / "runs" / "table5" / "fixanchor_dev_s0"
    assert (run / "eval_log.csv").read_text() == (ref / "eval_log.csv").read_text()
    assert "metrics" in json.loads((run / "run.json").read_text())


@pytest.mark.slow
def test_a_finished_run_of_other_settings_is_not_trained_over(tmp_path, capsys):
    """The run folder is named by table, method and seed: --steps 600 into the folder of the 3,600-step runs
    trained over them. It is refused, naming the settings that differ, and the run is left as it was."""
    def argv(steps):
        return ["table5", "--split", "test", "--steps", str(steps), "--seeds", "0", "--n-train", "8", "--n-val", "4",
                "--width", "8", "--methods", "heatmap", "--out", str(tmp_path / "out"), "--data-cache",
                str(tmp_path / "cache")]

    assert paper_tables.main(argv(3)) == 0
    run = tmp_path / "out" / "runs" / "table5" / "heatmap_s0"
    record, stamp = (run / "run.json").read_text(), (run / "model.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert paper_tables.main(argv(2)) == 2  # exit 1 with no "error:" before
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "heatmap_s0 holds a finished run of other settings (steps 3, not 2)" in err
    assert (run / "run.json").read_text() == record and (run / "model.pt").stat().st_mtime_ns == stamp
    # A record that does not read beside the weights: the run was trained again over them (no settings) or the
    # table stopped with a traceback (cut short, no train record).
    for text, says in (('{"train": {}}', "holds no 'settings'"), (record[:40], "does not read (JSONDecodeError)"),
                       (json.dumps({"settings": json.loads(record)["settings"]}), "holds no 'train' record")):
        (run / "run.json").write_text(text)
        capsys.readouterr()
        assert paper_tables.main(argv(3)) == 2
        err = capsys.readouterr().err.strip()
        assert f"{run / 'run.json'} {says}, beside the finished weights model.pt: restore it" in err
        assert (run / "model.pt").stat().st_mtime_ns == stamp


def test_task_options_reach_the_strategy_and_the_run_settings(tmp_path):
    """--task-option push=hinge: merged over the benchmark's own task options, the tag loss is the hinge's, and
    the option is part of the run's settings (a run of other options is not taken for it)."""
    import multi_tables as mt  # on sys.path through paper_tables

    assert mt.parse_task_options(["push=hinge", "gamma=0.2"]) == {"push": "hinge", "gamma": 0.2}
    with pytest.raises(AdaAnchorError, match="KEY=VALUE"):
        mt.parse_task_options(["push"])
    crowd = mt.bench_data("crowd", tmp_path / "cache", 4, 2, "test", {"ae": {"push": "hinge"}})
    assert crowd["task_cfg"]["ae"] == {"push": "hinge"} and mt.BENCHES["crowd"]["task_cfg"] == {}
    _, strategy = mt.build_run("ae", "adaanchor", 0, 8, crowd)
    assert strategy.losses["tags"][0] == "ae_hinge"
    # Merged over a benchmark's own options: crowd faces sets max_candidates (its images need ytfaces-68).
    from adaanchor.bench import crowd_faces as cf

    if not Path(cf.FACES_ROOT).is_dir():
        pytest.skip(f"ytfaces-68 not available: {cf.FACES_ROOT} is absent")
    data = mt.bench_data("faces", tmp_path / "cache", 4, 2, "test", {"ae": {"push": "hinge"}})
    assert data["task_cfg"]["ae"] == {"max_candidates": 10, "push": "hinge"}
    assert mt.BENCHES["faces"]["task_cfg"]["ae"] == {"max_candidates": 10}  # the benchmark's own are untouched
    _, strategy = mt.build_run("ae", "adaanchor", 0, 8, data)
    assert strategy.losses["tags"][0] == "ae_hinge" and strategy.options["max_candidates"] == 10


@pytest.mark.parametrize("task", ["ae", "centre"])
def test_the_loss_options_reach_the_model_and_the_training(tmp_path, task):
    """--strategy-option conf_prior=... / focal_gamma=... passed the option check and then had no effect: the AE
    model's confidence head kept the prior 0.1 and every run trained with train_steps' own gamma 2.0."""
    import math

    import multi_runs as mr
    import multi_tables as mt

    crowd = mt.bench_data("crowd", tmp_path / "cache", 4, 2, "test", None, {"conf_prior": 0.3, "focal_gamma": 1.0})
    model, strategy = mt.build_run(task, "adaanchor", 0, 8, crowd)
    bias = model.heads["conf"].bias
    assert torch.allclose(bias, torch.full_like(bias, -math.log(0.7 / 0.3)))
    assert mr.loss_options(strategy) == {"focal_gamma": 1.0}
    _, heatmap = mt.build_run(task, "heatmap", 0, 8, crowd)
    assert mr.loss_options(heatmap) == {}  # no focal loss: train_steps' own default is not passed over


@pytest.mark.slow
def test_jobs_give_the_rows_of_the_sequential_loop(tmp_path):
    """--jobs 2 trains the runs in two worker processes: the same rows (metrics to the digit, as each run is seeded
    and single-threaded) and the same files as --jobs 1."""
    def argv(out, jobs):
        return ["table5", "--split", "test", "--steps", "3", "--seeds", "0", "1", "--n-train", "8", "--n-val", "4",
                "--width", "8", "--methods", "heatmap", "fixanchor", "--out", str(out), "--data-cache",
                str(tmp_path / "cache"), "--jobs", str(jobs)]

    assert paper_tables.main(argv(tmp_path / "seq", 1)) == 0
    assert paper_tables.main(argv(tmp_path / "par", 2)) == 0
    seq, par = (json.loads((tmp_path / d / "table5.json").read_text())["benches"]["crowd"] for d in ("seq", "par"))
    for method in ("Heatmap", "FixAnchor"):
        assert [r["seed"] for r in par["runs"][method]] == [0, 1]
        for a, b in zip(seq["runs"][method], par["runs"][method], strict=True):
            a, b = ({k: v for k, v in r.items() if k not in ("train_s", "eval_s")} for r in (a, b))
            assert a == b
    assert (tmp_path / "par" / "runs" / "table5" / "fixanchor_s1" / "model.pt").is_file()


def test_run_parallel_names_the_failed_run_and_checks_jobs():
    """The generic runner: results by key; a failing call stops the table with its key named; jobs >= 1."""
    import math

    from parallel import run_parallel  # on sys.path through paper_tables

    assert run_parallel(math.sqrt, {"a": (4.0,), "b": (9.0,)}, 2) == {"a": 2.0, "b": 3.0}
    assert run_parallel(math.sqrt, {}, 2) == {}
    with pytest.raises(SystemExit, match=r"run b failed: ValueError"):
        run_parallel(math.sqrt, {"a": (4.0,), "b": (-1.0,)}, 2)
    with pytest.raises(ValueError, match="at least 1"):
        run_parallel(math.sqrt, {"a": (4.0,)}, 0)


def test_fig5_is_drawn_from_the_files_of_table5_and_table6(tmp_path, capsys):
    """fig5 trains nothing: its sections are those of table5.json and table6.json as written (the committed
    evaluation-split files here); a missing file names the command that writes it; run options are refused."""
    import shutil

    out = tmp_path / "results"
    out.mkdir()
    assert paper_tables.main(["fig5", "--split", "test", "--out", str(out)]) == 2
    assert re.search(r"^error: .*table5\.json.*paper_tables\.py table5 --split test", capsys.readouterr().err)
    for name in ("table5.json", "table6.json"):
        shutil.copy(REPO / "benchmarks" / "results" / name, out / name)
    assert paper_tables.main(["fig5", "--split", "test", "--out", str(out)]) == 0
    doc = json.loads((out / "fig5.json").read_text())
    t5, t6 = (json.loads((out / f"table{n}.json").read_text()) for n in (5, 6))
    assert doc["benches"] == {"crowd": t5["benches"]["crowd"], "faces": t6["benches"]["faces"]}
    assert doc["split"] == "test" and set(doc["methods"]) == set(t5["methods"]) | set(t6["methods"])
    assert [s.split(" ")[0] for s in doc["sources"]] == ["table5.json", "table6.json"]
    md = (out / "fig5.md").read_text()
    assert "## crowd figures (ae)" in md and "## crowd faces (ae)" in md and "Drawn from table5.json" in md
    assert (out / "fig5.png").stat().st_size > 0
    with pytest.raises(SystemExit):  # argparse's error: fig5 has no runs to seed
        paper_tables.main(["fig5", "--seeds", "0", "--out", str(out)])
    assert "fig5 trains nothing" in capsys.readouterr().err
    # Tables trained with other settings: fig5 named table5's (width 24) for both.
    t6["train"] = {**t6["train"], "tiny_width": 16}
    (out / "table6.json").write_text(json.dumps(t6))
    assert paper_tables.main(["fig5", "--split", "test", "--out", str(out)]) == 2
    assert "fig5 draws on tables trained with other settings (table5: " in capsys.readouterr().err
    assert paper_tables.main(["fig5", "--out", str(out)]) == 2  # the dev split reads the dev files
    assert "table5_dev.json" in capsys.readouterr().err


def test_a_run_prints_its_progress_each_tenth(capsys):
    """One line per tenth of the run (train_steps logs every 25 steps), naming the run, with the time left."""
    import multi_runs  # on sys.path through paper_tables

    log = multi_runs.progress_printer("table6/heatmap_s0", 200)
    for step in range(25, 201, 25):
        log(step, {"loss": 1.0, "time_s": step * 0.3})
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 8  # each logged step of 25 passes another tenth of 200 steps
    assert lines[0] == "  table6/heatmap_s0: step 25/200 (12%), 0.1 min, about 0.9 min left"
    assert lines[-1].endswith("step 200/200 (100%), 1.0 min, about 0.0 min left")
    log = multi_runs.progress_printer("r", 1000)
    for step in range(25, 1001, 25):
        log(step, {"time_s": float(step)})
    assert [ln.split("step ")[1].split("/")[0] for ln in capsys.readouterr().out.splitlines()] == [
        str(s) for s in range(100, 1001, 100)]


def test_the_centre_tables_plot_names_its_grouping_centres(monkeypatch, tmp_path):
    """Poses of the centre task are grouped by their located centres: the sweep's curves say so, not 'learned
    tags' (which the associative-embedding tables group by)."""
    import multi_report  # on sys.path through paper_tables

    seen = {}
    monkeypatch.setattr(multi_report, "plot_gamma_sweep", lambda curves, path, title: seen.update(curves=curves, title=title))
    summary = {"FixAnchor": {"ap@0.1": (17.6, 0.3), "recall@0.1": (0.52, 0.01)}}
    doc = {"table": "table5", "benches": {"crowd": {"title": "crowd figures", "summary": summary}}}
    for task, label in (("centre", "FixAnchor, centres"), ("ae", "FixAnchor, learned tags")):
        multi_report.sweep_plot({**doc, "task": task}, tmp_path / "x.png")
        assert list(seen["curves"]) == [label]
        assert seen["title"].endswith("(person centres)") == (task == "centre")


def test_strategy_options_reach_the_strategy_the_run_settings_and_the_table(tmp_path):
    """--strategy-option local_about=clamped: every run's strategy gets it beside its method's name, it is part of the
    run's settings only when given (the runs of the defaults keep theirs), the table's title names it, and
    ``name`` is refused (the method chooses it)."""
    import multi_report
    import multi_runs
    import multi_tables as mt

    crowd = mt.bench_data("crowd", tmp_path / "cache", 4, 2, "test", None, {"local_about": "clamped"})
    _, strategy = mt.build_run("ae", "fixanchor", 0, 8, crowd)
    assert strategy.inner.local_about == "clamped" and strategy.inner.assign == "fixed"
    default = mt.bench_data("crowd", tmp_path / "cache", 4, 2, "test")
    assert default["strategy_cfg"] == {} and mt.build_run("ae", "fixanchor", 0, 8, default)[1].inner.local_about == "target"

    seen = {}

    def stop(settings, *a, **k):  # the settings of a run, caught where its folder's files are set up
        seen["settings"] = settings
        raise RuntimeError("stop")

    for data in (crowd, default):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(multi_runs, "_partial_files", lambda run_dir, settings, marks: stop(settings))
            with pytest.raises(RuntimeError):
                multi_runs.run_one("ae", "fixanchor", 0, 2, data, tmp_path / "run", 8)
        assert seen["settings"].get("strategy_cfg") == (data["strategy_cfg"] or None)

    doc = {"title": "t", "task": "ae", "steps": 2, "seeds": [0], "summary": {}, "paired": {},
           "task_options": {"push": "hinge"}, "strategy_options": {"local_about": "clamped"}}
    assert "options push=hinge, strategy.local_about=clamped" in multi_report._bench_lines(doc)[0]
    with pytest.raises(SystemExit):
        mt.main(["table5", "--strategy-option", "name=heatmap", "--out", str(tmp_path / "o")])
    with pytest.raises(AdaAnchorError, match="--strategy-option expects KEY=VALUE"):
        mt.parse_task_options(["local_about"], "--strategy-option")


def test_run_parallel_starts_no_queued_run_after_a_ctrl_c(tmp_path):
    """Every queued run trained to its end after a Ctrl-C (111 s to stop a tiny --jobs 2 table, hours at the
    protocol's budgets), and with the queue cancelled the runs the executor had handed out ahead still ran; now the
    running runs are asked to stop (SIGTERM, which a training takes as a stop) and no other starts."""
    import os
    import signal
    import threading
    import time

    from parallel import run_parallel
    from parallel_jobs import trainlike

    log = tmp_path / "log"
    # A Ctrl-C is a KeyboardInterrupt here too (pytest-xdist's workers ignore SIGINT)
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    try:
        timer.start()
        t0 = time.time()
        with pytest.raises(KeyboardInterrupt):
            run_parallel(trainlike, {i: (4.0, str(log)) for i in range(6)}, 2)
    finally:
        timer.cancel()  # a failure before it fired would have interrupted the test run itself
        signal.signal(signal.SIGINT, old)
    assert time.time() - t0 < 4.0  # one 4 s run more would be 5.5 s; all six, 12 s
    assert log.read_text().count("start") == 2


@pytest.mark.parametrize("argv,says", [
    (["--strategy-option", "local_abut=target"], "unknown config key 'strategy.local_abut'. Did you mean "
                                                  "'strategy.local_about'?"),
    (["--task-option", "pushh=hinge"], "unknown config key 'bottomup.pushh'. Did you mean 'bottomup.push'?"),
    (["--strategy-option", "topk=0"], "config key 'strategy.topk': the value must be >= 1, got 0"),
    (["--task", "centre", "--task-option", "gama=0.2"], "unknown config key 'centre.gama'"),
])
def test_an_unknown_or_bad_option_is_refused_before_any_work(tmp_path, capsys, argv, says):
    """A mistyped --strategy-option was passed over by the runs and listed as applied in the table's title; a
    mistyped --task-option was a traceback after the data was generated."""
    import multi_tables as mt

    with pytest.raises(SystemExit) as e:
        mt.main(["table5", *argv, "--out", str(tmp_path / "o"), "--data-cache", str(tmp_path / "cache")])
    assert e.value.code == 2 and says in capsys.readouterr().err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "o").exists()


def test_an_output_folder_under_a_file_is_refused_before_any_work(tmp_path, capsys):
    import multi_tables as mt

    (tmp_path / "afile").write_text("x")
    with pytest.raises(SystemExit):
        mt.main(["table5", "--out", str(tmp_path / "afile"), "--data-cache", str(tmp_path / "cache")])
    assert f"--out {tmp_path / 'afile'}: {tmp_path / 'afile'} is a file, not a folder" in capsys.readouterr().err
    assert not (tmp_path / "cache").exists()


def test_runs_trained_by_other_code_are_named_in_the_table():
    """A reused run folder was evaluated again and reported under the current commit, without a word; the committed
    multi-person tables record no training commit at all."""
    import multi_report
    import paired_tables

    doc = {"commit": "abc1234def (clean)", "benches": {"crowd": {"runs": {
        "FixAnchor": [{"seed": 0, "commit": "abc1234def"}, {"seed": 1, "commit": "56e23af000"}],
        "AdaAnchor": [{"seed": 0}, {"seed": 1, "commit": "unknown"}]}}}}
    lines = multi_report.trained_by_lines(doc)
    assert "Trained by other commits than this one (reused runs): 1 of 4: crowd FixAnchor s1 (56e23af00)." in lines
    assert ("No training commit recorded for 2 of 4 runs (trained before it was recorded): crowd AdaAnchor s0, "
            "crowd AdaAnchor s1.") in lines
    assert paired_tables.trained_commits(doc, {"FixAnchor", "AdaAnchor"}) == {"FixAnchor": ["56e23af", "abc1234"],
                                                                              "AdaAnchor": ["unknown"]}
    for rows in doc["benches"]["crowd"]["runs"].values():
        for r in rows:
            r["commit"] = "abc1234def"
    assert multi_report.trained_by_lines(doc) == [] and paired_tables.trained_commits(doc, {"FixAnchor"}) == {}


def test_convergence_that_could_not_be_checked_is_said_so():
    """'N/A / N/A, N/A / N/A (0 of 2 converged)' read as two runs that did not converge."""
    import multi_report

    unchecked = {"key": "ap", "rel_change_last20": None, "rel_change_last10": None, "converged": None}
    done = {"key": "ap", "rel_change_last20": 0.01, "rel_change_last10": 0.005, "converged": True}
    for rows, says in (([unchecked, unchecked], "(not checked)"), ([done, unchecked], "(1 of 1 checked converged, "
                                                                                      "1 not checked)"),
                       ([done, done], "(2 of 2 converged)")):
        lines = multi_report._convergence_lines({"runs": {"FixAnchor": [{"convergence": c} for c in rows]}})
        assert lines[-1].startswith("- FixAnchor: ") and lines[-1].endswith(says)
