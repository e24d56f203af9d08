"""``data.truncation``: crops shifted off the instance (seeded on evaluation, random in training, nothing drawn when
off), the landmarks they cut off scored apart (``nme_out``), and the option refused where it would do nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from adaanchor.config import build_config
from adaanchor.data.build import build_image_dataset
from adaanchor.data.data_config import DATA_DEFAULTS
from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import apply_affine
from adaanchor.data.truncation import TRUNCATION_DEFAULTS, Truncation, cut_off_counts
from adaanchor.demo import DEMO_CONFIG
from adaanchor.errors import AdaAnchorError
from adaanchor.metrics.nme import nme_metrics

SPEC = load_spec("coco")
SIZE = np.array([80.0, 60.0])


def test_offsets_are_seeded_per_sample_and_within_the_shift():
    t = Truncation(1.0, 0.3, seed=5)
    for i in range(50):
        o = t.offset(i, SIZE)
        np.testing.assert_array_equal(o, Truncation(1.0, 0.3, seed=5).offset(i, SIZE))  # (seed, i) alone decide
        r = math.hypot(*(o / SIZE))  # the shift as a fraction of the crop, along its direction
        assert 0.15 - 1e-9 <= r <= 0.3 + 1e-9
    assert not np.array_equal(t.offset(0, SIZE), Truncation(1.0, 0.3, seed=6).offset(0, SIZE))


def test_the_probability_is_the_share_of_shifted_crops():
    t = Truncation(0.5, 0.3, seed=0)
    shifted = np.mean([np.any(t.offset(i, SIZE) != 0) for i in range(2000)])
    assert 0.46 < shifted < 0.54


def test_off_draws_nothing_from_the_training_stream():
    """p = 0 must leave the training augmentation exactly as without the option."""
    np.random.seed(3)
    assert not Truncation(0.0, 0.3).offset(7, SIZE).any()
    untouched = np.random.rand()
    np.random.seed(3)
    Truncation(1.0, 0.3).offset(7, SIZE)  # training: numpy's global RNG, seeded per sample by the sampler
    assert np.random.rand() != untouched
    np.random.seed(3)
    assert np.random.rand() == untouched


@pytest.mark.parametrize("args", [(1.5, 0.3), (-0.1, 0.3), (0.5, 0.0), (0.5, 1.5)])
def test_out_of_range_values_are_refused(args):
    with pytest.raises(ValueError, match="truncation"):
        Truncation(*args)


def _dataset(tmp_path, truncation):
    path = tmp_path / "a.png"
    Image.new("RGB", (100, 80), (90, 90, 90)).save(path)
    kp = np.stack([np.linspace(22, 78, 17), np.linspace(20, 60, 17)], axis=1)
    inst = Instance(str(path), 1, 1, kp, np.full(17, 2), np.array([20.0, 18.0, 60.0, 44.0]), 2640.0)
    return TopDownDataset([inst], SPEC, (64, 48), crop="box", truncation=truncation), kp


def test_a_shifted_crop_moves_the_keypoints_and_cuts_some_off(tmp_path):
    plain, kp = _dataset(tmp_path, None)
    t = Truncation(1.0, 0.3, seed=0)
    cut, _ = _dataset(tmp_path, t)
    a, b = plain[0], cut[0]
    # The same crop, translated: every keypoint moves by the same amount, the shift in input pixels.
    d = (b["keypoints"] - a["keypoints"])[0].numpy()
    np.testing.assert_allclose(d, np.broadcast_to(d[0], d.shape), atol=1e-4)
    assert np.linalg.norm(d[0]) > 5
    np.testing.assert_allclose(apply_affine(b["meta"]["affine"], kp), b["keypoints"][0].numpy(), atol=1e-4)
    xy, vis = b["keypoints"][0].numpy(), b["visibility"][0].numpy()
    off = (xy[:, 0] < -0.5) | (xy[:, 0] > 63.5) | (xy[:, 1] < -0.5) | (xy[:, 1] > 47.5)
    assert off.any() and not off.all()
    np.testing.assert_array_equal(vis, np.where(off, 1, 2))  # cut off: labelled, not visible
    assert b["meta"]["labelled_visibility"] == [2] * 17
    np.testing.assert_array_equal(cut[0]["keypoints"], b["keypoints"])  # seeded: the same every time


def test_the_config_section_builds_per_split():
    section = {"train": 0.5}  # missing keys take the defaults
    assert Truncation.from_config(section, train=False) is None  # off on the evaluation split
    t = Truncation.from_config(section, train=True)
    assert t.p == 0.5 and t.seed is None and t.shift == TRUNCATION_DEFAULTS["shift"]
    assert Truncation.from_config({**section, "val": 1.0}, train=False).seed == TRUNCATION_DEFAULTS["seed"]
    assert Truncation.from_config(DATA_DEFAULTS["truncation"], train=True) is None  # the default: no truncation
    assert Truncation.from_config(None, train=True) is None


@pytest.mark.parametrize("over,text", [("data.truncation.val=1.5", "data.truncation.val"),
                                       ("data.truncation.shift=0", "data.truncation.shift")])
def test_bad_values_are_refused_by_the_config(over, text):
    with pytest.raises(AdaAnchorError, match=text):
        build_config(DEMO_CONFIG, [over])


@pytest.mark.parametrize("over", [{"truncation": {"train": 0.5}}, {"occlusion": {"val": True}}])
def test_the_multi_person_data_refuses_top_down_options(over):
    cfg = {**DATA_DEFAULTS, **over}
    with pytest.raises(AdaAnchorError, match="top-down crops"):
        build_image_dataset(cfg, "val")


def test_nme_split_by_the_input_edge():
    gt = np.array([[[0.0, 0.0], [10.0, 0.0], [5.0, 5.0], [5.0, 9.0]]])
    pred = gt + np.array([[[1.0, 0.0], [0.0, 2.0], [0.0, 3.0], [0.0, 4.0]]])
    vis = np.array([[2, 2, 1, 2]])
    outside = np.array([[False, False, False, True]])
    d = nme_metrics(pred, gt, vis, norm=(0, 1), outside=outside)  # normaliser: 10 px
    assert d["NME_vis_in"] == pytest.approx(0.15) and d["NME_inv_in"] == pytest.approx(0.3)
    assert d["NME_out"] == pytest.approx(0.4)
    assert d["NME_vis"] == pytest.approx((0.1 + 0.2 + 0.4) / 3)  # the annotation's flags, as before
    assert "NME_out" not in nme_metrics(pred, gt, vis, norm=(0, 1))
    assert nme_metrics(pred, gt, vis, norm=(0, 1), outside=np.zeros((1, 4), bool))["NME_out"] is None
    with pytest.raises(ValueError, match=r"outside must be \(M, K\) = \(1, 4\) like vis"):
        nme_metrics(pred, gt, vis, norm=(0, 1), outside=np.zeros((1, 3), bool))


def test_eval_prints_the_split_only_when_landmarks_were_cut_off():
    from adaanchor.cli.eval_command import format_eval

    m = {"vis_error": 1.0, "inv_error": 2.0, "vis_score": 0.9, "inv_score": 0.5, "nme": 0.05, "nme_vis": 0.04,
         "nme_inv": None, "fr": 0.01}
    assert "input's edge" not in format_eval("fixanchor", m)
    text = format_eval("fixanchor", {**m, "nme_out": 0.12, "nme_vis_in": 0.04, "nme_inv_in": None})
    assert "NME by the input's edge: inside it visible 4.00%, occluded N/A; outside the input (the image's or the crop's edge) 12.00%" in text


@pytest.mark.parametrize("crop", ["box", "image"])
def test_cut_off_counts_match_the_decoded_items(tmp_path, crop):
    """The affines alone give what the evaluation's items cut off (no image decoded for crop=box)."""
    path = tmp_path / "a.png"
    Image.new("RGB", (100, 80), (90, 90, 90)).save(path)
    rng = np.random.default_rng(0)
    insts = []
    for _ in range(40):
        kp = rng.uniform([20, 18], [80, 62], size=(17, 2))
        vis = rng.choice([0, 1, 2], size=17, p=[0.1, 0.2, 0.7])
        insts.append(Instance(str(path), 1, 1, kp, vis, np.array([20.0, 18.0, 60.0, 44.0]), 2640.0))
    t = Truncation(0.6, 0.3, seed=4)
    ds = TopDownDataset(insts if crop == "box" else insts[:1], SPEC, (64, 48), crop=crop, truncation=t)
    c = cut_off_counts(ds)
    cut, cut_inst, shifted = 0, 0, 0
    for i in range(len(ds)):
        item = ds[i]
        xy, lab = item["keypoints"][0].numpy(), np.asarray(item["meta"]["labelled_visibility"]) > 0
        off = lab & ((xy[:, 0] < -0.5) | (xy[:, 0] > 63.5) | (xy[:, 1] < -0.5) | (xy[:, 1] > 47.5))
        cut, cut_inst = cut + int(off.sum()), cut_inst + int(off.any())
        shifted += int(np.any(t.offset(i, SIZE)))
    assert c == {"instances": len(ds), "shifted": shifted, "cut_instances": cut_inst, "cut": cut,
                 "labelled": sum(int((np.asarray(i.visibility) > 0).sum()) for i in ds.instances)}
    if crop == "box":
        assert 0 < c["cut_instances"] < c["shifted"] <= c["instances"] and c["cut"] > 0


