"""``task=bottomup`` through the generic pipeline: config section and task registry, ``adaanchor train`` on a tiny
generated crowd benchmark (loss, resume, best checkpoint by AP), ``adaanchor eval``, ``predict`` and ``score``."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

import adaanchor
from adaanchor.cli import main
from adaanchor.config import build_config, defaults, save_config
from adaanchor.engine.checkpoint import safe_load
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies.tags import BOTTOMUP_DEFAULTS

REPO = Path(__file__).resolve().parents[2]
TINY = Path(adaanchor.__file__).parent / "configs" / "bottomup_crowd.yaml"
PAPER = [f"{d}/bottomup_{a}_hrnet_w32_512" for d in ("coco", "crowdpose") for a in ("heatmap", "adaanchor")]
STILL = ["data.multi_aug.rotation=0", "data.multi_aug.scale=[1.0,1.0]", "data.multi_aug.translation=0",
         "data.multi_aug.flip=0"]




def _overrides(crowd: Path, out: Path, *extra: str) -> list[str]:
    # The fixture's benchmark read as COCO files (the config generates its own: data.format=crowd).
    return ["data.format=coco", f"data.root={crowd}", "data.input_size=[64,48]", "model.tiny_width=8", "train.batch_size=4",
            "train.progress=false", "train.log_every=1", f"out_dir={out}", *extra]


@pytest.fixture(scope="module")
def run(crowd, tmp_path_factory) -> Path:
    """A 6-step bottom-up run trained through ``adaanchor train`` (evaluated each epoch of 2 steps)."""
    out = tmp_path_factory.mktemp("runs") / "bu"
    assert main(["train", str(TINY), *_overrides(crowd, out, "train.max_steps=6", "train.eval_every=1")]) == 0
    return out


# ---- config ------------------------------------------------------------------------------------------------


def test_bottomup_section_is_derived_and_round_trips(tmp_path):
    d = defaults()
    assert d["task"] == "topdown" and d["bottomup"] == BOTTOMUP_DEFAULTS
    cfg = build_config(None, ["task=bottomup", "bottomup.gamma=0.2", "bottomup.order=[0,1,2]", "bottomup.refine=true"])
    save_config(cfg, tmp_path / "c.yaml")
    again = build_config(tmp_path / "c.yaml")
    assert again == cfg and again.task == "bottomup" and again.bottomup.gamma == 0.2


@pytest.mark.parametrize("override,text", [
    ("task=sideways", "unknown task 'sideways'"),
    ("bottomup.gamma=1.5", "'bottomup.gamma': the value must be in [0, 1]"),
    ("bottomup.max_candidates=0", "'bottomup.max_candidates': the value must be >= 1"),
    ("bottomup.tag_threshold=0", "'bottomup.tag_threshold': the value must be > 0"),
    ("bottomup.nonsense=1", "bottomup.nonsense"),
    ("data.multi_aug.flip=2", "'data.multi_aug.flip'"),
])
def test_bad_bottomup_options_are_refused(override, text):
    with pytest.raises(AdaAnchorError) as e:
        build_config(None, [override])
    assert text in str(e.value)


def test_a_registered_task_brings_its_section(monkeypatch):
    from adaanchor.ranges import at_least
    from adaanchor.strategies.tasks import TASKS, Task, build_bottomup

    monkeypatch.setitem(TASKS, "centre_test", Task("centre_test", {"radius": 3}, {"radius": at_least(1)},
                                                   build_bottomup, multi_person=True))
    cfg = build_config(None, ["task=centre_test", "centre_test.radius=5"])
    assert cfg.centre_test.radius == 5
    with pytest.raises(AdaAnchorError, match="centre_test.radius"):
        build_config(None, ["centre_test.radius=0"])


@pytest.mark.parametrize("path", PAPER)
def test_paper_bottomup_configs_load(path):
    cfg = build_config(path)
    assert cfg.task == "bottomup" and cfg.model.backbone == "hrnet_w32" and cfg.model.weights == "timm:hrnet_w32.ms_in1k"
    assert list(cfg.data.input_size) == [512, 512] and cfg.train.lr == 1e-3 and cfg.train.epochs == 140
    assert list(cfg.train.lr_steps) == [90, 120] and cfg.train.batch_size == 40
    aug = cfg.data.multi_aug
    assert (aug.rotation, list(aug.scale), aug.translation, aug.flip) == (30.0, [0.75, 1.5], 40.0, 0.5)
    assert cfg.strategy.name == Path(path).stem.split("_")[1]


def test_reversed_scale_range_is_an_error(crowd):
    """Refused by the config (before any command reads data) and where the data is built from a resolved config."""
    from adaanchor.data.build import build_image_dataset

    given = ["data.format=coco", f"data.root={crowd}", "data.multi_aug.scale=[1.5,0.75]"]
    with pytest.raises(AdaAnchorError, match=r"^data\.multi_aug\.scale must be \[lo, hi\] with lo <= hi"):
        build_config(TINY, given)
    cfg = OmegaConf.to_container(build_config(TINY, given[:2]))
    cfg["data"]["multi_aug"]["scale"] = [1.5, 0.75]
    with pytest.raises(AdaAnchorError, match="multi_aug.scale"):
        build_image_dataset(cfg["data"], "train")


# ---- training ----------------------------------------------------------------------------------------------


def test_training_writes_a_run_with_best_checkpoint_by_ap(run):
    rows = list(csv.DictReader((run / "eval_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [2, 4, 6] and set(rows[0]) == {"step", "epoch", "ap", "ap50", "recall"}
    best = safe_load(run / "checkpoints" / "best.pt")
    assert best["best"] == max(float(r["ap"]) for r in rows)
    assert best["config"]["task"] == "bottomup" and "tags" in {k.split(".")[1] for k in best["model"] if k.startswith("heads.")}


def test_loss_goes_down(crowd, tmp_path):
    # No augmentation and one batch of all 4 images: every step sees the same data.
    cfg = build_config(TINY, _overrides(crowd, tmp_path / "r", "data.train=val.json", "train.max_steps=15",
                                        "train.eval_every=0", "train.lr=3e-3", "train.lr_steps=[]", *STILL))
    train(cfg)
    loss = [float(r["loss"]) for r in csv.DictReader((tmp_path / "r" / "train_log.csv").open())]
    assert len(loss) == 15 and np.mean(loss[-3:]) < 0.9 * np.mean(loss[:3]), loss


def test_resume_auto_continues_like_an_uninterrupted_run(crowd, tmp_path):
    common = _overrides(crowd, tmp_path / "x", "train.eval_every=0", "train.deterministic=true")
    full = train(build_config(TINY, [*common, f"out_dir={tmp_path / 'full'}", "train.max_steps=6"]))
    train(build_config(TINY, [*common, f"out_dir={tmp_path / 'cut'}", "train.max_steps=3"]))
    resumed = train(build_config(TINY, [*common, f"out_dir={tmp_path / 'cut'}", "train.max_steps=6", "resume=auto"]))
    assert resumed["resumed_from"] and resumed["steps"] == full["steps"] == 6
    a = safe_load(tmp_path / "full" / "checkpoints" / "last.pt")["model"]
    b = safe_load(tmp_path / "cut" / "checkpoints" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [int(r["step"]) for r in csv.DictReader((tmp_path / "cut" / "train_log.csv").open())]
    assert steps == list(range(1, 7))


def test_task_cannot_change_on_resume(run, crowd, tmp_path):
    cfg = build_config(TINY, _overrides(crowd, run, "task=topdown", "resume=auto", "train.max_steps=8"))
    with pytest.raises(AdaAnchorError, match="task"):
        train(cfg)


# ---- eval, predict, score ----------------------------------------------------------------------------------


def test_eval_reports_ap_recall_and_the_sweep(run, crowd, tmp_path, capsys):
    out, res = tmp_path / "m.json", tmp_path / "res.json"
    assert main(["eval", str(run), "--json", str(out), "--predictions", str(res)]) == 0
    m = json.loads(out.read_text())
    assert {"ap", "ap50", "ap75", "apm", "apl", "ar", "recall", "ap_by_gamma", "recall_by_gamma"} <= set(m)
    assert len(m["ap_by_gamma"]) == 6 and m["images"] == 4 and m["checkpoint"].endswith("best.pt")
    assert "Recall" in capsys.readouterr().out
    assert main(["score", str(crowd / "val.json"), str(res), "--metric", "coco"]) == 0


def test_eval_writes_a_missing_keypoint_as_zeros_at_any_scale(run, crowd, tmp_path):
    """The val images (64x48) at twice the input's size: a missing keypoint's (0, 0) in input pixels was written as
    (-0.25, -0.25) in the COCO results of eval --predictions and of the evaluation; predict writes (0, 0)."""
    out = tmp_path / "res.json"
    assert main(["eval", str(run), "data.input_size=[128,96]", "--predictions", str(out)]) == 0
    kp = np.array([r["keypoints"] for r in json.loads(out.read_text())]).reshape(-1, 3)
    missing = kp[:, 2] == 0
    assert missing.any() and (~missing).any()
    assert np.all(kp[missing, :2] == 0)


def test_predict_writes_every_person_and_score_accepts_it(run, crowd, tmp_path, capsys):
    out = tmp_path / "pred"
    rc = main(["predict", str(run), str(crowd / "images" / "val"), "--out", str(out), "--gt", str(crowd / "val.json"),
               "--format", "coco,csv", "--quiet"])
    assert rc == 0
    res = json.loads((out / "predictions.json").read_text())
    per_image = {r["image_id"]: 0 for r in res}
    for r in res:
        per_image[r["image_id"]] += 1
        assert len(r["keypoints"]) == 3 * 17
    assert len(per_image) == 4 and max(per_image.values()) > 1
    assert len(list((out / "overlays").glob("*.png"))) == 4
    assert main(["score", str(crowd / "val.json"), str(out / "predictions.json"), "--metric", "coco"]) == 0
    assert "AP" in capsys.readouterr().out


def test_predictor_from_run(run, crowd):
    from adaanchor.data.image_read import load_image
    from adaanchor.predict import Predictor

    p = Predictor.from_run(run, device="cpu")
    assert p.multi_person and p.max_instances == BOTTOMUP_DEFAULTS["max_candidates"]
    img = load_image(next((crowd / "images" / "val").glob("*.png")))
    pred = p.predict(img)
    assert len(pred) >= 1 and pred.keypoints.shape[1:] == (17, 2) and pred.scores.shape == (len(pred), 17)
    assert pred.anchors is None and not p.has_anchors  # grouped poses carry no anchor, whatever the strategy
    assert np.all(np.diff(pred.pose_scores) <= 0) and np.allclose(pred.instance_scores(), pred.pose_scores)
    assert np.allclose(pred.pose_scores, pred.scores.mean(axis=1), atol=1e-6)  # missing keypoints count 0
    present = pred.scores > 0
    assert np.all(pred.keypoints[~present] == 0)
    with pytest.raises(AdaAnchorError, match="boxes are for top-down"):
        p.predict(img, boxes=np.array([[0.0, 0.0, 10.0, 10.0]]))


def test_onnx_export_and_backend_of_a_multi_person_run(run, crowd, tmp_path, capsys):
    """A multi-person run exports its network (head maps at any multiple-of size, checked at two sizes) and
    ``backend="onnx"`` groups the poses from that graph's maps: the same maps as PyTorch's, and the Predictor's
    poses are exactly the decoding of them (a comparison of poses with PyTorch's would hinge on near-ties of a
    6-step model's flat maps)."""
    import onnx
    import torch

    from adaanchor.data.bottomup import eval_affine
    from adaanchor.data.image_read import load_image
    from adaanchor.data.transforms import warp_image
    from adaanchor.data.types import to_tensor_image
    from adaanchor.predict import Predictor

    path = tmp_path / "bu.onnx"
    assert main(["export", str(run), str(path)]) == 0
    out = capsys.readouterr().out
    assert "outputs conf, offset, local, tags" in out and "a multi-person run (bottomup)" in out
    assert "head maps at 64x48 and 72x52" in out and "-> OK" in out
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert meta["adaanchor.task"] == "bottomup" and meta["adaanchor.spatial_multiple"] == "4"

    torch_p = Predictor.from_run(run, device="cpu")
    onnx_p = Predictor.from_run(run, device="cpu", backend="onnx", onnx_path=path)
    # Another multi-person run's file with the same head names ran without a word (pose scores 0.1 off).
    from adaanchor.predict.backends import OnnxHeads

    with pytest.raises(AdaAnchorError, match=r"bu.onnx: exported from another run \(strategy 'adaanchor_ae', this "
                                             r"run's 'fixanchor_ae'\)"):
        OnnxHeads(path, ["conf", "offset", "local", "tags"], torch.device("cpu"), strategy="fixanchor_ae")
    assert onnx_p.multi_person and onnx_p.info["backend"] == "onnx" and onnx_p.info["onnx"] == str(path)
    # Its threads sleep after a run: the grouping runs in PyTorch next (spinning threads made a frame 1.4-2x slower).
    opts = onnx_p.multi.heads.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    img = load_image(next((crowd / "images" / "val").glob("*.png")))
    a, size = eval_affine(img.shape[:2], onnx_p.multi.short_side, onnx_p.multi.multiple)
    x = to_tensor_image(warp_image(img, a, size))[None]
    maps_onnx, maps_torch = onnx_p.multi.heads(x), torch_p.multi.heads(x)
    assert list(maps_onnx) == list(maps_torch) == ["conf", "offset", "local", "tags"]
    for k in maps_torch:
        assert torch.allclose(maps_onnx[k], maps_torch[k], atol=1e-5), k
    expected = onnx_p.multi.strategy.decode_poses(maps_onnx)[0]
    pred = onnx_p.predict(img)
    assert len(pred) == len(expected.score) and np.isfinite(pred.keypoints).all()
    assert np.array_equal(np.sort(pred.pose_scores), np.sort(expected.score.astype(np.float64)))

    res = tmp_path / "pred"
    assert main(["predict", str(run), str(crowd / "images" / "val"), "--out", str(res), "--backend", "onnx",
                 "--onnx", str(path), "--gt", str(crowd / "val.json"), "--quiet"]) == 0
    assert main(["score", str(crowd / "val.json"), str(res / "predictions.json"), "--metric", "coco"]) == 0
    from adaanchor.engine.run import load_for_eval, resolve_run
    from adaanchor.export import check_onnx

    cfg, ckpt = resolve_run(run)
    m, s, _ = load_for_eval(cfg, ckpt)
    with pytest.raises(AdaAnchorError, match=r"bu.onnx: a multi-person run's network \(its head maps, no decoding\): check"):
        check_onnx(path, m, s, tuple(cfg.data.input_size), latency_runs=0)
    with pytest.raises(AdaAnchorError, match=r"exported from another run \(outputs \['conf', 'offset', 'local', "
                                             r"'tags'\], this run's heads are \['conf', 'offset', 'tags'\]\)"):
        OnnxHeads(path, ["conf", "offset", "tags"], torch.device("cpu"))


def test_multi_person_export_with_the_torchscript_exporter(run, tmp_path):
    """The fallback exporter writes the same dynamic-size head-map graph (checked at two sizes)."""
    from adaanchor.engine.run import load_for_eval, resolve_run
    from adaanchor.export import check_heads_onnx, export_onnx

    cfg, ckpt = resolve_run(run)
    model, strategy, _ = load_for_eval(cfg, ckpt)
    res = export_onnx(model, strategy, tmp_path / "ts.onnx", (64, 48), exporter="torchscript", spatial_multiple=4)
    assert res["exporter"] == "torchscript" and res["input_shape"] == ["batch", 3, "height", "width"]
    chk = check_heads_onnx(res["path"], model, (64, 48), 4, latency_runs=0)
    assert chk["check_ok"] and chk["check_sizes"] == [[64, 48], [72, 52]]


SAMPLES = REPO / ".." / "shared" / "data" / "mmpose-testdata"


@pytest.mark.slow
@pytest.mark.parametrize("folder,ann", [("coco", "test_coco.json"), ("crowdpose", "test_crowdpose.json")])
def test_paper_bottomup_config_trains_on_real_samples(folder, ann, tmp_path):
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not available: {SAMPLES} is absent")
    cfg = build_config(f"{folder}/bottomup_adaanchor_hrnet_w32_512", [
        f"data.root={SAMPLES / folder}", f"data.train={ann}", f"data.val={ann}", "data.images=.",
        "data.input_size=[64,64]", "model.backbone=tiny", "model.weights=null", "model.tiny_width=8",
        "train.batch_size=2", "train.max_steps=2", "train.workers=0", "train.eval_every=1", "train.progress=false",
        f"out_dir={tmp_path}"])
    m = train(cfg)["metrics"]
    assert 0.0 <= m["ap"] <= 1.0 and 0.0 <= m["recall"] <= 1.0
    assert ("crowdpose" in m) == (folder == "crowdpose")


@pytest.mark.parametrize("split", [None, "random"])
def test_ground_truth_is_the_evaluated_side_of_a_split_file(crowd, split):
    """One file split into train and val (data.split): the AP's ground truth holds the val images only, as with
    eval.max_images (the other side's people would count as missed)."""
    from adaanchor.data.build import build_image_dataset
    from adaanchor.engine.multi import split_ground_truth

    over = ["data.format=coco", f"data.root={crowd}", "data.input_size=[64,48]"]
    if split:
        over += ["data.train=val.json", "data.val=val.json", f"data.split.by={split}", "data.split.val_fraction=0.5"]
    cfg = build_config(TINY, over)
    ds = build_image_dataset(cfg.data, "val")
    gt, _ = split_ground_truth(cfg, ds)
    evaluated = {ds.images[i][0].image_id for i in range(len(ds))}
    assert {im["id"] for im in gt["images"]} == evaluated and len(evaluated) == (2 if split else 4)
    assert {a["image_id"] for a in gt["annotations"]} <= evaluated


def test_min_score_draws_the_best_poses_and_keeps_every_pose_in_the_files(run, crowd, tmp_path):
    from adaanchor.data.image_read import load_image
    from adaanchor.predict import Predictor
    from adaanchor.predict.overlay import draw_prediction

    img_path = sorted((crowd / "images" / "val").glob("*.png"))[0]
    p = Predictor.from_run(run, device="cpu")
    pred = p.predict(load_image(img_path))
    cut = float(np.median(pred.pose_scores))
    keep = pred.instance_scores() >= cut
    assert 0 < keep.sum() < len(pred)
    shown = pred.select(keep)
    assert len(shown) == keep.sum() and np.array_equal(shown.pose_scores, pred.pose_scores[keep])
    assert np.array_equal(shown.keypoints, pred.keypoints[keep])
    for s, name in ((0.0, "all"), (cut, "cut")):
        assert main(["predict", str(run), str(img_path), "--out", str(tmp_path / name), "--min-score", str(s),
                     "--quiet"]) == 0
    drawn = np.asarray(Image.open(tmp_path / "cut" / "overlays" / f"{img_path.stem}.png"))
    want = draw_prediction(load_image(img_path), shown, p.skeleton, anchors=p.has_anchors, stride=p.stride,
                           multi_person=True)
    assert np.array_equal(drawn, want)
    assert not np.array_equal(drawn, np.asarray(Image.open(tmp_path / "all" / "overlays" / f"{img_path.stem}.png")))
    for name in ("all", "cut"):  # the files hold every pose either way
        assert len(json.loads((tmp_path / name / "predictions.json").read_text())) == len(pred)
    assert main(["predict", str(run), str(img_path), "--out", str(tmp_path / "bad"), "--min-score", "2"]) == 2
