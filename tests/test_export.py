"""ONNX export of model + decoding: every strategy matches PyTorch in onnxruntime, the batch axis is dynamic,
and user errors are one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from adaanchor.config import build_config  # noqa: E402
from adaanchor.engine.run import load_for_eval, resolve_run  # noqa: E402
from adaanchor.engine.train import train  # noqa: E402
from adaanchor.errors import AdaAnchorError  # noqa: E402
from adaanchor.export import (  # noqa: E402
    ambiguous_keypoints,
    check_images,
    export_command,
    export_onnx,
    format_export_report,
)
from adaanchor.strategies import STRATEGY_NAMES  # noqa: E402

#: Every registered strategy is exported and checked.
STRATEGIES = STRATEGY_NAMES
# Same generator options as conftest.TINY_SYNTH, so the session's tiny benchmark cache is reused.
SYNTH = {"n_train": 48, "n_val": 12, "seed": 0}


def _overrides(bench: Path, out: Path, name: str) -> list[str]:
    return [
        f"data.root={bench}",
        *(f"data.synth.{k}={v}" for k, v in SYNTH.items()),
        f"out_dir={out}",
        "model.tiny_width=8",
        "train.batch_size=8",
        "train.progress=false",
        "eval.batch_size=12",
        f"strategy.name={name}",
        "train.max_steps=2",
    ]


@pytest.fixture(scope="module")
def exported(tiny_bench, tmp_path_factory):
    """strategy -> (run dir, export_command result), each a 2-step tiny run exported with the check on (no
    latency runs: timings are not what these tests check)."""
    root = tmp_path_factory.mktemp("export")
    out = {}
    for name in STRATEGIES:
        run = root / f"run_{name}"
        train(build_config(None, _overrides(tiny_bench, run, name)))
        out[name] = (run, export_command(str(run), str(root / f"{name}.onnx"), [], None, None, True, latency_runs=0))
    return out


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_exports_and_matches(exported, name):
    run, res = exported[name]
    path = Path(res["path"])
    assert path.is_file() and res["size_bytes"] == path.stat().st_size > 10_000
    assert res["exporter"] in ("dynamo", "torchscript") and res["opset"] >= 17
    assert res["strategy"] == name and res["checkpoint"].endswith(".pt")
    # The graph has an output for every part PyTorch's decoding gives (scores and anchors may be None).
    cfg, ckpt = resolve_run(run)
    model, strategy, _ = load_for_eval(cfg, ckpt)
    with torch.no_grad():
        dec = strategy.decode(model(check_images(1, (72, 96))))
    parts = {"keypoints": dec.xy, "scores": dec.score, "anchors": dec.anchor}
    expect = [k for k, v in parts.items() if v is not None]
    assert res["outputs"] == expect
    assert res["check_ok"] and res["compared"] > 0
    assert res["max_abs_diff_keypoints"] <= 1e-3
    assert (res["max_abs_diff_scores"] is None) == (dec.score is None)
    assert (res["max_abs_diff_anchors"] is None) == (dec.anchor is None)
    assert res["max_abs_diff_scores"] is None or res["max_abs_diff_scores"] <= 1e-4
    assert res["max_abs_diff_anchors"] is None or res["max_abs_diff_anchors"] <= 1e-3
    assert "latency_ms_torch" not in res and res["flip_test"] is False  # latency_runs=0; the run's eval.flip_test
    report = format_export_report(res)
    assert "onnxruntime" in report and str(path) in report
    assert "n/a" not in report  # a regression graph has no scores or anchors: "scores n/a, anchors n/a px" was said
    assert ("scores " in report) == (dec.score is not None) and ("anchors " in report) == (dec.anchor is not None)

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (inp,) = sess.get_inputs()
    assert inp.name == "image" and inp.shape[1:] == [3, 96, 72] and not isinstance(inp.shape[0], int)
    assert [o.name for o in sess.get_outputs()] == expect
    meta = sess.get_modelmeta().custom_metadata_map
    assert meta["adaanchor.strategy"] == name and meta["adaanchor.input_size"] == "72,96"
    assert meta["adaanchor.keypoints"].split(",")[0] == "nose"


@pytest.mark.parametrize("name", ["heatmap", "adaanchor"])
@pytest.mark.parametrize("batch", [1, 3])
def test_dynamic_batch(exported, name, batch):
    run, res = exported[name]
    cfg, ckpt = resolve_run(run)
    model, strategy, _ = load_for_eval(cfg, ckpt)
    x = check_images(batch, (72, 96), seed=batch)
    sess = ort.InferenceSession(res["path"], providers=["CPUExecutionProvider"])
    kp, sc, an = sess.run(None, {"image": x.numpy()})
    assert kp.shape == (batch, 17, 2) and sc.shape == (batch, 17) and an.shape == (batch, 17, 2)
    with torch.no_grad():
        raw = model(x)
        dec = strategy.decode(raw)
    keep = ~ambiguous_keypoints(raw, strategy).numpy()
    assert keep.any()
    assert np.abs(kp - dec.xy.numpy()).max(-1)[keep].max() <= 1e-3
    assert np.abs(an - dec.anchor.numpy()).max(-1)[keep].max() <= 1e-3
    assert np.abs(sc - dec.score.numpy()).max() <= 1e-4


@pytest.mark.parametrize("name", STRATEGIES)
def test_torchscript_exporter_at_an_older_opset(exported, tmp_path, name):
    """export_onnx works on any model/strategy pair; opsets below 18 go to the TorchScript exporter."""
    from adaanchor.export import check_onnx

    run, _ = exported[name]
    cfg, ckpt = resolve_run(run)
    model, strategy, _ = load_for_eval(cfg, ckpt)
    res = export_onnx(model, strategy, tmp_path / "sub" / f"{name}.onnx", (72, 96), opset=17)
    assert res["exporter"] == "torchscript" and res["opset"] == 17 and "18" in res["dynamo_error"]
    chk = check_onnx(res["path"], model, strategy, (72, 96), latency_runs=0)
    assert chk["check_ok"] and chk["compared"] > 0


def test_opset_before_an_operator_is_one_line_naming_the_opset_to_use(exported, tmp_path, capfd):
    """The anchor strategies' refinement reads its map with GridSample (ONNX opset 16): at opset 13 the export is
    one error naming the opset to ask for, and the TorchScript exporter's dump of the graph (printed from C++)
    does not reach the terminal. The heatmap has no such operator and exports at 13."""
    for name in ("adaanchor", "heatmap"):
        cfg, ckpt = resolve_run(exported[name][0])
        model, strategy, _ = load_for_eval(cfg, ckpt)
        out = tmp_path / f"{name}13.onnx"
        if name == "heatmap":
            assert export_onnx(model, strategy, out, (72, 96), opset=13)["opset"] == 13
            continue
        with pytest.raises(AdaAnchorError, match=r"grid_sampler.*Export with --opset 16 or later") as e:
            export_onnx(model, strategy, out, (72, 96), opset=13)
        assert len(str(e.value).splitlines()) == 1 and not out.exists()
    captured = capfd.readouterr()
    assert "return (" not in captured.out and "graph(" not in captured.out, captured.out[:300]


@pytest.mark.parametrize("opset", [0, -1, 99])
def test_an_opset_the_exporters_do_not_write_is_refused(exported, tmp_path, opset):
    """--opset 0 was read as no opset and wrote opset 17; 99 gave torch's 'Unsupported onnx_opset_version'."""
    out = tmp_path / "m.onnx"
    with pytest.raises(AdaAnchorError, match=rf"^opset {opset}: the exporters write opsets 7 to 23"):
        export_command(str(exported["heatmap"][0]), str(out), [], None, opset, False)
    assert not out.exists()


