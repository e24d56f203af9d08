"""``adaanchor predict``: outputs in every format (read back by ``adaanchor score``, pandas, sleap-io and pynwb),
videos and labelled videos, boxes, and skipped inputs with their exit codes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from adaanchor.cli import main
from adaanchor.predict import Predictor
from adaanchor.predict.sources import read_video, video_info


def _predict(*args: str) -> int:
    return main(["predict", *args, "--quiet", "--device", "cpu"])


@pytest.fixture(scope="module")
def folder_out(pred_runs, tiny_bench, tmp_path_factory):
    """``predict`` on the validation folder, ids from val.json, every format."""
    out = tmp_path_factory.mktemp("pred_folder")
    rc = _predict(str(pred_runs["adaanchor"]), str(tiny_bench / "images" / "val"), "--out", str(out),
                  "--gt", str(tiny_bench / "val.json"), "--format", "coco,dlc", "--format", "slp,nwb")
    return rc, out


def test_coco_results_pass_score(folder_out, tiny_bench, tmp_path, capsys):
    rc, out = folder_out
    assert rc == 0
    res = json.loads((out / "predictions.json").read_text())
    gt = json.loads((tiny_bench / "val.json").read_text())
    assert sorted(r["image_id"] for r in res) == sorted(im["id"] for im in gt["images"])
    assert all(len(r["keypoints"]) == 51 and 0 <= r["score"] <= 1 for r in res)
    capsys.readouterr()
    assert main(["score", str(tiny_bench / "val.json"), str(out / "predictions.json"), "--metric", "coco",
                 "--json", str(tmp_path / "s.json")]) == 0
    assert "AP" in json.loads((tmp_path / "s.json").read_text())


def test_dlc_csv_is_read_back_by_sleap_io_and_pandas(folder_out, pred_runs, val_images):
    import sleap_io as sio

    _, out = folder_out
    csv = out / "predictions.csv"
    df = pd.read_csv(csv, header=[0, 1, 2], index_col=0)
    assert df.columns.names == ["scorer", "bodyparts", "coords"] and len(df) == len(val_images)
    assert list(df.columns.get_level_values(2)[:3]) == ["x", "y", "likelihood"]
    ref = Predictor.from_run(pred_runs["adaanchor"], device="cpu").predict(val_images)
    labels = sio.load_dlc(str(csv))
    assert len(labels) == len(val_images)
    names = [n.name for n in labels.skeletons[0].nodes]  # sleap-io orders body parts by name
    spec_names = list(Predictor.from_run(pred_runs["adaanchor"], device="cpu").keypoint_names)
    order = [spec_names.index(n) for n in names]
    for lf in labels:
        i = [p.name for p in val_images].index(lf.video.filename[lf.frame_idx].rsplit("/", 1)[-1])
        np.testing.assert_allclose(lf.instances[0].numpy(), ref[i].keypoints[0][order], atol=2e-3)


def test_slp_round_trip(folder_out, val_images):
    import sleap_io as sio

    _, out = folder_out
    labels = sio.load_slp(str(out / "predictions.slp"), open_videos=False)
    assert len(labels) == len(val_images) and len(labels.skeletons[0].edges) > 0
    inst = labels[0].instances[0]
    assert type(inst).__name__ == "PredictedInstance" and inst.numpy(scores=True).shape == (17, 3)


def _nwb_series(path) -> dict[str, dict]:
    """``{PoseEstimation name: {"videos", "scorer", "software", "series": {keypoint: (times, xy, confidence)}}}``
    of an NWB predictions file, read with pynwb (not sleap-io: its reader numbers frames by position)."""
    import warnings

    from pynwb import NWBHDF5IO

    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ndx-pose's deprecations of the fields sleap-io writes
        with NWBHDF5IO(str(path), "r") as io:
            nwb = io.read()
            for module in nwb.processing.values():
                for name, pe in module.data_interfaces.items():
                    if type(pe).__name__ == "PoseEstimation":
                        series = {k: (np.asarray(s.get_timestamps()), np.asarray(s.data[:]), np.asarray(s.confidence[:]))
                                  for k, s in pe.pose_estimation_series.items()}
                        out[name] = {"videos": list(pe.original_videos[:]), "scorer": pe.scorer,
                                     "software": pe.source_software, "series": series}
    return out


def test_nwb_predictions_hold_what_the_other_files_hold(folder_out, pred_runs, val_images):
    import sleap_io as sio

    _, out = folder_out
    slp = sio.load_slp(str(out / "predictions.slp"), open_videos=False)
    nwb = sio.load_nwb(str(out / "predictions.nwb"))
    assert [n.name for n in nwb.skeletons[0].nodes] == [n.name for n in slp.skeletons[0].nodes]
    assert len(nwb.skeletons[0].edges) == len(slp.skeletons[0].edges) > 0
    assert len(nwb) == len(slp) == len(val_images)
    for a, b in zip(nwb, slp):  # image i is frame i of both
        assert a.frame_idx == b.frame_idx and type(a.instances[0]).__name__ == "PredictedInstance"
        np.testing.assert_allclose(a.instances[0].numpy(scores=True), b.instances[0].numpy(scores=True), atol=1e-4)
    coco = {r["file_name"]: np.asarray(r["keypoints"]).reshape(-1, 3) for r in json.loads((out / "predictions.json").read_text())}
    (pose,) = _nwb_series(out / "predictions.nwb").values()
    assert pose["videos"] == slp.videos[0].filename and pose["software"] == "adaanchor"
    assert pose["scorer"] == "adaanchor_adaanchor"
    names = list(Predictor.from_run(pred_runs["adaanchor"], device="cpu").keypoint_names)
    for k, name in enumerate(names):
        times, xy, conf = pose["series"][name]
        assert times.tolist() == list(range(len(val_images)))
        ref = np.stack([coco[f][k] for f in pose["videos"]])
        np.testing.assert_allclose(xy, ref[:, :2], atol=6e-4)
        np.testing.assert_allclose(conf, ref[:, 2], atol=6e-6)


def test_overlays_are_written(folder_out, val_images):
    _, out = folder_out
    pngs = sorted((out / "overlays").glob("*.png"))
    assert [p.name for p in pngs] == [p.name for p in val_images]
    im = Image.open(pngs[0])
    assert im.size == (4 * 72, 4 * 96)  # small images are enlarged for drawing


def test_video_source_labelled_video_and_csv_by_frame(pred_runs, val_video, tmp_path):
    out = tmp_path / "o"
    import sleap_io as sio

    assert _predict(str(pred_runs["adaanchor"]), str(val_video), "--out", str(out), "--save-video",
                    "--format", "coco,csv,slp,nwb") == 0
    labels = sio.load_slp(str(out / "clip.slp"), open_videos=False)
    assert [lf.frame_idx for lf in labels] == list(range(24)) and labels.videos[0].filename == str(val_video.resolve())
    nwb = sio.load_nwb(str(out / "clip.nwb"))
    assert [lf.frame_idx for lf in nwb] == list(range(24)) and nwb.videos[0].filename == str(val_video.resolve())
    for a, b in zip(nwb, labels):
        np.testing.assert_allclose(a.instances[0].numpy(scores=True), b.instances[0].numpy(scores=True), atol=1e-4)
    df = pd.read_csv(out / "clip.csv", header=[0, 1, 2], index_col=0)
    assert list(df.index) == list(range(24))
    res = json.loads((out / "clip.json").read_text())
    assert [r["frame"] for r in res] == list(range(24)) and [r["image_id"] for r in res] == list(range(24))
    np.testing.assert_allclose([r["time"] for r in res], np.arange(24) / 10, atol=1e-6)
    for pose in _nwb_series(out / "clip.nwb").values():  # the frames' presentation times, in seconds
        for times, _, _ in pose["series"].values():
            np.testing.assert_allclose(times, [r["time"] for r in res][: len(times)], atol=1e-6)
    info = video_info(out / "clip_labeled.mp4")
    assert info.frames == 24 and (info.width, info.height) == (288, 384) and info.fps == 10
    assert sum(1 for _ in read_video(out / "clip_labeled.mp4")) == 24
    # The video frames are the same predictions as the images they were made from.
    ref = Predictor.from_run(pred_runs["adaanchor"], device="cpu").predict(next(read_video(val_video)).image)
    np.testing.assert_allclose(np.asarray(res[0]["keypoints"]).reshape(17, 3)[:, :2], ref.keypoints[0], atol=2e-3)
    assert not (out / "overlays").exists()


def test_boxes_several_instances_per_image(pred_runs, val_images, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for p in val_images[:3]:
        (folder / p.name).write_bytes(p.read_bytes())
    dets = [{"image_id": 0, "category_id": 1, "bbox": [0, 0, 72, 96], "score": 1.0},
            {"image_id": 0, "category_id": 1, "bbox": [10, 10, 30, 40], "score": 0.8},
            {"image_id": 2, "category_id": 1, "bbox": [5, 5, 50, 80], "score": 0.7}]
    (tmp_path / "d.json").write_text(json.dumps(dets))
    out = tmp_path / "o"
    ckpt = pred_runs["regression"] / "checkpoints" / "last.pt"
    assert _predict(str(pred_runs["regression"]), str(folder / "*.png"), f"ckpt={ckpt}", "--out", str(out), "--boxes",
                    str(tmp_path / "d.json"), "--format", "coco,csv,nwb") == 0
    res = json.loads((out / "predictions.json").read_text())
    assert [r["image_id"] for r in res] == [0, 0, 2]
    assert [r["bbox"] for r in res] == [d["bbox"] for d in dets]
    df = pd.read_csv(out / "predictions.csv", header=[0, 1, 2, 3], index_col=0)
    assert df.columns.names[1] is not None and list(df.columns.get_level_values(1).unique()) == ["individual1", "individual2"]
    assert df.iloc[1].isna().all()  # image 1: no box, no instance
    assert df.iloc[0].notna().sum() == 2 * 17 * 2  # regression: x and y, no likelihood
    # NWB: one PoseEstimation per instance slot, as the CSV's individuals; no confidence is 1.0, as in the JSON.
    poses = _nwb_series(out / "predictions.nwb")
    assert sorted(poses) == ["track=individual1", "track=individual2"]
    assert poses["track=individual1"]["videos"] == [str(folder / p.name) for p in val_images[:3]]
    for track, frames, recs in (("track=individual1", [0, 2], [res[0], res[2]]), ("track=individual2", [0], [res[1]])):
        for k, name in enumerate(Predictor.from_run(pred_runs["regression"], device="cpu").keypoint_names):
            times, xy, conf = poses[track]["series"][name]
            assert times.tolist() == frames and conf.tolist() == [1.0] * len(frames)
            np.testing.assert_allclose(xy, [np.reshape(r["keypoints"], (17, 3))[k, :2] for r in recs], atol=6e-4)


def test_boxes_need_image_ids_of_the_inputs_and_unused_detections_are_said(pred_runs, val_images, tmp_path, capsys):
    """With a file stem that is not an integer the ids fell back to the input order: image 1's box went to
    5.png, the detection of id 5 was dropped and good.png got nothing, silently."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("5.png", "good.png"):
        (folder / name).write_bytes(val_images[0].read_bytes())
    dets = [{"image_id": 5, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [40, 50, 20, 20], "score": 0.9},
            {"image_id": 5, "category_id": 2, "bbox": [1, 2, 30, 40], "score": 0.9},
            {"image_id": 5, "category_id": 1, "bbox": [1, 2, 30, 40], "score": -0.5}]
    (tmp_path / "d.json").write_text(json.dumps(dets))
    run = str(pred_runs["adaanchor"])
    capsys.readouterr()
    assert _predict(run, str(folder / "5.png"), str(folder / "good.png"), "--out", str(tmp_path / "o"), "--boxes",
                    str(tmp_path / "d.json")) == 2
    err = capsys.readouterr().err
    assert "detections name their images by image_id" in err and "good.png has no integer file stem" in err
    assert not (tmp_path / "o").exists()
    # Ids from the file stems: 5.png gets its box; id 1 matches no input, and two records were left out: said.
    assert _predict(run, str(folder / "5.png"), "--out", str(tmp_path / "o2"), "--boxes", str(tmp_path / "d.json"),
                    "--no-overlays") == 0
    err = capsys.readouterr().err
    assert [r["bbox"] for r in json.loads((tmp_path / "o2" / "predictions.json").read_text())] == [[1, 2, 30, 40]]
    assert "2 of 4 detections left out (1 of a category other than 1, 1 scored below 0)" in err
    assert "1 detection(s) of 1 image id(s) not among the inputs, not used (e.g. 1)" in err