def test_data_stats_reports_what_the_crops_cut_off(tmp_path):
    from adaanchor.data.stats import dataset_stats, format_stats
    from root_helpers import write_face_csv

    write_face_csv(tmp_path / "faces", {f"P_{i}": 3 for i in range(10)}, name="training_frames_keypoints.csv",
                   images="training")
    cfg = build_config("faces/truncated_ytfaces68", [f"data.root={tmp_path / 'faces'}", "data.truncation.val=1.0"])
    d = dataset_stats(cfg)
    c = d["truncation"]["val_counts"]
    assert d["truncation"]["train"] == 0.5 and c["shifted"] == c["instances"] == d["splits"]["val"]["instances"]
    assert 0 < c["cut"] < c["labelled"] == d["splits"]["val"]["keypoints"]["v2"]
    text = format_stats(d)
    assert f"{c['shifted']} of {c['instances']} val crops shifted" in text and "lose keypoints to the input's edge" in text
    plain = dataset_stats(build_config("faces/truncated_ytfaces68", [f"data.root={tmp_path / 'faces'}",
                                                                    "data.truncation.val=0", "data.truncation.train=0"]))
    assert "truncation" not in plain and "data.truncation" not in format_stats(plain)
    train_only = dataset_stats(build_config("faces/truncated_ytfaces68", [f"data.root={tmp_path / 'faces'}",
                                                                         "data.truncation.val=0"]))
    assert train_only["truncation"] == {"train": 0.5, "val": 0.0, "shift": 0.3}  # nothing on val to count