def test_bad_output_path(exported, tmp_path):
    run, _ = exported["adaanchor"]
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(AdaAnchorError, match=r"cannot write the ONNX file \(a parent of it is a file, not a folder\)$") as e:
        export_command(str(run), str(blocker / "m.onnx"), [], None, None, False)
    assert len(str(e.value).splitlines()) == 1
    with pytest.raises(AdaAnchorError, match="is a folder"):
        export_command(str(run), str(tmp_path), [], None, None, False)
    photo = tmp_path / "photo.png"  # `export RUN photo.png`, by analogy with predict: the photo is kept
    photo.write_bytes(b"\x89PNG not replaced")
    for out in (photo, tmp_path / "model.txt"):
        with pytest.raises(AdaAnchorError, match=r"an ONNX file's name must end in .onnx \(nothing written\)$"):
            export_command(str(run), str(out), [], None, None, False)
    assert photo.read_bytes() == b"\x89PNG not replaced" and not (tmp_path / "model.txt").exists()
    assert not any(p.name.endswith(".tmp.onnx") for p in tmp_path.iterdir())


def test_bad_run_and_missing_checkpoint(exported, tmp_path):
    run, _ = exported["adaanchor"]
    with pytest.raises(AdaAnchorError, match="no such run directory"):
        export_command(str(tmp_path / "nope"), str(tmp_path / "m.onnx"), [], None, None, False)
    with pytest.raises(AdaAnchorError, match="checkpoint not found"):
        export_command(str(run), str(tmp_path / "m.onnx"), [], str(tmp_path / "none.pt"), None, False)
    empty = tmp_path / "empty_run"
    empty.mkdir()
    (empty / "config.yaml").write_text((run / "config.yaml").read_text())
    with pytest.raises(AdaAnchorError, match="no checkpoint found"):
        export_command(str(empty), str(tmp_path / "m.onnx"), [], None, None, False)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("kw,says", [({"latency_runs": -1}, r"latency_runs must be an integer >= 0 \(0: not measured\), got -1"),
                                     ({"latency_runs": 2.5}, r"latency_runs must be an integer >= 0"),
                                     ({"latency_runs": True}, r"latency_runs must be an integer >= 0"),
                                     ({"check": "no"}, r"check must be True or False, got 'no'")])
