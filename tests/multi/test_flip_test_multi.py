"""``eval.flip_test=true`` on multi-person runs (``task=bottomup`` and ``centre``): ``adaanchor eval`` and the
``Predictor`` (torch and ONNX backends) merge the maps of each image and of its mirror before decoding."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import adaanchor
from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.data.bottomup import eval_affine
from adaanchor.data.image_read import load_image
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import warp_image
from adaanchor.data.types import to_tensor_image
from adaanchor.predict import Predictor

pytestmark = pytest.mark.slow  # two 4-step training runs (a few seconds each) feed the tests

TINY = Path(adaanchor.__file__).parent / "configs" / "bottomup_crowd.yaml"
FLIP = load_spec("coco").flip_index
TASKS = [("bottomup", "adaanchor"), ("centre", "heatmap")]


@pytest.fixture(scope="module")
def runs(crowd, tmp_path_factory) -> dict[str, Path]:
    out = {}
    for task, name in TASKS:
        run = tmp_path_factory.mktemp("flip") / f"{task}_{name}"
        over = ["data.format=coco", f"data.root={crowd}", "data.input_size=[64,48]", "model.tiny_width=8",
                "train.batch_size=4", "train.progress=false", f"out_dir={run}", f"task={task}", f"strategy.name={name}",
                "train.max_steps=4", "train.eval_every=0"]
        assert main(["train", str(TINY), *over]) == 0
        out[task] = run
    return out


def test_the_flip_test_is_accepted_for_every_task():
    for task in ("topdown", "bottomup", "centre"):
        assert build_config(None, [f"task={task}", "eval.flip_test=true"]).eval.flip_test is True


@pytest.mark.parametrize("task", [t for t, _ in TASKS])
def test_eval_with_the_flip_test_prints_ap(runs, task, tmp_path, capsys):
    """(d) ``adaanchor eval RUN eval.flip_test=true`` on a tiny multi-person run: the AP table, other numbers than
    without the flip (at a threshold every peak passes)."""
    run = str(runs[task])
    gamma = f"{task}.gamma=0.01"
    assert main(["eval", run, gamma, "--json", str(tmp_path / "a.json")]) == 0
    capsys.readouterr()
    assert main(["eval", run, gamma, "eval.flip_test=true", "--json", str(tmp_path / "b.json")]) == 0
    text = capsys.readouterr().out
    assert "| Method | AP | AP50 |" in text and "with the flip test" in text
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("a.json", "b.json"))
    assert (a["flip_test"], b["flip_test"]) == (False, True)  # the JSON says which setting scored it
    assert 0 <= b["ap"] <= 1 and b["images"] == a["images"] == 4 and b["poses"] > 0
    assert (a["ap"], a["recall"], a["poses"]) != (b["ap"], b["recall"], b["poses"])


def test_eval_says_and_records_the_offset_rule(runs, tmp_path, capsys, monkeypatch):
    """``eval.flip_offsets=weighted`` and ``eval.flip_conf=plain`` on an anchor run: said beside the flip test and
    recorded in the JSON; the defaults are recorded as ``mean``, and without the flip test no rule is recorded."""
    from adaanchor.strategies import anchor_decode

    calls: list[str] = []  # what the evaluation's strategy did, not only what the config says
    real_w, real_c = anchor_decode.weighted_offsets, anchor_decode.mean_confidence_logits
    monkeypatch.setattr(anchor_decode, "weighted_offsets", lambda *a: calls.append(a[-1]) or real_w(*a))
    monkeypatch.setattr(anchor_decode, "mean_confidence_logits", lambda *a: calls.append("conf mean") or real_c(*a))
    run = str(runs["bottomup"])
    gamma = "bottomup.gamma=0.01"
    assert main(["eval", run, gamma, "eval.flip_test=true", "eval.flip_offsets=weighted", "eval.flip_conf=plain",
                 "--json", str(tmp_path / "w.json")]) == 0
    assert "with the flip test (flip_offsets=weighted, flip_conf=plain)" in capsys.readouterr().out
    assert calls and set(calls) == {"weighted"}  # every image's offsets weighted, no confidence averaged
    calls.clear()
    assert main(["eval", run, gamma, "eval.flip_test=true", "--json", str(tmp_path / "m.json")]) == 0
    assert calls and set(calls) == {"conf mean"}
    assert main(["eval", run, gamma, "--json", str(tmp_path / "p.json")]) == 0
    w, m, p = (json.loads((tmp_path / f).read_text()) for f in ("w.json", "m.json", "p.json"))
    assert (w["flip_offsets"], m["flip_offsets"], "flip_offsets" in p) == ("weighted", "mean", False)
    assert (w["flip_conf"], m["flip_conf"], "flip_conf" in p) == ("plain", "mean", False)


def _input(p: Predictor, img: np.ndarray) -> torch.Tensor:
    a, size = eval_affine(img.shape[:2], p.multi.short_side, p.multi.multiple)
    return to_tensor_image(warp_image(img, a, size))[None]


@pytest.mark.parametrize("task", [t for t, _ in TASKS])
def test_the_predictor_flip_test_returns_the_people_of_the_merged_maps(runs, crowd, task, tmp_path):
    """(e) ``Predictor.from_run(RUN, overrides="eval.flip_test=true")`` on a multi-person run returns people, the ones
    decoded from the two passes' merged maps; the ONNX backend's agree."""
    img = load_image(sorted((crowd / "images" / "val").glob("*.png"))[0])
    over = ["eval.flip_test=true", f"{task}.gamma=0.01"]
    plain = Predictor.from_run(runs[task], device="cpu", overrides=[f"{task}.gamma=0.01"], fold_bn=False)
    flip = Predictor.from_run(runs[task], device="cpu", overrides=over, fold_bn=False)
    assert flip.info["flip_test"] and "flip_test" not in plain.info and "flip_test=True" in repr(flip)
    if task == "bottomup":  # an anchor run: the offset rule reaches the predictor's strategy and is said
        weighted = Predictor.from_run(runs[task], device="cpu",
                                      overrides=[*over, "eval.flip_offsets=weighted", "eval.flip_conf=plain"])
        assert weighted.info["flip_offsets"] == "weighted" and "flip_offsets='weighted'" in repr(weighted)
        assert weighted.info["flip_conf"] == "plain" and "flip_conf='plain'" in repr(weighted)
        inner = weighted.multi.heads.strategy.inner
        assert (inner.flip_offsets, inner.flip_conf) == ("weighted", "plain")
    got = flip.predict(img)
    assert len(got) >= 1 and got.keypoints.shape[1:] == (17, 2)
    # by hand: the network on the padded input and on its mirror, merged by the strategy, decoded once
    heads, st = plain.multi.heads, plain.multi.strategy
    x = _input(plain, img)
    maps = st.flip_merge({k: v.float() for k, v in heads(x).items()},
                         {k: v.float() for k, v in heads(torch.flip(x, dims=(-1,))).items()}, FLIP)
    want = st.decode_poses(maps)[0]
    assert len(got) == len(want.score)
    np.testing.assert_allclose(np.sort(got.pose_scores), np.sort(want.score), atol=1e-5)
    assert not np.array_equal(np.sort(plain.predict(img).pose_scores), np.sort(got.pose_scores))
    onnx = Predictor.from_run(runs[task], device="cpu", backend="onnx", overrides=over,
                              onnx_path=tmp_path / "flip.onnx")
    assert onnx.info["flip_test"] and len(onnx.predict(img)) >= 1
    # the same merged maps from onnxruntime's passes (the poses agree but where the grouping sits on a near-tie of a
    # barely trained model's flat maps, docs/multi-person.md, ONNX)
    by_onnx, by_torch = onnx.multi.heads(x), flip.multi.heads(x)
    assert set(by_onnx) == set(by_torch)
    for k, v in by_torch.items():
        torch.testing.assert_close(by_onnx[k], v, atol=1e-4, rtol=1e-4)


def test_the_benchmarks_cached_outputs_take_the_flip_test(runs):
    """``engine.bottomup.predict_outputs`` (the demos' and benchmarks' evaluation, oracle tags included) with
    ``flip_index``: each image's merged maps, as ``flip_outputs`` gives them."""
    from adaanchor.engine import bottomup as eb
    from adaanchor.engine.multi import split_ground_truth
    from adaanchor.engine.run import build_split, load_for_eval, resolve_run
    from adaanchor.strategies.flip_test import flip_outputs

    cfg, ckpt = resolve_run(runs["bottomup"], need_weights=True)
    model, st, _ = load_for_eval(cfg, ckpt, "cpu")
    data = build_split(cfg, "val", st.stride, train=False, verbose=False)
    cached = eb.predict_outputs(model, data, batch_size=1, strategy=st, flip_index=FLIP)
    assert len(cached) == len(data) == 4
    for (maps, meta), i in zip(cached, range(len(data))):
        want = flip_outputs(model, st, data[i]["image"][None], FLIP)
        assert maps["tags"].shape[2] == 2 and meta["image_id"] == data[i]["meta"]["image_id"]
        for k, v in want.items():
            torch.testing.assert_close(maps[k], v)
    gt, _ = split_ground_truth(cfg, data)
    m = eb.evaluate_bottomup(model, st, data, gt, sigmas=load_spec("coco").sigmas, gamma=0.01, gammas=(0.01,),
                             oracle_tags=True, flip_index=FLIP)
    assert 0 <= m["ap"] <= 1 and 0 <= m["oracle_tags"]["ap"] <= 1 and m["recall"] > 0


