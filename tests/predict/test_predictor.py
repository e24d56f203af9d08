"""Predictor: the same geometry as the dataset, batches, input kinds, boxes, and the ONNX backend."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import apply_affine, invert_affine
from adaanchor.engine.run import load_for_eval, resolve_run
from adaanchor.errors import AdaAnchorError
from adaanchor.predict import Prediction, Predictor
from adaanchor.predict.boxes import load_detections


@pytest.fixture(scope="module")
def predictor(pred_runs) -> Predictor:
    return Predictor.from_run(pred_runs["adaanchor"], device="cpu", batch_size=5)


def _instance(path, hw, box=None) -> Instance:
    k = 17
    h, w = hw
    return Instance(str(path), 1, 1, np.zeros((k, 2)), np.zeros(k, np.int64), np.array(box or [0, 0, w, h], float), w * h)


def _reference(pred_runs, path, crop, box=None):
    """Keypoints through the dataset's own crop (crop='image' or 'box') and the model, back in image pixels."""
    cfg, ckpt = resolve_run(pred_runs["adaanchor"])
    model, strategy, _ = load_for_eval(cfg, ckpt)
    img = np.asarray(Image.open(path).convert("RGB"))
    ds = TopDownDataset([_instance(path, img.shape[:2], box)], load_spec("coco"), (72, 96), crop=crop)
    item = ds[0]
    with torch.no_grad():
        dec = strategy.decode(model(item["image"][None]))
    inv = invert_affine(item["meta"]["affine"])
    return apply_affine(inv, dec.xy[0].numpy()), dec.score[0].numpy(), apply_affine(inv, dec.anchor[0].numpy())


def test_whole_image_is_the_datasets_crop_image(pred_runs, predictor, val_images, tmp_path):
    # A wide image of another aspect than the input, so the fit leaves a border.
    wide = tmp_path / "wide.png"
    img = np.asarray(Image.open(val_images[0]).convert("RGB"))
    Image.fromarray(np.concatenate([img, img[:, ::-1]], axis=1)).save(wide)
    kp, sc, an = _reference(pred_runs, wide, "image")
    p = predictor.predict(wide)
    assert isinstance(p, Prediction) and len(p) == 1 and p.image_hw == (96, 144)
    np.testing.assert_allclose(p.keypoints[0], kp, atol=1e-4)
    np.testing.assert_allclose(p.scores[0], sc, atol=1e-6)
    np.testing.assert_allclose(p.anchors[0], an, atol=1e-4)
    np.testing.assert_allclose(p.boxes[0], [0, 0, 144, 96])


def test_boxes_are_the_datasets_crop_box(pred_runs, predictor, val_images):
    box = [10.0, 20.0, 30.0, 50.0]
    kp, sc, _ = _reference(pred_runs, val_images[1], "box", box)
    p = predictor.predict(val_images[1], boxes=[box, [0, 0, 72, 96]])
    assert len(p) == 2 and p.keypoints.shape == (2, 17, 2) and p.scores.shape == (2, 17)
    np.testing.assert_allclose(p.keypoints[0], kp, atol=1e-4)
    np.testing.assert_allclose(p.scores[0], sc, atol=1e-6)
    empty = predictor.predict(val_images[1], boxes=np.zeros((0, 4)))
    assert len(empty) == 0 and empty.keypoints.shape == (0, 17, 2) and empty.instance_scores().shape == (0,)


def test_batches_inputs_kinds_and_order(predictor, val_images):
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in val_images[:7]]
    one_by_one = [predictor.predict(a) for a in arrays]
    batch = predictor.predict(val_images[:7])  # paths, 7 images with batch_size 5: two batches
    pil = predictor.predict([Image.open(p) for p in val_images[:7]])
    stacked = predictor.predict(np.stack(arrays))
    for got in (batch, pil, stacked):
        assert len(got) == 7
        for a, b in zip(one_by_one, got):
            np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-5)
    gray = arrays[0].mean(axis=2).astype(np.uint8)
    np.testing.assert_allclose(predictor.predict(gray).keypoints, predictor.predict(np.repeat(gray[..., None], 3, 2)).keypoints)