def test_skipped_inputs_are_counted_and_set_the_exit_code(pred_runs, val_images, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 truncated")
    out = tmp_path / "o"
    rc = _predict(str(pred_runs["adaanchor"]), str(val_images[0]), str(bad), str(tmp_path / "nope.png"), "--out",
                  str(out), "--no-overlays")
    text = capsys.readouterr().out
    assert rc == 3
    assert "predicted 1 frame(s)" in text and "skipped 2 input(s):" in text and "broken.jpg" in text
    assert len(json.loads((out / "predictions.json").read_text())) == 1
    rc = _predict(str(pred_runs["adaanchor"]), str(bad), "--out", str(tmp_path / "o2"))
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: nothing to predict: 1 input(s) skipped") and len(err.splitlines()) == 1
    assert not (tmp_path / "o2").exists()  # no empty output folder left behind
    # Only missing inputs: the same error before the model is loaded (the run need not even exist).
    assert _predict(str(tmp_path / "norun"), str(tmp_path / "nope.png"), "--out", str(tmp_path / "o3")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: nothing to predict: 1 input(s) skipped (") and "nope.png" in err
    assert not (tmp_path / "o3").exists()
    assert _predict(str(tmp_path / "norun"), str(val_images[0])) == 2
    with pytest.raises(SystemExit) as e:  # a usage error naming --format
        _predict(str(pred_runs["adaanchor"]), str(val_images[0]), "--format", "h5")
    assert e.value.code == 2 and "argument --format: unknown format 'h5'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("sig,code,name", [("SIGTERM", 143, "SIGTERM"), ("SIGINT", 130, "Ctrl-C (SIGINT)")])
def test_a_stop_keeps_complete_files_of_the_frames_so_far(pred_runs, tmp_path, sig, code, name):
    """A scheduler's SIGTERM or a first Ctrl-C mid-video: the frame in hand is finished, the JSON and CSV are closed
    complete (valid, every frame before the stop, none after), the summary says so, exit code 143 or 130 (a Ctrl-C
    printed "interrupted" alone, though the files were complete)."""
    import signal

    from root_helpers import predict_in_background, write_video

    video = write_video(tmp_path / "long.mp4", 3000, (72, 96), 25)
    out = tmp_path / "out"
    proc = predict_in_background(pred_runs["adaanchor"], video, out, "--format", "coco,csv")
    proc.send_signal(getattr(signal, sig))
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == code, (stdout, stderr)
    res = json.loads((out / "long.json").read_text())
    frames = [r["frame"] for r in res]
    assert 0 < len(frames) < 3000 and frames == list(range(len(frames)))
    assert f"stopped by {name} after {len(frames)} frame(s)" in stdout
    csv_rows = pd.read_csv(out / "long.csv", header=[0, 1, 2], index_col=0)
    assert len(csv_rows) == len(frames)
    assert not list(out.glob(".*.tmp"))


@pytest.mark.parametrize("images,message", [
    ([{"id": True, "file_name": "a.png"}], r"\[record images\[0\]\] field 'id': expected an integer image id, got True"),
    ([{"id": 5.5, "file_name": "a.png"}], r"field 'id': expected an integer image id, got 5.5"),
    ([{"id": "5", "file_name": "a.png"}], r"field 'id': expected an integer image id, got '5'"),
    ([{"id": 5, "file_name": "a.png"}, {"id": 6, "file_name": "a.png"}],
     r"\[record images\[1\]\] field 'file_name': a.png is listed with ids 5 and 6"),
])
def test_gt_image_ids_are_checked(images, message, tmp_path):
    """--gt ids were read loosely (true -> 1, 5.5 -> 5, "5" -> 5) and a file listed twice took the last id."""
    from adaanchor.errors import DataError
    from adaanchor.predict.image_ids import image_ids
    from adaanchor.predict.sources import Source

    gt = tmp_path / "gt.json"
    gt.write_text(json.dumps({"images": images}))
    with pytest.raises(DataError, match=message):
        image_ids([Source(tmp_path / "a.png", "image")], gt, lambda s: None)


def test_format_lists_name_a_format():
    from adaanchor.errors import AdaAnchorError
    from adaanchor.predict.writers import parse_formats

    assert parse_formats(None) == ["coco", "csv"] and parse_formats(["dlc,slp", "coco"]) == ["csv", "slp", "coco"]
    assert parse_formats(["nwb"]) == ["nwb"]
    for empty in ([""], [" , "]):  # wrote overlays alone, no prediction file, exit 0
        with pytest.raises(AdaAnchorError, match=r"no format named; choose from coco \(= json\), csv \(= dlc\), slp \(= sleap\), nwb"):
            parse_formats(empty)


def test_a_poses_missing_keypoints_are_unlabelled_in_the_csv_and_slp(tmp_path):
    """A multi-person run marks a pose's missing keypoints at (0, 0) with score 0; the CSV wrote them as a point
    at the image's corner and the .slp as visible points there."""
    import sleap_io as sio

    from adaanchor.predict.result import Prediction
    from adaanchor.predict.sources import Frame
    from adaanchor.predict.writers import DlcCsvWriter, SlpWriter

    kp = np.array([[[10.0, 12.0], [0.0, 0.0], [30.0, 5.0]]])
    pred = Prediction(kp, np.array([[0.8, 0.0, 0.6]], np.float32), None, np.array([[0.0, 0.0, 64.0, 48.0]]),
                      np.ones(1), np.zeros((1, 2, 3)), (48, 64))
    img = tmp_path / "a.png"
    Image.new("RGB", (64, 48)).save(img)
    frame = Frame(np.zeros((48, 64, 3), np.uint8), img)
    csv_w = DlcCsvWriter(tmp_path / "p.csv", keypoints=("a", "b", "c"), scorer="s")
    slp_w = SlpWriter(tmp_path / "p.slp", keypoints=("a", "b", "c"))
    for w in (csv_w, slp_w):
        w.write(frame, pred, 1)
        w.close()
    row = (tmp_path / "p.csv").read_text().splitlines()[-1].split(",")
    assert row[1:] == ["10.000", "12.000", "0.80000", "", "", "", "30.000", "5.000", "0.60000"]
    pts = sio.load_slp(str(tmp_path / "p.slp")).labeled_frames[0].instances[0].numpy()
    assert np.isnan(pts[1]).all() and np.allclose(pts[[0, 2]], [[10, 12], [30, 5]])


def test_the_writers_name_a_symlinked_image_by_its_own_name_not_its_target(tmp_path):
    """An image that is a symlink (git-annex, DataLad, the Hugging Face cache) was named in the COCO results, the
    CSV and the .slp by its target, a content hash."""
    import sleap_io as sio

    from adaanchor.predict.result import Prediction
    from adaanchor.predict.sources import Frame
    from adaanchor.predict.writers import CocoWriter, DlcCsvWriter, SlpWriter

    blob = tmp_path / "annex" / "SHA256E-s123--0a1b2c.png"
    blob.parent.mkdir()
    Image.new("RGB", (64, 48)).save(blob)
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "mouse 1.png").symlink_to(blob)
    pred = Prediction(np.ones((1, 2, 2)), np.full((1, 2), 0.5, np.float32), None, np.array([[0, 0, 64, 48.0]]),
                      np.ones(1), np.zeros((1, 2, 3)), (48, 64))
    frame = Frame(np.zeros((48, 64, 3), np.uint8), shots / "mouse 1.png")
    out = tmp_path / "out"
    out.mkdir()
    writers = (CocoWriter(out / "p.json"), DlcCsvWriter(out / "p.csv", ("a", "b"), "s"), SlpWriter(out / "p.slp", ("a", "b")))
    for w in writers:
        w.write(frame, pred, 1)
        w.close()
    assert json.loads((out / "p.json").read_text())[0]["file_name"] == str(shots / "mouse 1.png")
    assert (out / "p.csv").read_text().splitlines()[-1].split(",")[0] == "../shots/mouse 1.png"
    assert sio.load_slp(str(out / "p.slp")).videos[0].filename == [str(shots / "mouse 1.png")]


def test_frame_times_fill_lost_frames_from_their_neighbours():
    from adaanchor.predict.sleap_writers import frame_times

    # frames 0 and 5 lost: 0 extrapolated at the median interval, 5 interpolated, 7 and 8 extrapolated
    np.testing.assert_allclose(frame_times({1: 1.04, 2: 1.08, 3: 1.12, 4: 1.16, 6: 1.24}, 8),
                               [1.0, 1.04, 1.08, 1.12, 1.16, 1.20, 1.24, 1.28, 1.32])
    np.testing.assert_allclose(frame_times({}, 3), [0, 1, 2, 3])  # images: image i at time i
    np.testing.assert_allclose(frame_times({2: 5.0}, 3), [3.0, 4.0, 5.0, 6.0])  # one frame: its own time


def test_nwb_series_keep_each_keypoints_frames(tmp_path):
    """sleap-io (0.9.5) writes a keypoint's series on evenly spaced frames as a start and a rate cut to a whole
    number (every second frame: rate 0, all points at one time), fails on a video whose frames are not all there
    (IndexError) and on several untracked instances a frame; a frame without any instance makes no file at all."""
    import warnings

    from pynwb import NWBHDF5IO, validate

    from adaanchor.predict.result import Prediction
    from adaanchor.predict.sources import Frame
    from adaanchor.predict.writers import NwbWriter

    def pred(kp, sc):
        kp = np.asarray(kp, float).reshape(-1, 3, 2)
        n = len(kp)
        return Prediction(kp, np.asarray(sc, np.float32).reshape(n, 3), None, np.tile([0, 0, 64, 48.0], (n, 1)),
                          np.ones(n), np.zeros((n, 2, 3)), (48, 64))

    video = tmp_path / "clip.mp4"
    w = NwbWriter(tmp_path / "v.nwb", ("a", "b", "c"), ((0, 1),), max_instances=2)
    for i in (0, 1, 2, 3, 5):  # frame 4 lost; c missing (0, 0, score 0) on odd frames; a second animal on 0 and 2
        kp = [[i, 1], [2, 3], [0, 0] if i % 2 else [4, 5]]
        sc = [0.5, 0.25, 0 if i % 2 else 0.75]
        if i in (0, 2):
            kp, sc = [kp, [[9, 9], [8, 8], [7, 7]]], [sc, [0.1, 0.2, 0.3]]
        w.write(Frame(np.zeros((48, 64, 3), np.uint8), video, i, i / 10, "video"), pred(kp, sc), i)
    w.close()
    poses = _nwb_series(tmp_path / "v.nwb")
    assert poses["track=individual1"]["videos"] == [str(video)]
    want = {("track=individual1", "a"): [0, 1, 2, 3, 5], ("track=individual1", "c"): [0, 2],
            ("track=individual2", "a"): [0, 2], ("track=individual2", "c"): [0, 2]}
    for (track, key), frames in want.items():
        times, xy, conf = poses[track]["series"][key]
        np.testing.assert_allclose(times, [i / 10 for i in frames], err_msg=f"{track} {key}")  # the frames' times
        if track == "track=individual1":
            np.testing.assert_allclose(xy, [[i, 1] if key == "a" else [4, 5] for i in frames])
            np.testing.assert_allclose(conf, [0.5 if key == "a" else 0.75] * len(frames))
    # No instance at all: a file with the skeleton and no pose.
    empty = NwbWriter(tmp_path / "e.nwb", ("a", "b", "c"))
    empty.write(Frame(np.zeros((48, 64, 3), np.uint8), video, 0, 0.0, "video"), pred(np.zeros((0, 3, 2)), np.zeros((0, 3))), 0)
    empty.close()
    assert _nwb_series(tmp_path / "e.nwb") == {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("v.nwb", "e.nwb"):
            with NWBHDF5IO(str(tmp_path / name), "r") as io:
                assert validate(io=io) == [], name


def test_the_summary_tells_the_time_spent_writing_the_files(pred_runs, val_video, tmp_path):
    """A .slp or .nwb file is written whole when its video ends, seconds for a short video: the frames per second of
    the whole run were read as the model's speed (2 frames/s for 12 frames that were predicted at 16 a second)."""
    from adaanchor.predict.command import format_summary, predict_command

    res = predict_command(str(pred_runs["adaanchor"]), [str(val_video)], out=tmp_path / "o", formats=["nwb"],
                          progress=False, device="cpu")
    assert 0 < res["write_s"] < res["seconds"] and res["files"] == [tmp_path / "o" / f"{val_video.stem}.nwb"]
    base = {"frames": 10, "instances": 10, "seconds": 4.0, "fps": 2.5, "files": [], "skipped": []}
    assert format_summary({**base, "write_s": 3.0}, tmp_path).splitlines()[0] == (
        "predicted 10 frame(s), 10 instance(s) in 4.0 s (2.5 frames/s; 3.0 s of it writing the files)")
    # A share under a tenth of the run is not worth a word.
    assert format_summary({**base, "write_s": 0.3}, tmp_path).splitlines()[0] == (
        "predicted 10 frame(s), 10 instance(s) in 4.0 s (2.5 frames/s)")


def test_save_video_with_images_only_says_so(pred_runs, val_images, tmp_path, capsys):
    """--save-video labels videos; with images alone it was ignored without a word."""
    assert _predict(str(pred_runs["adaanchor"]), str(val_images[0]), "--out", str(tmp_path / "o"), "--save-video") == 0
    assert "note: --save-video labels videos: no input is a video (the images get overlay PNGs)" in capsys.readouterr().err


def test_a_second_run_into_one_out_folder_is_noted(pred_runs, val_images, tmp_path, capsys):
    """A second predict into the same --out replaced predictions.json and left the first run's overlays beside its
    own, without a word."""
    out = tmp_path / "o"
    assert _predict(str(pred_runs["adaanchor"]), str(val_images[0]), str(val_images[1]), "--out", str(out)) == 0
    assert "already holds" not in capsys.readouterr().err
    assert _predict(str(pred_runs["adaanchor"]), str(val_images[2]), "--out", str(out)) == 0
    err = capsys.readouterr().err
    assert (f"note: {out} already holds the outputs of an earlier predict (predictions.csv, predictions.json, 2 overlay "
            "PNG(s)): files of the same names are replaced, the others stay") in err


@pytest.mark.parametrize("key", ["out_dir", "resume"])
def test_a_training_key_after_the_sources_is_refused(pred_runs, val_images, tmp_path, capsys, key):
    """``predict RUN imgs out_dir=preds`` wrote into ./predictions: out_dir is a key of the run's config."""
    assert _predict(str(pred_runs["adaanchor"]), str(val_images[0]), f"{key}={tmp_path / 'x'}") == 2
    assert f"{key} is" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["viz", str(pred_runs["adaanchor"]), str(val_images[0]), "--out", str(tmp_path / "v"),
                 f"{key}={tmp_path / 'x'}"]) == 2
    assert not (tmp_path / "v").exists()


def test_the_run_and_an_input_swapped_are_named(pred_runs, val_images, tmp_path, capsys):
    """``predict imgs RUN`` said "RUN: folder holds no image or video file", ``viz imgs RUN`` "not a run directory",
    and an exported .onnx in the run's place "config file is 2064920 bytes, more than ..."."""
    run, imgs = pred_runs["adaanchor"], val_images[0].parent
    assert _predict(str(imgs), str(run)) == 2
    assert f"error: {run} is a run directory, not an input: the run goes first" in capsys.readouterr().err
    assert main(["viz", str(imgs), str(run), "--out", str(tmp_path / "v")]) == 2
    assert "it holds images or videos, an input; the first argument is the run" in capsys.readouterr().err
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07" * 10)
    assert _predict(str(onnx), str(imgs)) == 2
    assert f"error: {onnx}: an exported ONNX file, not a run" in capsys.readouterr().err


def test_a_data_folder_as_out_is_not_taken_for_earlier_outputs(tmp_path):
    """Any .json or .csv counted (a project's labels.csv), and the list ended in ", " without overlays."""
    from adaanchor.predict.out_folder import earlier_outputs

    (tmp_path / "labels.csv").write_text("x")
    (tmp_path / "test_coco.json").write_text("{}")
    (tmp_path / "clip.mp4").write_bytes(b"")
    assert earlier_outputs(tmp_path) == []
    (tmp_path / "predictions.json").write_text("[]")
    (tmp_path / "clip_labeled.mp4").write_bytes(b"")
    assert earlier_outputs(tmp_path)[0].startswith(f"{tmp_path} already holds the outputs of an earlier predict "
                                                   "(clip_labeled.mp4, predictions.json): ")


def test_temporary_files_of_a_predict_stopped_by_force_are_noted(tmp_path):
    """kill -9 left .vid.csv.tmp, .vid.json.tmp and .vid_labeled.tmp.mp4 in the folder, unsaid until the same video was
    predicted again."""
    from adaanchor.predict.out_folder import earlier_outputs

    (tmp_path / "overlays").mkdir()
    for name in (".vid.csv.tmp", ".vid_labeled.tmp.mp4", "overlays/.a.png.123.tmp"):
        (tmp_path / name).write_bytes(b"x" * 500_000)
    (tmp_path / ".hidden").write_text("a user's own dot file is no temporary file of predict")
    notes = earlier_outputs(tmp_path)
    assert notes == [f"{tmp_path} holds 3 temporary file(s) of a predict stopped before it could finish (.a.png.123.tmp, "
                     ".vid.csv.tmp, .vid_labeled.tmp.mp4; 1.5 MB): not outputs, remove them when no predict writes there"]