def test_viz_boxes_are_refused_for_a_multi_person_run(runs, crowd, tmp_path, capsys):
    """``viz --boxes`` is for top-down runs: a multi-person run finds the people itself (as ``predict`` says)."""
    img = sorted((crowd / "images" / "val").glob("*.png"))[0]
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "score": 1.0}]))
    assert main(["viz", str(runs["bottomup"]), str(img), "--boxes", str(dets), "--gt", str(crowd / "val.json"),
                 "--out", str(tmp_path / "o")]) == 2
    assert "a multi-person run finds the people itself: --boxes is for top-down runs" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("task", [t for t, _ in TASKS])
def test_the_predictor_runs_a_multi_person_model_unfolded_as_eval_does(runs, crowd, task):
    """Folded BatchNorms changed the maps by float rounding, and the grouping turned that into another matching where
    two costs tied within it (a left elbow swapped between two poses, 26 px from eval's). A multi-person run's model
    is not folded: the predictor's maps are the eval model's, bit for bit."""
    from adaanchor.engine.run import load_for_eval, resolve_run

    p = Predictor.from_run(runs[task], device="cpu")
    assert p.info["folded_bn"] == 0
    img = load_image(sorted((crowd / "images" / "val").glob("*.png"))[0])
    x = _input(p, img)
    cfg, ckpt = resolve_run(str(runs[task]), None, (), need_data=False, need_weights=True)
    model = load_for_eval(cfg, ckpt, "cpu")[0]
    with torch.no_grad():
        want = model(x)
    got = p.multi.heads(x)
    for k, v in want.items():
        assert torch.equal(got[k].float(), v.float()), k
