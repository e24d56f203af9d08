"""NWB pose training data (ndx-pose) through sleap-io (data.format=nwb), checked against the same labels saved as a
SLEAP file and read with data.format=slp.

The tests build their own NWB files with sleap-io (``save_nwb``), over a video written with PyAV.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import DataError

# Not alphabetical: the keypoint order must be the skeleton's.
NODES = ("snout", "ear_left", "ear_right", "tailbase")
W, H = 64, 48


def write_video(path: Path, n: int, gray: bool = False) -> Path:
    """``n`` frames of a smooth gradient (a video codec keeps it recognisable), or uniform gray ones."""
    import av

    yy, xx = np.mgrid[0:H, 0:W]
    with av.open(str(path), mode="w") as c:
        s = c.add_stream("mpeg4", rate=Fraction(10))
        s.width, s.height, s.pix_fmt = W, H, "yuv420p"
        for i in range(n):
            img = (np.full((H, W, 3), 128) if gray else
                   np.stack([(xx * 4 + 20 * i) % 256, yy * 5, np.full_like(xx, 40 * i)], -1))
            for p in s.encode(av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def make_labels(folder: Path, n: int = 5, gray: bool = False, predicted: bool = False, seed: int = 0):
    """sleap-io ``Labels`` over a video in ``folder``: one instance per frame (two on frame 1 when labelled: sleap-io
    saves predictions without tracks only one a frame) with some points missing, user-labelled (or predicted); and
    ``{(frame, instance): (K, 2) points}``."""
    import sleap_io as sio

    video = sio.load_video(str(write_video(folder / "clip.mp4", n, gray)))
    sk = sio.Skeleton(list(NODES), edges=[("snout", "tailbase"), ("snout", "ear_left")], name="mouse")
    rng = np.random.default_rng(seed)
    frames, truth = [], {}
    for i in range(n):
        insts = []
        for j in range(2 if i == 1 and not predicted else 1):
            pts = rng.uniform(0, [W - 1, H - 1], (len(NODES), 2))
            pts[rng.random(len(NODES)) < 0.3] = np.nan
            pts[0] = (10.25 + j, 20.5)  # at least one labelled node
            truth[i, j] = pts
            insts.append(sio.PredictedInstance.from_numpy(pts, skeleton=sk, point_scores=np.full(len(NODES), 0.5),
                                                          score=0.5) if predicted
                         else sio.Instance.from_numpy(pts, skeleton=sk))
        frames.append(sio.LabeledFrame(video=video, frame_idx=i, instances=insts))
    return sio.Labels(labeled_frames=frames, videos=[video], skeletons=[sk]), truth


def save_both(labels, folder: Path) -> tuple[Path, Path]:
    import sleap_io as sio

    nwb, slp = folder / "session.nwb", folder / "labels.slp"
    sio.save_nwb(labels, str(nwb))
    sio.save_slp(labels, str(slp), verbose=False)
    return nwb, slp


def _by_frame(res) -> dict[tuple[int, int], np.ndarray]:
    out: dict[tuple[int, int], list[np.ndarray]] = {}
    for inst in res.instances:
        out.setdefault(inst.extra["frame"], []).append(np.where(inst.visibility[:, None] == 2, inst.keypoints, np.nan))
    return {(f, j): p for f, ps in out.items() for j, p in enumerate(sorted(ps, key=lambda a: a[0, 0]))}


@pytest.mark.parametrize("gray", [False, True])
def test_nwb_reads_what_the_same_labels_read_as_slp_give(tmp_path, gray):
    labels, truth = make_labels(tmp_path, gray=gray)
    nwb, slp = save_both(labels, tmp_path)
    spec = load_spec(nwb)  # data.spec may name the .nwb
    assert spec.name == "mouse" and spec.keypoints == NODES
    assert spec.flip_pairs == ((1, 2),)  # inferred from the names: NWB keeps no symmetries
    assert set(spec.skeleton) == {(0, 3), (0, 1)}
    assert load_spec(slp).keypoints == spec.keypoints
    got, ref = FORMATS["nwb"](nwb, spec), FORMATS["slp"](slp, spec)
    assert not got.skipped and len(got.instances) == len(ref.instances) == len(truth) == 6
    a, b = _by_frame(got), _by_frame(ref)
    assert sorted(a) == sorted(b) == sorted(truth)
    for key in truth:
        np.testing.assert_array_equal(a[key], b[key])
        np.testing.assert_allclose(a[key], truth[key])
    # The frames are decoded once into <file name>.frames/video0/ beside the .nwb, as sleap-io decodes them.
    import sleap_io as sio

    video = sio.load_video(str(tmp_path / "clip.mp4"))
    for inst in got.instances:
        assert Path(inst.image_path).parent == tmp_path / "session.nwb.frames" / "video0"
        frame = np.asarray(video[inst.extra["frame"]])
        assert frame.shape[2] == (1 if gray else 3)  # sleap-io's grayscale detection: one channel
        np.testing.assert_array_equal(np.asarray(Image.open(inst.image_path)), frame[..., 0] if gray else frame)


def test_a_video_named_relative_to_the_nwb_file_is_found_from_anywhere(tmp_path, monkeypatch):
    """NWB names external files relative to the NWB file; sleap-io opens them relative to the working folder."""
    import sleap_io as sio

    data = tmp_path / "dandiset" / "sub-1"
    data.mkdir(parents=True)
    labels, truth = make_labels(data)
    monkeypatch.chdir(data)
    labels.videos[0].replace_filename("clip.mp4")
    sio.save_nwb(labels, "session.nwb")
    monkeypatch.chdir(tmp_path)
    res = FORMATS["nwb"](data / "session.nwb", load_spec(data / "session.nwb"))
    assert not res.skipped and len(res.instances) == len(truth)


def test_an_image_sequence_video_is_a_clear_error(tmp_path, capsys):
    """sleap-io 0.9.5 writes an NWB file over an image sequence but cannot read it back (ValueError: Unknown video
    file type: <StrDataset ...>)."""
    import sleap_io as sio

    files = []
    for i in range(3):
        f = tmp_path / "frames" / f"f{i:03d}.png"
        f.parent.mkdir(exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 40 * i, np.uint8)).save(f)
        files.append(str(f))
    labels, _ = make_labels(tmp_path, n=3)
    video = sio.Video.from_filename(files)
    for lf in labels.labeled_frames:
        lf.video = video
    labels.videos = [video]
    nwb = tmp_path / "seq.nwb"
    sio.save_nwb(labels, str(nwb))
    with pytest.raises(DataError, match=r"seq\.nwb field 'video': the training data's video is an image sequence "
                                        r"\(3 image files\), which sleap-io .* cannot read from an NWB file"):
        load_spec(nwb)
    capsys.readouterr()
    assert main(["data", "stats", "data.format=nwb", f"data.root={nwb}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {nwb}") and "image sequence" in err and "Traceback" not in err


@pytest.mark.filterwarnings("ignore:Timeseries has a rate")  # sleap-io writing the predictions
@pytest.mark.parametrize("suffix", [".nwb", ".slp"])
def test_a_file_of_predictions_only_says_it_holds_no_labelled_instance(tmp_path, capsys, suffix):
    """sleap-io saves Labels with only predicted instances as NWB predictions (PoseEstimation); a SLEAP file can hold
    only predictions too. Both said 'no usable instance in any split' after 'no problems found'."""
    import sleap_io as sio

    labels, _ = make_labels(tmp_path, n=3, predicted=True)
    path = tmp_path / f"pred{suffix}"
    (sio.save_nwb if suffix == ".nwb" else sio.save_slp)(labels, str(path))
    fmt = suffix[1:]
    with pytest.raises(DataError, match=r"no labelled instance to train on: the file holds only predicted "
                                        r"instances \(a model's output: 3 on 3 frames\)"):
        FORMATS[fmt](path, load_spec(path))
    capsys.readouterr()
    assert main(["data", "stats", f"data.format={fmt}", f"data.root={path}"]) == 2
    assert f"error: {path} field 'instances': no labelled instance to train on" in capsys.readouterr().err


def test_data_stats_and_format_hints(tmp_path, capsys):
    labels, truth = make_labels(tmp_path)
    nwb, _ = save_both(labels, tmp_path)
    capsys.readouterr()
    assert main(["data", "stats", "data.format=nwb", f"data.root={nwb}", "data.crop=box"]) == 0
    out = capsys.readouterr().out
    total = next(ln for ln in out.splitlines() if ln.startswith("| total"))
    assert total.split("|")[3].strip() == str(len(truth)) and "no problems found" in out
    # Read as another format (custom data's default is dlc), the error says which format it looks like.
    assert main(["data", "stats", f"data.root={nwb}"]) == 2
    assert f"({nwb} looks like an NWB file: data.format=nwb)" in capsys.readouterr().err


@pytest.mark.slow
def test_train_on_an_nwb_file_without_a_config_file(tmp_path, capsys):
    labels, _ = make_labels(tmp_path, n=8)
    nwb, _ = save_both(labels, tmp_path)
    out = tmp_path / "run"
    rc = main(["train", "data.format=nwb", f"data.root={nwb}", f"out_dir={out}", "model.backbone=tiny",
               "model.weights=null", "model.tiny_width=8", "data.input_size=[64,48]", "train.max_steps=3",
               "train.batch_size=4", "train.progress=false", "train.eval_every=1", "data.crop=box"])
    assert rc == 0, capsys.readouterr().err
    assert any((out / "checkpoints").glob("*.pt"))
    own = yaml.safe_load((out / "spec.yaml").read_text())  # the spec read from the file, written into the run
    assert own["keypoints"] == list(NODES) and own["flip_pairs"] == [["ear_left", "ear_right"]]
