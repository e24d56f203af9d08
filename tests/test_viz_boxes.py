"""``adaanchor viz --boxes FILE``: each detected instance drawn in its own PNG, cropped as a box-trained run was
trained and as ``predict --boxes`` crops it; images matched to the detections by image id as ``predict`` matches them,
video frames by frame index."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adaanchor.anchors_viz import predict_image, visualize_command
from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.engine.run import load_for_eval, resolve_run
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError
from adaanchor.predict import Predictor
from adaanchor.predict.crops import box_affine
from test_anchors_viz import _video

SYNTH = {"n_train": 48, "n_val": 12, "seed": 0}  # conftest.TINY_SYNTH: the session's tiny benchmark cache is reused


@pytest.fixture(scope="module")
def run(tiny_bench, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("vizbox") / "adaanchor"
    train(build_config(None, [
        f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in SYNTH.items()), f"out_dir={out}",
        "model.tiny_width=8", "train.batch_size=8", "train.progress=false", "eval.batch_size=12",
        "strategy.name=adaanchor", "train.max_steps=2"]))
    return out


def _image(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (90, 140, 3), dtype=np.uint8)).save(path)
    return path


def _detections(path: Path, dets: list[tuple[int, list[float]]]) -> Path:
    path.write_text(json.dumps([{"image_id": i, "category_id": 1, "bbox": b, "score": 0.9} for i, b in dets]))
    return path


BOX_A, BOX_B = [10.0, 8.0, 40.0, 60.0], [70.0, 20.0, 50.0, 55.0]


def test_one_png_per_box_and_images_without_detections_said(run, tmp_path, capsys):
    a, b = _image(tmp_path / "000001.png", 0), _image(tmp_path / "000002.png", 1)
    dets = _detections(tmp_path / "dets.json", [(1, BOX_A), (1, BOX_B)])
    assert main(["viz", str(run), str(a), str(b), "--boxes", str(dets), "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["000001_box0_adaanchor.png", "000001_box1_adaanchor.png"]
    assert "1 image(s) have no detection in" in captured.err and "000002.png" in captured.err


def test_a_box_is_cropped_as_predict_crops_it(run):
    cfg, ckpt = resolve_run(run, need_weights=True)
    model, strategy, _ = load_for_eval(cfg, ckpt)
    img = np.random.default_rng(3).integers(0, 255, (90, 140, 3), dtype=np.uint8)
    size = tuple(cfg.data.input_size)
    pred = predict_image(model, strategy, img, size, box=BOX_B)
    np.testing.assert_allclose(pred["affine"], box_affine(BOX_B, size))
    assert pred["box"] == BOX_B and predict_image(model, strategy, img, size)["box"] is None  # drawn as a dashed box
    whole = predict_image(model, strategy, img, size)
    assert not np.allclose(pred["keypoints"], whole["keypoints"])  # another crop, other keypoints
    got = Predictor.from_run(run, device="cpu", fold_bn=False).predict(img, boxes=[BOX_B])
    np.testing.assert_allclose(pred["keypoints"], got.keypoints[0], atol=1e-3)
    with pytest.raises(AdaAnchorError, match="a box is for top-down models"):
        predict_image(model, strategy, img, size, multiple=8, box=BOX_B)
    # checked as Predictor.predict checks its boxes; a score after the box is taken, as there
    np.testing.assert_allclose(predict_image(model, strategy, img, size, box=[*BOX_B, 0.7])["keypoints"],
                               pred["keypoints"])
    for bad, why in (([10, 10, -5, 20], "positive finite width and height"), ([500, 500, 10, 10], "lies outside"),
                     ([BOX_A, BOX_B], "expected one"), (["a", 1, 2, 3], "must be numbers"),
                     ([1, 1, 1e-320, 1e-320], r"^box \[1.0, 1.0, 1e-320, 1e-320\] gives a crop of no finite size")):
        with pytest.raises(AdaAnchorError, match=why):
            predict_image(model, strategy, img, size, box=bad)


def test_video_frames_take_the_boxes_of_their_index(run, tmp_path):
    video = _video(tmp_path / "clip.mp4", 5)
    dets = _detections(tmp_path / "dets.json", [(0, [5.0, 5.0, 30.0, 40.0]), (2, [20.0, 10.0, 30.0, 40.0]),
                                                (2, [40.0, 10.0, 30.0, 40.0])])
    notes: list[str] = []
    paths = visualize_command(str(run), [str(video)], str(tmp_path / "o"), boxes=str(dets), notes=notes)
    assert [p.name for p in paths] == ["clip_f000000_box0_adaanchor.png", "clip_f000002_box0_adaanchor.png",
                                       "clip_f000002_box1_adaanchor.png"]
    assert not any("no detection" in n for n in notes)  # frames without one are passed over, not counted


def test_max_frames_counts_the_frames_with_a_detection(run, tmp_path):
    """Detections late in a video: the frames before them no longer use up --max-frames (0 PNGs, exit 0 before)."""
    video = _video(tmp_path / "clip.mp4", 9)
    dets = _detections(tmp_path / "dets.json", [(6, BOX_A), (7, BOX_A), (8, BOX_A)])
    paths = visualize_command(str(run), [str(video)], str(tmp_path / "o"), boxes=str(dets), max_frames=2)
    assert [p.name for p in paths] == ["clip_f000006_box0_adaanchor.png", "clip_f000007_box0_adaanchor.png"]


def test_a_box_that_misses_its_image_is_left_out_and_counted(run, tmp_path, capsys):
    """As predict leaves it out (exit 3), the other boxes and images drawn; before, the run stopped at it."""
    a, b = _image(tmp_path / "000001.png", 0), _image(tmp_path / "000002.png", 1)
    dets = _detections(tmp_path / "dets.json", [(1, [500.0, 500.0, 20.0, 20.0]), (1, BOX_A), (2, BOX_B)])
    assert main(["viz", str(run), str(a), str(b), "--boxes", str(dets), "--out", str(tmp_path / "o")]) == 3
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["000001_box1_adaanchor.png",
                                                                  "000002_box0_adaanchor.png"]
    assert "000001.png: detection 0: box [500.0, 500.0, 20.0, 20.0] lies outside the 140x90 (W x H) image" in out


def test_nothing_to_draw_is_an_error_and_leaves_no_folder(run, tmp_path, capsys):
    a = _image(tmp_path / "000001.png", 0)
    for i, dets in enumerate(([], [(9, BOX_A)])):
        f = _detections(tmp_path / f"dets{i}.json", dets)
        assert main(["viz", str(run), str(a), "--boxes", str(f), "--out", str(tmp_path / "o")]) == 2
        assert "nothing drawn (no input has a detection in" in capsys.readouterr().err
        assert not (tmp_path / "o").exists()


def test_a_file_of_the_same_name_does_not_take_a_listed_image_s_id(run, tmp_path):
    """--gt lists one 000000.png by its path: another 000000.png elsewhere was drawn with its people, unsaid."""
    listed, other = _image(tmp_path / "images" / "000000.png", 0), _image(tmp_path / "other" / "000000.png", 1)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 7, "file_name": "images/000000.png", "width": 140, "height": 90}],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    skipped: list[str] = []
    paths = visualize_command(str(run), [str(listed), str(other)], str(tmp_path / "o"),
                              boxes=str(_detections(tmp_path / "d.json", [(7, BOX_A)])), gt=str(gt), skipped=skipped)
    assert [p.name for p in paths] == ["000000_box0_adaanchor.png"]
    assert skipped == [f"{other}: its name matches image 7 of {gt}, which is {listed} (also an input)"]


def test_image_ids_from_gt_and_images_it_does_not_list(run, tmp_path):
    a, b = _image(tmp_path / "street.png", 0), _image(tmp_path / "park.png", 1)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 7, "file_name": "street.png", "width": 140, "height": 90}],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    dets = _detections(tmp_path / "dets.json", [(7, BOX_A)])
    skipped: list[str] = []
    paths = visualize_command(str(run), [str(a), str(b)], str(tmp_path / "o"), boxes=str(dets), gt=str(gt),
                              skipped=skipped)
    assert [p.name for p in paths] == ["street_box0_adaanchor.png"]
    assert len(skipped) == 1 and "park.png" in skipped[0] and "not among the images of" in skipped[0]


@pytest.mark.parametrize("case,why", [
    ("gt only", "--gt names the image ids of the --boxes detections; give --boxes too"),
    ("no ids", "detections name their images by image_id"),
    ("bad file", "dets.json"),
    ("empty name", "--boxes: no detections file given (an empty name)"),
    ("folder", "a folder, not a COCO detections JSON file"),
])
def test_bad_box_inputs_are_one_line_errors(run, tmp_path, case, why, capsys):
    img = _image(tmp_path / ("street.png" if case == "no ids" else "000001.png"), 0)
    dets = tmp_path / "dets.json"
    if case == "bad file":
        dets.write_text("[{\"image_id\": 1, \"bbox\": [1, 2]}]")
    else:
        _detections(dets, [(1, BOX_A)])
    args = ["--gt", str(dets)] if case == "gt only" else ["--boxes", str(dets)]
    if case in ("empty name", "folder"):
        args = ["--boxes", "" if case == "empty name" else str(tmp_path)]
    assert main(["viz", str(run), str(img), *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert why in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2


def test_gt_with_a_video_alone_is_refused(run, tmp_path):
    video = _video(tmp_path / "clip.mp4", 3)
    dets = _detections(tmp_path / "dets.json", [(0, BOX_A)])
    with pytest.raises(AdaAnchorError, match="a video's frames are matched to the detections by frame index"):
        visualize_command(str(run), [str(video)], str(tmp_path / "o"), boxes=str(dets), gt=str(dets))


def test_a_box_trained_run_without_boxes_is_told_of_them(run, tmp_path):
    notes: list[str] = []
    img = _image(tmp_path / "000001.png", 0)
    visualize_command(str(run), [str(img)], str(tmp_path / "o"), ["data.crop=box"], notes=notes)
    assert any("give --boxes (COCO detections) to crop each instance" in n for n in notes)
    notes.clear()
    dets = _detections(tmp_path / "dets.json", [(1, BOX_A)])
    visualize_command(str(run), [str(img)], str(tmp_path / "o2"), ["data.crop=box"], notes=notes, boxes=str(dets))
    assert not any("trained on instance boxes" in n for n in notes)


def test_min_det_score_leaves_low_scored_detections_out(run, tmp_path, capsys):
    a = _image(tmp_path / "000001.png", 0)
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": BOX_B, "score": 0.1},
                                {"image_id": 1, "category_id": 1, "bbox": BOX_A, "score": 0.9}]))
    assert main(["viz", str(run), str(a), "--boxes", str(dets), "--min-det-score", "0.5",
                 "--out", str(tmp_path / "o")]) == 0
    # numbered among the detections kept: the file's second row is box 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["000001_box0_adaanchor.png"]
    assert "1 of 2 detections left out (1 scored below 0.5)" in capsys.readouterr().err
    # nothing left: the error, and before it the note that says why
    assert main(["viz", str(run), str(a), "--boxes", str(dets), "--min-det-score", "0.95",
                 "--out", str(tmp_path / "q")]) == 2
    err = capsys.readouterr().err
    assert "2 of 2 detections left out (2 scored below 0.95)" in err and "nothing drawn" in err
    assert main(["viz", str(run), str(a), "--min-det-score", "0.5", "--out", str(tmp_path / "p")]) == 2
    assert "goes with --boxes" in capsys.readouterr().err


def test_a_gt_size_mismatch_is_said_in_viz_terms(run, tmp_path):
    """viz scores nothing: the reason names what it would draw wrong, not a score."""
    a = _image(tmp_path / "street.png", 0)
    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 7, "file_name": "street.png", "width": 280, "height": 180}],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    skipped: list[str] = []
    with pytest.raises(AdaAnchorError, match="nothing to draw"):
        visualize_command(str(run), [str(a)], str(tmp_path / "o"), boxes=str(_detections(tmp_path / "d.json",
                          [(7, BOX_A)])), gt=str(gt), skipped=skipped)
    assert skipped == [f"{a}: the image is 140x90 and {gt} says 280x180 for it (a resized copy?): the detections of "
                       "that id were made on the other size's image"]


def test_a_folder_the_user_made_stays_and_folders_made_for_nothing_go(run, tmp_path):
    a = _image(tmp_path / "000001.png", 0)
    dets = _detections(tmp_path / "dets.json", [(9, BOX_A)])  # no input's id: nothing drawn
    mine = tmp_path / "mine"
    mine.mkdir()
    assert main(["viz", str(run), str(a), "--boxes", str(dets), "--out", str(mine)]) == 2
    assert mine.is_dir()
    assert main(["viz", str(run), str(a), "--boxes", str(dets), "--out", str(tmp_path / "new" / "deep" / "out")]) == 2
    assert not (tmp_path / "new").exists()


def test_a_video_is_decoded_up_to_its_last_detection_only(run, tmp_path, monkeypatch):
    import adaanchor.viz_inputs as vi

    video = _video(tmp_path / "clip.mp4", 12)
    decoded: list[int] = []
    real = vi.read_frames

    def counting(*args, **kwargs):
        for fr in real(*args, **kwargs):
            decoded.append(fr.index)
            yield fr

    monkeypatch.setattr(vi, "read_frames", counting)
    dets = _detections(tmp_path / "dets.json", [(1, BOX_A), (3, BOX_A)])
    paths = visualize_command(str(run), [str(video)], str(tmp_path / "o"), boxes=str(dets))
    assert [p.name for p in paths] == ["clip_f000001_box0_adaanchor.png", "clip_f000003_box0_adaanchor.png"]
    assert max(decoded) <= 4  # the frame after the last detection ends the decoding (12 frames before)


def test_a_box_with_a_score_is_drawn(run, tmp_path):
    from adaanchor.anchors_draw import render_prediction

    cfg, ckpt = resolve_run(run, need_weights=True)
    model, strategy, _ = load_for_eval(cfg, ckpt)
    img = np.random.default_rng(3).integers(0, 255, (90, 140, 3), dtype=np.uint8)
    for box in ([*BOX_B, 0.7], [BOX_B], np.asarray([BOX_B])):
        pred = predict_image(model, strategy, img, tuple(cfg.data.input_size), box=box)
        assert pred["box"] == BOX_B
        assert render_prediction(img, pred, tmp_path / "b.png").is_file()


def test_files_of_one_name_matched_by_name_alone_are_all_left_out(run, tmp_path):
    """--gt in another folder lists 0001.png; two inputs of that name: neither can be told to be it (the first
    given took the id before)."""
    a, b = _image(tmp_path / "cam1" / "0001.png", 0), _image(tmp_path / "cam2" / "0001.png", 1)
    (tmp_path / "gt").mkdir()
    gt = tmp_path / "gt" / "gt.json"
    gt.write_text(json.dumps({"images": [{"id": 1, "file_name": "0001.png", "width": 140, "height": 90}],
                              "annotations": [], "categories": [{"id": 1, "name": "person"}]}))
    from adaanchor.predict.image_ids import image_ids
    from adaanchor.predict.sources import expand_sources

    srcs, _ = expand_sources([str(a), str(b)])
    skipped: list = []
    assert image_ids(srcs, gt, skipped.append) == {}  # predict's matching, which viz shares
    assert [s.source for s in skipped] == [str(a), str(b)]
    assert all("which of them it is cannot be told" in s.reason for s in skipped)