def test_detections_file_by_image_id(predictor, val_images, tmp_path):
    dets = [{"image_id": 0, "category_id": 1, "bbox": [5, 5, 40, 60], "score": 0.9},
            {"image_id": 0, "category_id": 1, "bbox": [0, 0, 72, 96], "score": 0.5},
            {"image_id": 3, "category_id": 2, "bbox": [0, 0, 72, 96], "score": 0.5}]  # another category: left out
    f = tmp_path / "dets.json"
    f.write_text(json.dumps(dets))
    got = predictor.predict(val_images[:4], boxes=f)  # 000000.png -> id 0
    assert [len(p) for p in got] == [2, 0, 0, 0]
    np.testing.assert_allclose(got[0].box_scores, [0.9, 0.5])
    np.testing.assert_allclose(got[0].instance_scores(), got[0].scores.mean(1) * [0.9, 0.5], rtol=1e-6)
    np.testing.assert_allclose(got[0].keypoints[1], predictor.predict(val_images[0], boxes=[0, 0, 72, 96]).keypoints[0])
    by_ids = predictor.predict(val_images[:2], boxes=f, image_ids=[7, 0])
    assert [len(p) for p in by_ids] == [0, 2]


def test_bad_boxes_and_files_are_clear(predictor, val_images, tmp_path):
    with pytest.raises(AdaAnchorError, match=r"boxes\[0\]: a box needs a positive"):
        predictor.predict(val_images[0], boxes=[[0, 0, -1, 5]])
    with pytest.raises(AdaAnchorError, match="2 entries for 1 images"):
        predictor.predict([val_images[0]], boxes=[None, None])
    bad = tmp_path / "d.json"
    bad.write_text(json.dumps([{"image_id": "a", "bbox": [0, 0, 1, 1], "score": 1}]))
    with pytest.raises(AdaAnchorError, match=r"d.json \[record 0\] field 'image_id'"):
        load_detections(bad)
    with pytest.raises(AdaAnchorError, match="image file not found"):
        predictor.predict(tmp_path / "missing.png")


def test_a_preset_of_adaanchor_has_its_anchors(pred_runs):
    """localanchor (AdaAnchor with a preset) decodes from anchor cells like adaanchor: the predictor says so, which
    draws the anchor squares on its overlays, and returns each keypoint's anchor."""
    p = Predictor.from_run(pred_runs["localanchor"], device="cpu")
    r = p.predict(np.zeros((50, 60, 3), np.uint8))
    assert p.has_anchors and r.anchors is not None and r.anchors.shape == r.keypoints.shape


def test_folded_batchnorm_predicts_what_the_trained_model_does(pred_runs, val_images):
    folded = Predictor.from_run(pred_runs["adaanchor"], device="cpu")
    plain = Predictor.from_run(pred_runs["adaanchor"], device="cpu", fold_bn=False)
    assert folded.info["folded_bn"] > 0 and plain.info["folded_bn"] == 0  # the key is always there
    for a, b in zip(folded.predict(val_images[:3]), plain.predict(val_images[:3]), strict=True):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_a_batch_size_below_one_is_refused(pred_runs):
    with pytest.raises(AdaAnchorError, match="batch size must be an integer >= 1, got 0"):
        Predictor.from_run(pred_runs["adaanchor"], batch_size=0)


def test_checkpoint_path_regression_and_errors(pred_runs, tmp_path):
    p = Predictor.from_run(pred_runs["regression"] / "checkpoints" / "last.pt", device="cpu")
    r = p.predict(np.zeros((50, 60, 3), np.uint8))
    assert r.scores is None and r.anchors is None and r.instance_scores().tolist() == [1.0]
    assert not p.has_anchors and p.keypoint_names[0] == "nose"
    with pytest.raises(AdaAnchorError, match="backend must be torch or onnx"):
        Predictor.from_run(pred_runs["regression"], backend="tensorrt")
    with pytest.raises(AdaAnchorError, match="no such run directory"):
        Predictor.from_run(tmp_path / "nope")
    # A file that is not there is exported to, under export's name rule (notes.txt got a graph).
    with pytest.raises(AdaAnchorError, match=r"notes.txt: the model would be exported to this file, and an ONNX "
                                             r"file's name must end in .onnx \(nothing written\)"):
        Predictor.from_run(pred_runs["adaanchor"], backend="onnx", onnx_path=tmp_path / "notes.txt")
    assert not (tmp_path / "notes.txt").exists()