def test_export_options_are_checked_before_the_model_loads(exported, tmp_path, kw, says):
    """latency_runs=-1 skipped the timing and 2.5 ran 2 without a word; check="no" checked."""
    run, _ = exported["adaanchor"]
    with pytest.raises(AdaAnchorError, match="^" + says):
        export_command(str(run), str(tmp_path / "m.onnx"), **kw)
    assert not (tmp_path / "m.onnx").exists()


def test_exporting_leaves_the_eager_model_computing_real_tensors(tmp_path):
    """The dynamo exporter traces the strategies' code with fake tensors; the per-size constants they cache
    (tensor_cache.constant_cache) must not keep a traced one, or every later eager call of the process returns
    fake tensors (it did: predict after an export gave keypoints without values)."""
    from adaanchor.engine.run import build_system
    from adaanchor.strategies import anchor_decode, assign_targets

    model, strategy = build_system(build_config(None, ["model.tiny_width=8", "strategy.name=adaanchor"]))
    model.eval()
    images = check_images(2, (72, 96))
    with torch.no_grad():
        before = strategy.predict(model, images)
    caches = (assign_targets.grid_scale, assign_targets._centre_grid, assign_targets._cell_index_grid,
              anchor_decode._grids)
    for c in caches:
        c.cache_clear()  # the export is now the first to build them
    res = export_onnx(model, strategy, tmp_path / "m.onnx", (72, 96))
    if res["exporter"] != "dynamo":
        pytest.skip(f"the dynamo exporter did not run here: {res.get('dynamo_error')}")
    with torch.no_grad():
        after, full = strategy.predict(model, images), strategy.decode(model(images))
    for dec in (after, full):
        for part in (dec.xy, dec.score, dec.anchor):
            assert type(part) is torch.Tensor, type(part)
        assert torch.allclose(dec.xy, before.xy, atol=1e-4) and torch.equal(dec.anchor, before.anchor)
    assert all(c.cache_len() > 0 for c in (assign_targets.grid_scale, anchor_decode._grids))  # eager calls cache


def test_the_dynamo_exporter_runs_after_a_prediction_under_inference_mode(tmp_path):
    """A model run under ``torch.inference_mode`` (the predictor, the export check's timing) first cached its
    per-size constants as inference tensors; the dynamo export that followed in the same process failed ("Failed
    to decompose the FX graph") and ``export_command`` fell back to TorchScript."""
    from adaanchor.engine.run import build_system
    from adaanchor.strategies import anchor_decode, assign_targets

    model, strategy = build_system(build_config(None, ["model.tiny_width=8", "strategy.name=adaanchor"]))
    model.eval()
    caches = (assign_targets.grid_scale, assign_targets._centre_grid, assign_targets._cell_index_grid,
              anchor_decode._grids)
    for c in caches:
        c.cache_clear()
    first = export_onnx(model, strategy, tmp_path / "first.onnx", (72, 96))
    if first["exporter"] != "dynamo":
        pytest.skip(f"the dynamo exporter did not run here: {first.get('dynamo_error')}")
    for c in caches:
        c.cache_clear()  # the prediction below is the first to build them
    with torch.inference_mode():
        strategy.predict(model, check_images(1, (72, 96)))
    res = export_onnx(model, strategy, tmp_path / "m.onnx", (72, 96))
    assert res["exporter"] == "dynamo", res["dynamo_error"]


