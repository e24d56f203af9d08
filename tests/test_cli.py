"""The command line, called in-process: the documented commands work and bad input gives one clear line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adaanchor.cli import main
from adaanchor.demo import DEMO_CONFIG, METHODS, run_demo


def test_synth_writes_coco_json(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "b"), "n_train=4", "n_val=2", "seed=3"]) == 0
    data = json.loads((tmp_path / "b" / "train.json").read_text())
    assert len(data["images"]) == 4 and len(data["annotations"]) == 4
    assert "invisible" in capsys.readouterr().out


def test_train_then_eval_writes_json(tiny_overrides, tmp_path, capsys):
    assert main(["train", str(DEMO_CONFIG), *tiny_overrides, "strategy.name=fixanchor", "train.max_steps=2"]) == 0
    run = next(o.split("=", 1)[1] for o in tiny_overrides if o.startswith("out_dir="))
    out = tmp_path / "m.json"
    assert main(["eval", run, "--json", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["checkpoint"].endswith("last.pt") or m["checkpoint"].endswith("best.pt")
    assert m["vis_error"] > 0 and "0.05" in m["pck"] and m["flip_test"] is False
    assert main(["eval", run, "--device", "cpu", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["vis_error"] == m["vis_error"]
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:  # a usage error naming --device, as argparse's others
        main(["eval", run, "--device", "tpu9"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "argument --device: device 'tpu9'" in err and "Traceback" not in err


def test_demo_builds_each_method_from_the_file_so_presets_apply(tmp_path, capsys):
    from adaanchor.demo import _method_cfg

    cfg = _method_cfg(["seed=0"], "localanchor", tmp_path, 10)
    assert cfg.strategy.prior == "instance" and cfg.strategy.prior_min_cells == 3.0
    assert cfg.train.max_steps == 10 and cfg.train.lr_steps == [8] and cfg.out_dir == str(tmp_path / "localanchor")
    assert "replaces" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["train", str(DEMO_CONFIG), "strategy.topkk=3"], "Did you mean 'strategy.topk'"),
        (["train", str(DEMO_CONFIG), "strategy.name=heatmapp"], "Valid: adaanchor, alignanchor, fixanchor, heatmap, localanchor, regression"),
        (["train", "/no/such/config.yaml"], "/no/such/config.yaml: config file not found. Packaged configs, usable "
                                            "by name: bottomup_crowd, custom, demo, coco/adaanchor_res50_256x192,"),
        (["train", "dmeo"], "dmeo: config file not found. Did you mean 'demo'? Packaged configs"),
        (["train", "coco/adaanchor_res50"], "Did you mean 'coco/adaanchor_res50_256x192'?"),
        (["eval", "/no/such/run"], "/no/such/run: no such run directory"),
        (["train", str(DEMO_CONFIG), "train.lr=fast"], "'train.lr' must be float"),
        (["eval", str(DEMO_CONFIG), "ckpt=/no/such.pt"], "/no/such.pt: checkpoint not found"),
    ],
)
def test_bad_input_is_one_clear_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv", [["train", str(DEMO_CONFIG), "strategy.topkk=3"], ["train", "dmeo"], ["train"]])
def test_a_config_error_under_torchrun_is_printed_by_rank_0_alone(argv, capsys, monkeypatch):
    """Every rank reads the same arguments and files and raises the same config error: it was printed once per
    rank (eight identical lines on eight GPUs). Every rank still exits with status 2."""
    monkeypatch.setenv("RANK", "1")
    assert main(argv) == 2
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert main(argv) == 2
    assert capsys.readouterr().err.startswith("error: ")


@pytest.mark.slow
def test_demo_end_to_end(tiny_overrides, tmp_path):
    out = tmp_path / "demo"
    over = [o for o in tiny_overrides if not o.startswith("out_dir=")]
    doc = run_demo(out, steps=3, overrides=over)
    saved = json.loads((out / "results.json").read_text())
    assert set(saved["methods"]) == set(METHODS)
    keys = {"vis_error", "inv_error", "vis_score", "inv_score", "score_auc", "ap", "pck", "train_seconds", "params"}
    for name, m in saved["methods"].items():
        assert keys <= set(m), name
    assert saved["methods"]["regression"]["vis_score"] is None
    assert saved["methods"]["heatmap"]["vis_score"] is not None
    assert saved["dataset"]["val"]["invisible"] > 0
    for f in ("results.md", "error_score.png", "predictions.png"):
        assert (out / f).stat().st_size > 0
    assert doc["config"]["steps_per_method"] == 3


def test_export_and_viz_commands(tiny_overrides, tmp_path, capsys):
    from PIL import Image

    assert main(["train", str(DEMO_CONFIG), *tiny_overrides, "strategy.name=adaanchor", "train.max_steps=2"]) == 0
    run = next(o.split("=", 1)[1] for o in tiny_overrides if o.startswith("out_dir="))
    assert main(["export", run, str(tmp_path / "m.onnx")]) == 0
    assert (tmp_path / "m.onnx").stat().st_size > 0
    # No OUT: the file predict --backend onnx reads by default; a first key=value is an override, not OUT.
    assert main(["export", run, f"ckpt={run}/checkpoints/last.pt", "--no-check"]) == 0
    assert (Path(run) / "export" / "last.onnx").stat().st_size > 0
    assert not list(Path().glob("ckpt=*"))
    assert f"wrote {run}/export/last.onnx" in capsys.readouterr().out
    Image.new("RGB", (50, 80), (120, 60, 30)).save(tmp_path / "img.png")
    assert main(["viz", run, str(tmp_path / "img.png"), "--out", str(tmp_path / "viz")]) == 0
    assert list((tmp_path / "viz").glob("img_*.png"))


def test_version_names_the_package_and_what_a_bug_report_needs(capsys):
    from importlib import metadata

    import adaanchor

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    out = capsys.readouterr().out.strip()
    from adaanchor.versions import source_commit

    commit = source_commit()  # from a git checkout: its commit, 12 digits, and whether files differ from it
    at = f", commit {commit[:12]}{' modified' if commit.endswith('(modified)') else ''}" if commit else ""
    assert out.startswith(f"adaanchor {adaanchor.__version__}{at} (torch {metadata.version('torch')}, timm ")
    assert metadata.version("adaanchor") == adaanchor.__version__  # the packaging reads the one definition


def test_a_bare_command_lists_the_commands(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: adaanchor") and "predict" in err and "keypoints on images" in err


@pytest.mark.parametrize("argv", [["eval"], ["export"], ["train", "--nope"], ["synth"], ["demo", "--steps"]])
def test_a_missing_argument_never_calls_the_overrides_required(argv, capsys):
    """The key=value lists are optional everywhere: argparse's error names only what is really missing."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert "overrides" not in capsys.readouterr().err.split("error:")[-1]