def test_paths_that_are_not_the_run_say_what_they_are(pred_runs, tmp_path):
    """A missing checkpoint said "no such run directory or config file", a run's config.yaml "no checkpoint found
    (checkpoints/best.pt or last.pt)" beside its checkpoints, a folder of runs or a run's checkpoints/ "not a run
    directory (no config.yaml)" alone, a JSON file "unknown config key 'info'" alone."""
    run = pred_runs["regression"]
    with pytest.raises(AdaAnchorError, match=rf"^{run / 'checkpoints' / 'best.pt'}: no such checkpoint file "
                                             rf"\({run / 'checkpoints'} holds last.pt\)$"):
        Predictor.from_run(run / "checkpoints" / "best.pt")
    with pytest.raises(AdaAnchorError, match=rf"^{tmp_path / 'x.pt'}: no such checkpoint file$"):
        Predictor.from_run(tmp_path / "x.pt")
    # A checkpoint with no run around it: the message said "give the run's config file and ckpt=" and stopped.
    (tmp_path / "w.pt").write_bytes((run / "checkpoints" / "last.pt").read_bytes())
    with pytest.raises(AdaAnchorError, match=rf"^{tmp_path / 'w.pt'}: a checkpoint outside a run directory \(no "
                                             rf"config.yaml in {tmp_path}\); give the config it was trained with in "
                                             rf"its place, and the checkpoint as ckpt={tmp_path / 'w.pt'}$"):
        Predictor.from_run(tmp_path / "w.pt")
    with pytest.raises(AdaAnchorError, match=rf"^{run / 'config.yaml'}: no checkpoint found \(checkpoints/best.pt or "
                                             rf"last.pt\); pass ckpt=PATH, or the run directory {run} \(its "
                                             r"checkpoints/ holds last.pt\) in place of its config file$"):
        Predictor.from_run(run / "config.yaml")
    # The folder of several runs (adaanchor demo --out runs/demo) and a run's checkpoints/ name the runs.
    with pytest.raises(AdaAnchorError, match=rf"^{run.parent}: not a run directory \(no config.yaml\): it holds the "
                                             rf"runs adaanchor, localanchor, regression; give one, e.g. "
                                             rf"{run.parent / 'adaanchor'}$"):
        Predictor.from_run(run.parent)
    with pytest.raises(AdaAnchorError, match=rf"^{run / 'checkpoints'}: not a run directory \(no config.yaml\): the "
                                             rf"run is its parent, {run}$"):
        Predictor.from_run(run / "checkpoints")
    (tmp_path / "results.json").write_text('{"info": {}, "images": []}')
    with pytest.raises(AdaAnchorError, match=rf"^{tmp_path / 'results.json'}: unknown config key 'info'"):
        Predictor.from_run(tmp_path / "results.json")


def test_onnx_backend_gives_the_same_numbers(pred_runs, predictor, val_images, tmp_path):
    from adaanchor.export import export_onnx

    cfg, ckpt = resolve_run(pred_runs["adaanchor"])
    model, strategy, _ = load_for_eval(cfg, ckpt)
    path = tmp_path / "m.onnx"
    export_onnx(model, strategy, path, (72, 96), exporter="torchscript")  # the fast exporter: a few seconds
    onnx = Predictor.from_run(pred_runs["adaanchor"], device="cpu", backend="onnx", onnx_path=path, batch_size=5, threads=1)
    assert onnx.info["onnx"] == str(path)
    boxes = [None] * 6 + [[[5, 5, 40, 60], [0, 0, 72, 96]]]
    for a, b in zip(predictor.predict(val_images[:7], boxes=boxes), onnx.predict(val_images[:7], boxes=boxes)):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
        np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
        np.testing.assert_allclose(a.anchors, b.anchors, atol=1e-3)
    with pytest.raises(AdaAnchorError, match="exported for input size 72,96, the run uses 64,96"):
        Predictor.from_run(pred_runs["adaanchor"], backend="onnx", onnx_path=path, overrides=["data.input_size=[64,96]"])
    # Another run's file of the same size: a localanchor graph under this adaanchor run ran without a word.
    other = tmp_path / "other.onnx"
    cfg, ckpt = resolve_run(pred_runs["localanchor"])
    model, strategy, _ = load_for_eval(cfg, ckpt)
    export_onnx(model, strategy, other, (72, 96), exporter="torchscript")
    with pytest.raises(AdaAnchorError, match=r"other.onnx: exported from another run \(strategy 'localanchor', this "
                                             r"run's 'adaanchor'\)"):
        Predictor.from_run(pred_runs["adaanchor"], backend="onnx", onnx_path=other)
    # ... and of another size: its size was given as the reason, with "export it again", which overwrote that run's file
    export_onnx(model, strategy, other, (64, 96), exporter="torchscript")
    with pytest.raises(AdaAnchorError, match=r"other.onnx: exported from another run \(strategy 'localanchor'"):
        Predictor.from_run(pred_runs["adaanchor"], backend="onnx", onnx_path=other)