def test_export_and_check_name_bad_sizes_and_files(exported, tmp_path):
    """Sizes and files the export API is given by hand: (72.5, 96) was cut to 72, (0, 96) and 72 failed inside
    PyTorch; check_onnx of another size, a missing file or a file that is not ONNX raised onnxruntime's own
    exceptions."""
    from adaanchor.export import check_onnx

    cfg, ckpt = resolve_run(exported["heatmap"][0])
    model, strategy, _ = load_for_eval(cfg, ckpt)
    for size in ((72.5, 96), (0, 96), (-8, 96), 72, None, (72,), (True, 96)):
        with pytest.raises(AdaAnchorError, match=r"^input_size: expected \(W, H\), two whole numbers of pixels >= 1"):
            export_onnx(model, strategy, tmp_path / "m.onnx", size)
    path = export_onnx(model, strategy, tmp_path / "m.onnx", (72, 96))["path"]
    with pytest.raises(AdaAnchorError, match=r"the graph takes 72x96 \(W x H\) images, input_size is 96x72$"):
        check_onnx(path, model, strategy, (96, 72), latency_runs=0)
    with pytest.raises(AdaAnchorError, match=r"batch: expected a whole number >= 1, got 0"):
        check_onnx(path, model, strategy, (72, 96), batch=0, latency_runs=0)
    with pytest.raises(AdaAnchorError, match=r"nope.onnx: no such ONNX file$"):
        check_onnx(tmp_path / "nope.onnx", model, strategy, (72, 96), latency_runs=0)
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(AdaAnchorError, match=r"junk.onnx: not a readable ONNX file \("):
        check_onnx(junk, model, strategy, (72, 96), latency_runs=0)


@pytest.mark.parametrize("opset,says", [
    # onnxruntime's raw refusal of the heatmap's graph named an internal temporary file and gave no hint
    (11, r"onnxruntime cannot run this graph at opset 11: export with a later --opset, or none$"),
    # TorchScript's 'Unsupported' error ended in a 300-character dump of a traced value and suggested nothing
    (7, r"Unsupported.*Opset 7 cannot express this model: export with a later --opset \(13 or later\), or none"),
])
def test_an_opset_too_old_for_the_model_says_to_export_at_a_later_one(exported, tmp_path, opset, says):
    cfg, ckpt = resolve_run(exported["heatmap"][0])
    model, strategy, _ = load_for_eval(cfg, ckpt)
    with pytest.raises(AdaAnchorError, match=says) as e:
        export_onnx(model, strategy, tmp_path / f"h{opset}.onnx", (72, 96), opset=opset)
    assert ".tmp" not in str(e.value) and "Caused by" not in str(e.value) and not list(tmp_path.iterdir())


@pytest.mark.parametrize("opset", [10, 13, 15])
def test_an_anchor_run_below_opset_16_is_refused_before_exporting(exported, tmp_path, opset):
    """At opset 10 the export failed inside the exporter with 'only one element tensors can be converted to Python
    scalars', which named neither GridSample nor the opset to ask for; the strategy's need is now checked first."""
    out = tmp_path / "m.onnx"
    with pytest.raises(AdaAnchorError, match=rf"^opset {opset}: strategy 'adaanchor' needs opset 16 or later: its local "
                       r"refinement \(strategy.refine\) reads its map with GridSample.*--opset 16 or later"):
        export_command(str(exported["adaanchor"][0]), str(out), [], None, opset, False)
    assert not list(tmp_path.iterdir())


def test_the_opset_need_is_the_decodings(exported):
    """Without the refinement, or for a multi-person graph (the network alone, no decoding), nothing is needed."""
    from adaanchor.export.command import _check_strategy_opset

    cfg, ckpt = resolve_run(exported["adaanchor"][0])
    _, strategy, _ = load_for_eval(cfg, ckpt)
    assert strategy.export_needs()[0] == 16
    _check_strategy_opset(strategy, 13, multiple=32)
    _check_strategy_opset(strategy, None, multiple=None)
    strategy.refine = False
    assert strategy.export_needs() is None
    _check_strategy_opset(strategy, 13, multiple=None)
