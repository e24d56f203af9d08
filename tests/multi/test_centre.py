"""Single-stage pose from person centres (CentreStrategy): oracle decoding, where the pose offsets are read, pose
NMS, the strategy contract, a few training steps per centre type, and the demo's command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from adaanchor.cli import main
from adaanchor.coords import cell_centers
from adaanchor.engine.bottomup import train_steps
from adaanchor.engine.centre import build_centre_model
from adaanchor.models.backbones import build_backbone
from adaanchor.strategies import compute_loss
from adaanchor.strategies.centre import CENTRE_DEFAULTS, CentreStrategy, build_centre, instance_centres, pose_nms
from adaanchor.strategies.grouping import Poses
from adaanchor.strategies.heatmap import HeatmapStrategy

W, H, S, K = 128, 96, 4, 5
h, w = H // S, W // S
CENTRES = ("heatmap", "fixanchor", "adaanchor")


def people() -> tuple[torch.Tensor, torch.Tensor]:
    """``(1, 3, K, 2)`` keypoints of three people whose centres are far apart, and their visibility (one
    unlabelled keypoint, one instance of padding with none)."""
    rng = np.random.default_rng(0)
    centres = np.array([[24.0, 30.0], [70.0, 60.0], [104.0, 28.0]])
    kp = centres[:, None] + rng.uniform(-14, 14, (3, K, 2))
    kp = np.concatenate([kp, np.zeros((1, K, 2))])
    vis = np.full((4, K), 2)
    vis[1, 3] = 0
    vis[3] = 0
    return torch.tensor(kp, dtype=torch.float32)[None], torch.tensor(vis)[None]


def oracle(strategy: CentreStrategy, kp: torch.Tensor, vis: torch.Tensor) -> dict[str, torch.Tensor]:
    """The strategy's targets used as outputs (confidence logit 2 at the anchor positives, -30 elsewhere)."""
    zeros = {name: torch.zeros(kp.shape[0], ch, h, w) for name, ch in strategy.heads.items()}
    out = {name: t.value.clone() for name, t in strategy.encode(zeros, kp, vis).targets.items()}
    if "conf" in out:
        out["conf"] = torch.where(out["conf"] > 0.5, torch.tensor(2.0), torch.tensor(-30.0))
    return out


def assert_exact(poses: Poses, kp: torch.Tensor, vis: torch.Tensor) -> None:
    """One pose per labelled person, each keypoint within 1e-3 px of the truth (labelled keypoints)."""
    truth = [(kp[0, n].numpy(), vis[0, n].numpy() > 0) for n in range(kp.shape[1]) if vis[0, n].any()]
    assert poses.keypoints.shape == (len(truth), K, 3)
    for gt, lab in truth:
        err = np.abs(poses.keypoints[:, :, :2] - gt[None]).max(axis=-1)  # (P, K)
        assert (err[:, lab].max(axis=1) < 1e-3).sum() == 1


@pytest.mark.parametrize("name", CENTRES)
@pytest.mark.parametrize("read_at", ["centre", "cell"])
def test_oracle_outputs_decode_to_the_ground_truth(name, read_at):
    st = build_centre({"name": name}, {"read_at": read_at}, K, S, (W, H))
    kp, vis = people()
    poses = st.decode_poses(oracle(st, kp, vis))[0]
    assert_exact(poses, kp, vis)
    # Pose score = centre confidence, also the score of every keypoint.
    expected = 1.0 if name == "heatmap" else 1 / (1 + math.exp(-2.0))
    assert np.allclose(poses.score, expected) and np.allclose(poses.keypoints[..., 2], expected)


def test_centre_is_the_mean_of_the_labelled_keypoints():
    kp, vis = people()
    c, cv = instance_centres(kp, vis)
    assert c.shape == (1, 4, 1, 2) and cv.tolist() == [[[2.0], [2.0], [2.0], [0.0]]]
    assert torch.allclose(c[0, 1, 0], kp[0, 1][vis[0, 1] > 0].mean(0))