@pytest.mark.parametrize("argv,message", [
    (["viz", "RUN", "x.png", "--out", "o", "--every", "0"], "argument --every: must be an integer >= 1, got 0"),
    (["viz", "RUN", "x.png", "--out", "o", "--max-frames", "-3"], "argument --max-frames: must be an integer >= 0, got -3"),
    (["predict", "RUN", "x.png", "--batch-size", "0"], "argument --batch-size: must be an integer >= 1, got 0"),
    (["predict", "RUN", "x.png", "--batch-size", "two"], "argument --batch-size: must be an integer >= 1, got 'two'"),
    (["predict", "RUN", "x.png", "--min-score", "nan"], "argument --min-score: must be a finite number, got nan"),
    # --device and --format named the value, not the option ("error: device 'tpu': ...")
    (["eval", "RUN", "--device", "tpu"], "argument --device: device 'tpu': expected auto, cpu, cuda or cuda:N"),
    (["predict", "RUN", "x.png", "--device", "mps"], "argument --device: device 'mps': expected auto, cpu, cuda"),
    (["viz", "RUN", "x.png", "--out", "o", "--device", "gpu"], "argument --device: device 'gpu': expected auto"),
    (["predict", "RUN", "x.png", "--format", "coco,xml"], "argument --format: unknown format 'xml': choose from coco"),
])
def test_numeric_options_out_of_range_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("argv,attr,expected", [
    (["eval", "RUN", "--json", "m.json", "eval.max_images=2"], "overrides", ["eval.max_images=2"]),
    (["eval", "RUN", "seed=1", "--json", "m.json", "eval.max_images=2"], "overrides", ["seed=1", "eval.max_images=2"]),
    (["export", "RUN", "--opset", "17", "ckpt=RUN/checkpoints/last.pt"], "overrides", ["ckpt=RUN/checkpoints/last.pt"]),
    (["viz", "RUN", "x.png", "--out", "o", "ckpt=c.pt"], "items", ["x.png", "ckpt=c.pt"]),
    # predict takes ckpt= and key=value after its sources as viz does (they were 'unrecognized arguments' after
    # an option, though `predict --help` and docs/predict.md name them)
    (["predict", "RUN", "x.png", "--out", "o", "ckpt=c.pt", "seed=1"], "sources", ["x.png", "ckpt=c.pt", "seed=1"]),
])
def test_overrides_may_follow_the_options(argv, attr, expected):
    """argparse ends a positional list at the first option; key=value items after the options join the list."""
    from adaanchor.cli import build_parser
    from adaanchor.cli.parsing import parse_command_line as _parse

    assert getattr(_parse(build_parser(), argv), attr) == expected