def test_the_default_onnx_file_is_exported_again_unless_it_holds_the_runs_checkpoint(pred_runs, val_images, tmp_path,
                                                                                     monkeypatch, capsys):
    """RUN/export/<stem>.onnx was reused by its name and time: a checkpoint restored with its old time (cp -p,
    rsync -a) or another run's checkpoint exported there gave keypoints 108 px from PyTorch's, without a word."""
    import os
    import shutil

    import torch

    import adaanchor.export as export_mod
    from adaanchor.engine.checkpoint import safe_load

    real, calls = export_mod.export_onnx, []

    def fast(*args, **kwargs):
        calls.append(1)
        return real(*args, **{**kwargs, "exporter": "torchscript"})  # the fast exporter: a few seconds

    monkeypatch.setattr(export_mod, "export_onnx", fast)
    run = tmp_path / "run"
    shutil.copytree(pred_runs["adaanchor"], run)
    Predictor.from_run(run, device="cpu", backend="onnx")
    Predictor.from_run(run, device="cpu", backend="onnx")
    assert len(calls) == 1  # the file holds the run's checkpoint: reused
    first = tmp_path / "first.onnx"
    shutil.copy(run / "export" / "last.onnx", first)
    ckpt = run / "checkpoints" / "last.pt"
    state = safe_load(ckpt)
    state["model"] = {k: v + 0.02 if k.startswith("heads.") else v for k, v in state["model"].items()}
    torch.save(state, ckpt)
    old = (run / "export" / "last.onnx").stat().st_mtime - 100
    os.utime(ckpt, (old, old))  # restored with its old time: older than the exported file
    capsys.readouterr()
    onnx = Predictor.from_run(run, device="cpu", backend="onnx")
    assert len(calls) == 2  # replaced without a word before
    assert f"note: {run / 'export' / 'last.onnx'} holds another checkpoint than this run's: exported again" in \
        capsys.readouterr().err
    ref = Predictor.from_run(run, device="cpu")
    for a, b in zip(ref.predict(val_images[:3]), onnx.predict(val_images[:3])):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    # The default file exported at another input size (export RUN data.input_size=[96,128]) was kept for the run's own
    # size, and then refused: "exported for input size 96,128, the run uses 72,96". It is exported again, both ways.
    wide = Predictor.from_run(run, device="cpu", backend="onnx", overrides=["data.input_size=[96,128]"])
    assert len(calls) == 3 and wide.input_size == (96, 128)
    assert "holds another kind of graph or input size than this run's: exported again" in capsys.readouterr().err
    Predictor.from_run(run, device="cpu", backend="onnx")
    assert len(calls) == 4
    from adaanchor.export.metadata import read_metadata

    assert read_metadata(run / "export" / "last.onnx")["adaanchor.input_size"] == "72,96"
    # --onnx without --backend onnx was ignored (also a damaged file): it implies the backend, and contradicts torch.
    from adaanchor.cli import main

    assert main(["predict", str(run), str(val_images[0]), "--out", str(tmp_path / "o"), "--onnx",
                 str(run / "export" / "last.onnx"), "--quiet"]) == 0
    assert len(calls) == 4  # the onnx backend, on the file as it is
    assert main(["predict", str(run), str(val_images[0]), "--out", str(tmp_path / "o2"), "--onnx", str(first),
                 "--backend", "torch", "--quiet"]) == 2
    with pytest.raises(AdaAnchorError, match="is the exported file of backend='onnx', not of 'torch'"):
        Predictor.from_run(run, device="cpu", onnx_path=first)
    # A file named by the caller is used as it is, unless it was exported from another checkpoint.
    with pytest.raises(AdaAnchorError, match=r"first.onnx: exported from another checkpoint \(last.pt \(step 2\), "
                                             r"SHA-256 [0-9a-f]{16}; the run's is [0-9a-f]{16}\)"):
        Predictor.from_run(run, device="cpu", backend="onnx", onnx_path=first)