def test_the_stats_line_says_which_crops_are_shifted():
    from adaanchor.data.crop_stats import truncation_line

    assert truncation_line({"train": 0.5, "val": 0.0, "shift": 0.3, "val_counts": None}) == (
        "data.truncation (shift 0.3): train crops shifted with probability 0.5, drawn anew every epoch; "
        "val crops not shifted")
    line = truncation_line({"train": 0.0, "val": 1.0, "shift": 0.2, "error": "a.png: image file not found"})
    assert line.startswith("data.truncation (shift 0.2): train crops not shifted; val with probability 1")
    assert line.endswith("(not counted: a.png: image file not found)")


def test_data_stats_counts_what_the_seeded_occluders_cover(tmp_path):
    """The occlusion line's count is what the evaluation's items mark occluded (the same occluders, by index)."""
    from adaanchor.data.build import build_dataset
    from adaanchor.data.crop_stats import occlusion_line
    from adaanchor.data.stats import dataset_stats, format_stats
    from root_helpers import write_face_csv

    write_face_csv(tmp_path / "faces", {f"P_{i}": 3 for i in range(10)}, name="training_frames_keypoints.csv",
                   images="training")
    cfg = build_config("faces/occluded_ytfaces68", [f"data.root={tmp_path / 'faces'}"])
    d = dataset_stats(cfg)
    c = d["occlusion"]["val_counts"]
    ds = build_dataset(cfg.data, "val", train=False, verbose=False)
    # An item's flags are those after its occluders (meta's labelled_visibility too): compare with the records'.
    hidden = sum(int(((np.asarray(ds.instances[i].visibility) == 2) & (ds[i]["visibility"][0].numpy() == 1)).sum())
                 for i in range(len(ds)))
    assert c["hidden"] == hidden > 0 and c["instances"] == len(ds) and c["unread"] == 0
    assert c["visible"] == d["splits"]["val"]["keypoints"]["v2"]
    assert f"{c['hidden']} of {c['visible']} visible keypoints" in format_stats(d)
    assert occlusion_line({"train": True, "val": False, "coverage": 0.25}) == (
        "data.occlusion (coverage 0.25): train: random occluders every epoch; val: no occluders")