@pytest.mark.parametrize("argv,rest", [
    (["eval", "RUN", "--json", "m.json", "--nope"], "--nope"),
    (["eval", "RUN", "--json", "m.json", "runs/a=b"], "runs/a=b"),  # a path with '=', not an override
    (["predict", "RUN", "x.png", "--out", "o", "y.png"], "y.png"),  # a source after the options: not an override
])
def test_other_items_after_the_options_are_usage_errors(argv, rest, capsys):
    from adaanchor.cli import build_parser
    from adaanchor.cli.parsing import parse_command_line as _parse

    with pytest.raises(SystemExit) as e:
        _parse(build_parser(), argv)
    assert e.value.code == 2 and f"unrecognized arguments: {rest}" in capsys.readouterr().err


def test_one_line_keeps_every_line_of_a_message_and_the_original_of_a_worker_traceback():
    from adaanchor.cli import one_line

    # A library's message over several lines (pandas' tokenizer, ijson's lexical errors) was cut to its last
    # line, ")" in one case.
    assert one_line("a.csv: Error tokenizing data. C error:\nExpected 9 fields in line 6, saw 11\n") == (
        "a.csv: Error tokenizing data. C error: Expected 9 fields in line 6, saw 11")
    worker = ("Caught DataError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
              '  File "x.py", line 1, in f\n    raise DataError(...)\n'
              "adaanchor.errors.DataError: a.json [record annotations[3]] field 'keypoints':\n  not finite\n")
    assert one_line(worker) == "a.json [record annotations[3]] field 'keypoints': not finite"
    assert one_line("plain") == "plain"


@pytest.mark.parametrize("device", ["mps", "meta", "xla", "CPU", "gpu", "tpu9"])
def test_devices_other_than_cpu_and_cuda_are_named(device):
    """mps, xla and meta passed torch.device and failed later inside the model; a bad name got torch's list of
    twenty device types."""
    from adaanchor.errors import AdaAnchorError
    from adaanchor.predict.backends import resolve_device

    with pytest.raises(AdaAnchorError, match=rf"^device '{device}': expected auto, cpu, cuda or cuda:N$"):
        resolve_device(device)
    assert resolve_device("cpu").type == "cpu" and resolve_device("auto").type in ("cpu", "cuda")


def test_viz_takes_a_device_as_predict_and_eval_do(monkeypatch):
    """viz had no --device: it drew on the CPU alone; it now passes the option to visualize_command."""
    import adaanchor.anchors_viz as anchors_viz
    from adaanchor.cli import build_parser
    from adaanchor.cli.parsing import parse_command_line as _parse

    assert _parse(build_parser(), ["viz", "RUN", "x.png", "--out", "o"]).device == "auto"
    seen = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        return []

    monkeypatch.setattr(anchors_viz, "visualize_command", fake)
    assert main(["viz", "RUN", "x.png", "--out", "o", "--device", "cpu"]) == 0
    assert seen["device"] == "cpu"


def test_a_resumed_training_says_which_steps_it_trained(tiny_overrides, capsys):
    """After resuming at step 2 of 3 the summary said "trained 3 steps"."""
    over = [*tiny_overrides, "train.eval_every=0"]
    assert main(["train", str(DEMO_CONFIG), *over, "train.max_steps=2"]) == 0
    assert "trained 2 steps in " in capsys.readouterr().out
    assert main(["train", str(DEMO_CONFIG), *over, "train.max_steps=3", "resume=auto"]) == 0
    assert "trained steps 3-3 (resumed at step 2) in " in capsys.readouterr().out
    assert main(["train", str(DEMO_CONFIG), *over, "train.max_steps=3", "resume=auto"]) == 0
    assert "trained no step (the checkpoint is at step 3) in " in capsys.readouterr().out


def test_a_diverged_training_is_said():
    """lr 1e6 ended with errors of 1e15 px, a table and exit 0."""
    import io
    from contextlib import redirect_stderr

    from omegaconf import OmegaConf

    from adaanchor.cli.commands import _warn_diverged

    cfg = OmegaConf.create({"data": {"input_size": [72, 96]}})
    err = io.StringIO()
    with redirect_stderr(err):
        _warn_diverged({"vis_error": 1.9e15}, cfg)
        _warn_diverged({"vis_error": 8.6}, cfg)
    assert err.getvalue().splitlines() == [
        "warning: the visible keypoints' mean error (1.9e+15 px) is beyond the input's diagonal (120 px): the "
        "training diverged? (a lower train.lr, or train.grad_clip)"]