def test_reprs_summarise_a_prediction_and_a_predictor_in_one_line(pred_runs, predictor, val_images):
    """A Prediction's repr printed every coordinate (dozens of lines for one person); a Predictor's was
    ``<adaanchor.predict.predictor.Predictor object at 0x...>``."""
    one = predictor.predict(val_images[0])
    lo, hi = float(one.scores.min()), float(one.scores.max())
    assert repr(one) == (f"Prediction(N=1 x K=17 keypoints, image_hw=(96, 72), scores {lo:.3g}..{hi:.3g}, anchors yes, "
                         "boxes [x, y, w, h] the whole image, meta={'orientation': 'displayed'})")
    many = repr(predictor.predict(val_images[0], boxes=[[1, 2, 30, 40.123456]] * 5))
    assert "N=5 x K=17" in many and "\n" not in many
    assert "[[1.0, 2.0, 30.0, 40.12], [1.0, 2.0, 30.0, 40.12], [1.0, 2.0, 30.0, 40.12], ... (5 in all)]" in many
    none = repr(predictor.predict(val_images[0], boxes=[]))
    assert "N=0 x K=17" in none and "scores none, " in none and "boxes [x, y, w, h] []" in none
    loaded = Predictor.from_run(pred_runs["regression"], device="cpu", batch_size=3)
    assert repr(loaded) == (f"Predictor(run={str(pred_runs['regression'])!r}, strategy='regression', backend='torch', "
                            "device='cpu', input_size=(72, 96) (W, H), keypoints=17, batch_size=3)")
    assert "scores None, anchors None" in repr(loaded.predict(val_images[0]))


def test_a_box_trained_run_warns_once_when_given_no_boxes(predictor, val_images):
    """``adaanchor predict`` notes it; in Python a run trained on instance boxes predicted whole images (a crop it
    never saw) without a word."""
    import warnings

    boxed = Predictor(predictor.backend, predictor.spec, predictor.input_size, predictor.strategy, predictor.stride,
                      info={**predictor.info, "crop": "box"})
    with pytest.warns(UserWarning, match=r"was trained on instance boxes \(data.crop=box\) and no boxes were given: "
                                         r"each image is predicted as one instance, the whole image its box"):
        boxed.predict(val_images[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        boxed.predict(val_images[:2])  # once per Predictor
        boxed.predict(val_images[0], boxes=[[5, 5, 40, 60]])
        predictor.predict(val_images[0])  # trained on whole images: nothing to say


def test_the_stream_warns_too_and_both_warnings_name_the_callers_line(predictor, val_images):
    """``predict_stream``, the path of video frames, gave no warning; a warning names the line that called."""
    boxed = Predictor(predictor.backend, predictor.spec, predictor.input_size, predictor.strategy, predictor.stride,
                      info={**predictor.info, "crop": "box"})
    with pytest.warns(UserWarning, match=r"trained on instance boxes") as seen:
        list(boxed.predict_stream([(val_images[0], None, 0), (val_images[1], None, 1)]))
    assert len(seen) == 1 and seen[0].filename == __file__
    again = Predictor(predictor.backend, predictor.spec, predictor.input_size, predictor.strategy, predictor.stride,
                      info={**predictor.info, "crop": "box"})
    with pytest.warns(UserWarning, match=r"trained on instance boxes") as seen:
        again.predict(val_images[:2])
    assert len(seen) == 1 and seen[0].filename == __file__


def test_a_multi_person_network_given_to_a_single_person_run_is_named_as_such(pred_runs, tmp_path):
    """It was refused for its input size ("exported for input size 128,96, the run uses 72,96"), the wrong reason."""
    import onnx

    from adaanchor.predict.backends import OnnxBackend

    Predictor.from_run(pred_runs["adaanchor"], device="cpu", backend="onnx", onnx_path=tmp_path / "a.onnx")
    m = onnx.load(str(tmp_path / "a.onnx"))
    m.metadata_props.add(key="adaanchor.spatial_multiple", value="32")
    onnx.save(m, str(tmp_path / "multi.onnx"))
    with pytest.raises(AdaAnchorError, match=r"multi.onnx: the network of a multi-person run \(head maps, no "
                                             r"decoding\), not a single-instance graph"):
        OnnxBackend(tmp_path / "multi.onnx", (96, 128), torch.device("cpu"))