def _far_anchor(st: CentreStrategy, field: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    """Outputs with one confident anchor cell 5 cells left of a centre at a cell-centre point; ``poseoff`` =
    ``field`` everywhere. Returns outputs, the anchor cell's centre and the centre point (input pixels)."""
    grid = cell_centers(h, w, S)
    cell, centre = 10 * w + 10, grid[10 * w + 15]
    out = {"conf": torch.full((1, 1, h, w), -30.0), "offset": torch.zeros(1, 2, h, w), "poseoff": field}
    out["conf"].view(-1)[cell] = 3.0
    out["offset"][0, :, 10, 10] = (centre - grid[cell]) / S
    if "local" in st.heads:
        out["local"] = torch.zeros(1, 2, h, w)
    return out, grid[cell], centre


@pytest.mark.parametrize("assign", ["adaanchor", "fixanchor"])
def test_where_the_pose_offsets_are_read(assign):
    """``centre``: bilinearly at the located centre point; ``cell``: at the anchor cell that produced it."""
    field = torch.zeros(1, 2 * K, h, w)
    field[0, :, 10, 10] = 1.0  # only the anchor cell says "one cell right and down"
    field[0, :, 10, 15] = -2.0  # only the centre's cell says "two cells left and up"
    for read_at, want in (("cell", lambda a, c: a + S), ("centre", lambda a, c: c - 2 * S)):
        st = build_centre({"name": assign}, {"read_at": read_at}, K, S, (W, H))
        out, anchor, centre = _far_anchor(st, field)
        dec = st.decode_centres(out)
        assert dec.valid[0, 0].sum() == 1 and torch.allclose(dec.xy[0, 0, 0], centre)
        poses = st.decode_poses(out)[0]
        assert np.allclose(poses.keypoints[0, :, :2], want(anchor, centre).numpy()[None], atol=1e-4)


def test_bilinear_read_between_cells():
    """At a point between cell centres the offsets are interpolated: a linear field gives the exact point."""
    st = build_centre({"name": "adaanchor"}, {"read_at": "centre"}, K, S, (W, H))
    target = torch.tensor([50.0, 40.0])
    grid = cell_centers(h, w, S)
    field = ((target - grid) / S).T.reshape(1, 2, h, w).repeat(1, K, 1, 1)
    out, _, _ = _far_anchor(st, field)
    out["offset"][0, :, 10, 10] += torch.tensor([0.37, 0.61])
    poses = st.decode_poses(out)[0]
    assert np.allclose(poses.keypoints[0, :, :2], target.numpy()[None], atol=1e-3)


def test_pose_nms_drops_a_duplicate():
    base = np.stack([np.linspace(10, 50, K), np.linspace(20, 80, K)], -1)  # box 40 x 60: sqrt(area) ~ 49
    other = base + np.array([30.0, 0.0])
    cands = np.stack([base, base + 1.5, other, other - 20.0])
    keep = pose_nms(cands, np.array([True, True, True, False]), threshold=0.1, joints=0.5)
    assert keep.tolist() == [True, False, True, False]


def test_pose_nms_scale_of_a_flat_pose():
    """A pose whose keypoints lie on a horizontal line has a keypoint box of area 0: the box scale (at least 1 px)
    keeps a copy 2 px away, DEKR's diagonal scale (100 px here, threshold 10 px) drops it; an upright person's
    copy 6 px away is kept by the box scale (threshold 4.9 px) and dropped by the diagonal (7.2 px)."""
    flat = np.stack([np.linspace(0, 100, K), np.full(K, 50.0)], -1)
    cands = np.stack([flat, flat + np.array([0.0, 2.0])])
    both = np.array([True, True])
    assert pose_nms(cands, both, 0.1, 0.5).tolist() == [True, True]
    assert pose_nms(cands, both, 0.1, 0.5, scale="diagonal").tolist() == [True, False]
    upright = np.stack([np.linspace(10, 50, K), np.linspace(20, 80, K)], -1)  # box 40 x 60
    cands = np.stack([upright, upright + np.array([6.0, 0.0])])
    assert pose_nms(cands, both, 0.1, 0.5).tolist() == [True, True]
    assert pose_nms(cands, both, 0.1, 0.5, scale="diagonal").tolist() == [True, False]
    st = build_centre({"name": "fixanchor"}, {"nms_scale": "diagonal"}, K, S, (W, H))
    assert st.options["nms_scale"] == "diagonal"


def test_decode_poses_drops_a_duplicate_pose():
    """Two confident centres three cells apart (not merged) whose poses are one person: one pose is left, the
    more confident one; with NMS made impossible both are."""
    st = build_centre({"name": "fixanchor"}, {"read_at": "cell"}, K, S, (W, H))
    base = torch.stack([torch.linspace(10, 50, K), torch.linspace(20, 80, K)], -1)  # (K, 2)
    grid = cell_centers(h, w, S)
    out = {name: torch.zeros(1, ch, h, w) for name, ch in st.heads.items()}
    out["conf"].fill_(-30.0)
    for cell, logit, noise in ((10 * w + 8, 2.0, 0.0), (10 * w + 11, 1.0, 0.5)):
        out["conf"].view(-1)[cell] = logit
        out["poseoff"].view(2 * K, -1)[:, cell] = ((base + noise - grid[cell]) / S).reshape(-1)
    assert st.decode_centres(out).valid.sum() == 2
    poses = st.decode_poses(out)[0]
    assert len(poses.score) == 1 and np.allclose(poses.score, 1 / (1 + math.exp(-2.0)))
    assert np.allclose(poses.keypoints[0, :, :2], base.numpy(), atol=1e-4)
    both = CentreStrategy(st.centre, K, read_at="cell", nms_joints=2.0).decode_poses(out)[0]
    assert len(both.score) == 2


@pytest.mark.parametrize("name", CENTRES)
def test_contract_heads_and_targets_mirror_outputs(name):
    st = build_centre({"name": name}, {}, K, S, (W, H))
    assert st.heads["poseoff"] == 2 * K and st.losses["poseoff"][0] == "l1_scaled"
    assert {k: v for k, v in st.heads.items() if k != "poseoff"} == st.centre.heads and st.centre.num_keypoints == 1
    assert set(st.losses) == set(st.heads) and st.branches == {"poseoff": (K, CENTRE_DEFAULTS["branch_width"])}
    torch.manual_seed(0)
    model = build_centre_model(build_backbone("tiny", tiny_width=8), st)
    kp, vis = people()
    out = model(torch.rand(1, 3, H, W))
    enc = st.encode({k: v.detach() for k, v in out.items()}, kp, vis)
    assert set(enc.targets) == set(out)
    for head, t in enc.targets.items():
        assert t.value.shape == t.weight.shape == out[head].shape
    wgt = enc.targets["poseoff"].weight
    assert wgt.sum() > 0 and float(wgt.view(K, 2, -1)[3].sum()) < float(wgt.view(K, 2, -1)[0].sum())
    dec = st.decode(out)
    assert dec.xy.shape == (1, K, 2) and dec.score.shape == (1, K)
    losses = compute_loss(out, enc.targets, st.losses)
    assert torch.isfinite(losses["loss"])


def test_bad_options_are_refused():
    with pytest.raises(ValueError):
        build_centre({"name": "heatmap"}, {"read_at": "peak"}, K, S, (W, H))
    with pytest.raises(ValueError):
        build_centre({"name": "heatmap"}, {"pose_nms": 1}, K, S, (W, H))
    with pytest.raises(ValueError):
        CentreStrategy(HeatmapStrategy(2, S, (W, H)), K)  # the centre is one keypoint type


class _Images(torch.utils.data.Dataset):
    """A fixed batch of noise images with the three people, in the whole-image item format."""

    def __init__(self, n: int = 4):
        torch.manual_seed(1)
        kp, vis = people()
        self.items = [{"image": torch.rand(3, H, W), "keypoints": kp[0], "visibility": vis[0], "meta": {}}
                      for _ in range(n)]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        return self.items[i]


@pytest.mark.parametrize("name", CENTRES)
def test_a_few_training_steps_lower_the_loss(name):
    torch.manual_seed(0)
    st = build_centre({"name": name}, {}, K, S, (W, H))
    model = build_centre_model(build_backbone("tiny", tiny_width=8), st)
    rows = train_steps(model, st, _Images(), steps=30, batch_size=2, lr=3e-3, log_every=5)
    first, last = rows[0], rows[-1]
    assert last["loss"] < first["loss"] and last["loss_poseoff"] < first["loss_poseoff"]


@pytest.mark.slow
def test_tiny_centre_demo_writes_results(tmp_path):
    from adaanchor.demo_centre import run_centre_demo

    out = tmp_path / "demo"
    tiny = {"n_train": 5, "n_val": 2, "width": 64, "height": 48, "people": (2, 2)}
    r = run_centre_demo(out, steps=2, batch_size=2, tiny_width=8, data_root=tmp_path / "crowd", bench=tiny,
                        methods=("heatmap", "fixanchor"), progress=False)
    saved = json.loads((out / "results.json").read_text())
    assert saved["methods"].keys() == r["methods"].keys() and saved["commit"]
    keys = {"ap", "ap50", "ap75", "apm", "apl", "ar", "recall", "ap_by_gamma", "recall_by_gamma", "gamma", "eval_s"}
    assert all(keys <= set(m) for m in r["methods"].values()) and set(r["methods"]) == {"heatmap", "fixanchor"}
    assert all((out / f).stat().st_size > 0 for f in ("results.md", "gamma_sweep.png", "poses.png"))
    assert "Single-stage" in (out / "results.md").read_text()


@pytest.mark.parametrize("spelling", ["centre", "center"])  # the config's task=centre, and the earlier spelling
def test_centre_demo_refuses_config_overrides(capsys, spelling):
    assert main(["demo", "--task", spelling, "strategy.topk=5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"demo --task {spelling} takes --out, --seed and --steps only" in err[0]