def test_eval_of_a_config_without_weights_is_refused(capsys):
    """It scored random weights (a warning, full tables, exit 0, recall changing from run to run), where predict,
    export and viz of the same config refused."""
    assert main(["eval", str(DEMO_CONFIG)]) == 2
    assert "no checkpoint found (checkpoints/best.pt or last.pt); pass ckpt=PATH" in capsys.readouterr().err


def test_an_error_every_rank_raises_alike_is_printed_by_rank_0_only(monkeypatch, capsys):
    from adaanchor.errors import AdaAnchorError

    """Under torchrun each rank printed 'error: stopped by SIGTERM ...', once per process."""
    import adaanchor.cli as cli

    def stopped(a):
        err = AdaAnchorError("stopped by SIGTERM after step 3; saved x/last.pt: continue with resume=auto")
        err.same_on_every_rank = True
        raise err

    monkeypatch.setattr(cli.parser, "cmd_train", stopped)  # the parser, built by main, dispatches to it
    for rank, printed in (("0", True), ("1", False)):
        monkeypatch.setenv("RANK", rank)
        capsys.readouterr()
        assert cli.main(["train", "x.yaml"]) == 2
        assert ("error: stopped by SIGTERM" in capsys.readouterr().err) is printed


def test_a_global_batch_the_processes_do_not_divide_is_said_once():
    # Every rank computes the same numbers and raised the same error: each printed it.
    from adaanchor.engine.sampler import ResumableBatchSampler
    from adaanchor.errors import AdaAnchorError

    for rank in (0, 1):
        with pytest.raises(AdaAnchorError, match=r"train.batch_size=7 \(the global batch\) is not divisible") as e:
            ResumableBatchSampler(10, 7, 0, rank=rank, world=2)
        assert getattr(e.value, "same_on_every_rank", False)


@pytest.mark.parametrize("argv,says", [
    (["predict", "RUN", "a.png", "--fromat", "csv"], "adaanchor predict: error: unrecognized arguments: --fromat csv (did you mean --format?)"),
    (["predict", "RUN", "a.png", "--save_video"], "(did you mean --save-video?)"),
    (["predict", "RUN", "a.png", "--format", "csv", "slp"], "(--format takes one value: give several comma-separated, --format csv,slp, or repeat the option)"),
    (["predict", "RUN", "a.png", "--quiet", "b.png"], "unrecognized arguments: b.png (inputs go before the options)"),
    (["train", "demo", "--out", "runs/x"], "adaanchor train: error: unrecognized arguments: --out runs/x (train writes to out_dir=PATH, a config key)"),
    (["data", "stats", "--bogus"], "adaanchor data stats: error: unrecognized arguments: --bogus"),
])
def test_an_unknown_option_is_said_with_its_commands_usage_and_a_hint(capsys, argv, says):
    """The whole program's usage came with it (``usage: adaanchor [-h] [--version] {demo,train,...}``), no hint."""
    with pytest.raises(SystemExit) as e:
        main(argv)
    err = capsys.readouterr().err
    assert e.value.code == 2 and says in err, err
    assert f"usage: adaanchor {' '.join(argv[:2] if argv[0] == 'data' else argv[:1])}" in err


@pytest.mark.parametrize("override,says", [
    ("max_steps=20", "unknown config key 'max_steps'. Did you mean 'train.max_steps'? A key is written with its section"),
    ("data.format=DLC", "unknown data.format 'DLC'. Did you mean 'dlc'?"),
    ("strategy.name=AdaAnchor", "Did you mean 'adaanchor'?"),
])
def test_a_key_without_its_section_or_a_name_in_capitals_gets_a_hint(override, says, capsys):
    """`max_steps=20` listed the top-level keys only; `DLC` was too short for the similarity hint."""
    assert main(["data", "stats", "demo", override]) == 2
    assert says in capsys.readouterr().err


def test_a_json_written_by_a_command_ends_in_a_newline(tmp_path, capsys):
    """`score ... --json /dev/stdout` ran the next line ('wrote /dev/stdout') onto the closing brace."""
    from adaanchor.cli.commands import _write_json

    _write_json({"AP": 0.5}, str(tmp_path / "m.json"))
    assert (tmp_path / "m.json").read_text() == '{\n  "AP": 0.5\n}\n'
    assert capsys.readouterr().out == f"wrote {tmp_path / 'm.json'}\n"
