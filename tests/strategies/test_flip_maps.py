"""The multi-person flip test (``eval.flip_test`` with ``task=bottomup`` or ``centre``): each strategy merges the maps of
an input and of its mirror (``Strategy.flip_merge``) before one decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from adaanchor.data.spec import load_spec
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies import build_strategy
from adaanchor.strategies.centre import build_centre
from adaanchor.strategies.flip_test import FlipHeads, flip_outputs
from adaanchor.strategies.grouping import group_poses
from adaanchor.strategies.tags import build_bottomup

COCO = load_spec("coco")
FLIP = COCO.flip_index
S, W, H = 4, 64, 48  # stride, input (W, H): maps of 16 x 12 cells


def _build(task: str, name: str, k: int = 17):
    section = {"name": name, **({"refine": True} if name == "adaanchor" else {})}
    build = build_bottomup if task == "bottomup" else build_centre
    return build(section, None, k, S, (W, H))


STRATEGIES = [("bottomup", "heatmap"), ("bottomup", "adaanchor"), ("centre", "heatmap"), ("centre", "adaanchor")]


def _kinds(strategy) -> dict[str, tuple[str, np.ndarray]]:
    """head -> (kind, its types' flip permutation): ``types`` (one map per type), ``pairs`` ((x, y) per type)."""
    centre = hasattr(strategy, "centre")
    out = {}
    for name in strategy.heads:
        flip = np.zeros(1, np.int64) if centre and name != "poseoff" else FLIP
        out[name] = ("pairs" if name in ("offset", "local", "poseoff") else "types", flip)
    return out


class MirrorModel(torch.nn.Module):
    """A network whose outputs are exactly flip-equivariant: every head is a 3x3 correlation of the image's mean
    pooled at the stride, the kernel of type ``flip[k]`` the mirror of type ``k``'s (an x offset's also negated), so
    the mirror's maps are the maps mirrored, left and right swapped and x offsets negated."""

    def __init__(self, kinds: dict[str, tuple[str, np.ndarray]], seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.kernels = {}
        for name, (kind, flip) in kinds.items():
            signs = [1.0] if kind == "types" else [-1.0, 1.0]  # (x, y) of a pair: x antisymmetric
            ker = np.zeros((len(flip), len(signs), 3, 3))
            for a, b in enumerate(flip):
                for c, sign in enumerate(signs):
                    r = rng.normal(size=(3, 3))
                    if a == b:
                        ker[a, c] = (r + sign * r[:, ::-1]) / 2
                    elif a < b:
                        ker[a, c], ker[b, c] = r, sign * r[:, ::-1]
            self.kernels[name] = torch.from_numpy(ker.reshape(-1, 1, 3, 3))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = F.avg_pool2d(x.double().mean(dim=1, keepdim=True), S)
        return {name: F.conv2d(f, ker, padding=1) for name, ker in self.kernels.items()}


def _image(seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).uniform(-2, 2, (2, 3, H, W)))


def _hand_mirrored(outputs: dict[str, torch.Tensor], kinds) -> dict[str, torch.Tensor]:
    """What the outputs are for the mirrored input, written out: mirrored along x, types swapped, x offsets negated."""
    out = {}
    for name, v in outputs.items():
        kind, flip = kinds[name]
        b, c, h, w = v.shape
        if kind == "types":
            out[name] = torch.flip(v[:, flip], dims=(-1,))
        else:
            pairs = v.reshape(b, c // 2, 2, h, w)[:, flip].clone()
            pairs[:, :, 0] = -pairs[:, :, 0]
            out[name] = torch.flip(pairs.reshape(b, c, h, w), dims=(-1,))
    return out


@pytest.mark.parametrize("task,name", STRATEGIES)
def test_an_equivariant_model_merges_to_its_plain_maps(task, name):
    """(a) A network whose outputs are exactly flip-equivariant: the merged maps are the plain pass's."""
    st = _build(task, name)
    model = MirrorModel(_kinds(st))
    x = _image()
    plain = model(x)
    merged = st.flip_merge(plain, model(torch.flip(x, dims=(-1,))), FLIP)
    assert set(merged) == set(plain)
    for key, v in plain.items():
        if key == "tags":  # the two passes' tags side by side, each the plain pass's
            assert merged[key].shape == (*v.shape[:2], 2, *v.shape[2:])
            torch.testing.assert_close(merged[key][:, :, 0], v, atol=1e-12, rtol=0)
            torch.testing.assert_close(merged[key][:, :, 1], v, atol=1e-12, rtol=0)
        else:
            torch.testing.assert_close(merged[key], v, atol=1e-9, rtol=0)
    # through flip_outputs (float32 maps, the network run on the input and on its mirror): the same people
    via = flip_outputs(model, st, x.float(), FLIP)
    a = st.decode_poses({k: v.float() for k, v in plain.items()}, gamma=0.3)
    b = st.decode_poses(via, gamma=0.3)
    for pa, pb in zip(a, b):
        assert pa.keypoints.shape == pb.keypoints.shape and len(pa.score) > 0
        np.testing.assert_allclose(pa.keypoints, pb.keypoints, atol=1e-3)


@pytest.mark.parametrize("task,name", STRATEGIES)
def test_a_pass_merged_with_its_mirrored_copy_comes_back(task, name):
    """(b) The merge of a pass with its own mirrored, label-swapped copy (x offsets negated, written out by hand
    here) is the pass itself."""
    st = _build(task, name)
    kinds = _kinds(st)
    g = torch.Generator().manual_seed(1)
    plain = {k: 3 * torch.randn(2, c, H // S, W // S, generator=g) for k, c in st.heads.items()}
    merged = st.flip_merge(plain, _hand_mirrored(plain, kinds), FLIP)
    for key, v in plain.items():
        got = merged[key]
        if key == "tags":
            torch.testing.assert_close(got, torch.stack([v, v], dim=2))
        else:
            torch.testing.assert_close(got, v, atol=1e-5, rtol=1e-5)
    # and a mirrored pass that is not the mirror is averaged with it: the merge is no copy of the plain pass
    other = {k: v + 1.0 for k, v in _hand_mirrored(plain, kinds).items()}
    moved = st.flip_merge(plain, other, FLIP)
    assert not torch.allclose(moved[next(iter(st.centre.heads if task == "centre" else st.inner.heads))],
                              merged[next(iter(st.centre.heads if task == "centre" else st.inner.heads))])


# ---- (c) one hand-built person ------------------------------------------------------------------------------------

FACE = np.array([0, 2, 1])  # nose, left eye, right eye
POINTS = np.array([[30.3, 20.7], [38.9, 15.2], [22.4, 16.1]])  # input pixels, K = 3
ERR = 1.0  # the mirrored pass places every point this far to the right (in the mirror's frame)


def _cell(p: np.ndarray) -> tuple[int, int]:
    return int(p[1] // S), int(p[0] // S)  # (row, col)


def _centre_xy(row: int, col: int) -> np.ndarray:
    return np.array([S * col + (S - 1) / 2, S * row + (S - 1) / 2])


def _mirrored_points() -> np.ndarray:
    """The person as the mirrored image shows it: type ``k`` at the mirror of the person's type ``FACE[k]``, shifted
    ``ERR`` px in x by the (imperfect) mirrored pass."""
    q = POINTS[FACE].copy()
    q[:, 0] = (W - 1) - q[:, 0] + ERR
    return q


def _anchor_pass(points: np.ndarray, cells: list[tuple[int, int]]) -> dict[str, torch.Tensor]:
    k, h, w = len(points), H // S, W // S
    conf = torch.full((1, k, h, w), -8.0)
    offset = torch.zeros(1, 2 * k, h, w)
    for t, ((r, c), p) in enumerate(zip(cells, points)):
        conf[0, t, r, c] = 8.0
        offset[0, 2 * t:2 * t + 2, r, c] = torch.tensor((p - _centre_xy(r, c)) / S, dtype=torch.float32)
    return {"conf": conf, "offset": offset, "local": torch.zeros(1, 2 * k, h, w), "tags": torch.zeros(1, k, h, w)}


def test_one_person_bottomup_offsets_are_negated_and_types_swapped():
    """(c) One person: the plain pass points exactly at the keypoints, the mirrored pass at the mirrored keypoints
    (its anchors at the mirrored cells, left and right eyes exchanged) ERR px to the right in its own frame. The
    merged maps decode to one pose, each keypoint ERR / 2 px to the left of the truth: a wrong sign of the x offsets
    or no type swap puts them elsewhere."""
    st = _build("bottomup", "adaanchor", k=3)
    w = W // S
    cells = [_cell(p) for p in POINTS]
    plain = _anchor_pass(POINTS, cells)
    mirrored = _anchor_pass(_mirrored_points(), [(r, w - 1 - c) for r, c in (cells[j] for j in FACE)])
    alone = st.decode_poses(plain, gamma=0.3)[0]
    np.testing.assert_allclose(alone.keypoints[0, :, :2], POINTS, atol=1e-4)
    poses = st.decode_poses(st.flip_merge(plain, mirrored, FACE), gamma=0.3)[0]
    assert poses.keypoints.shape == (1, 3, 3)
    np.testing.assert_allclose(poses.keypoints[0, :, :2], POINTS - [ERR / 2, 0.0], atol=1e-4)
    np.testing.assert_allclose(poses.keypoints[0, :, 2], 1 / (1 + np.exp(-8.0)), atol=1e-5)  # both passes agree


def _centre_pass(points: np.ndarray, centre_cell: tuple[int, int]) -> dict[str, torch.Tensor]:
    """A centre heatmap peaked at one cell, and at every cell the pose offsets to ``points``."""
    k, h, w = len(points), H // S, W // S
    hm = torch.zeros(1, 1, h, w)
    hm[0, 0, centre_cell[0], centre_cell[1]] = 0.9
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    cx, cy = S * cols + (S - 1) / 2, S * rows + (S - 1) / 2
    off = np.zeros((1, 2 * k, h, w))
    for t, p in enumerate(points):
        off[0, 2 * t], off[0, 2 * t + 1] = (p[0] - cx) / S, (p[1] - cy) / S
    return {"heatmap": hm, "poseoff": torch.from_numpy(off).float()}


@pytest.mark.parametrize("read_at", ["centre", "cell"])
def test_one_person_centre_pose_offsets_are_negated_and_types_swapped(read_at):
    """(c) The same for the centre task: the merged centre heatmap peaks where both passes put the centre, and the
    pose read there is the mean of the plain pose and the mirrored pass's pose mirrored back."""
    st = build_centre({"name": "heatmap"}, {"read_at": read_at}, 3, S, (W, H))
    w = W // S
    r, c = _cell(POINTS.mean(axis=0))
    plain = _centre_pass(POINTS, (r, c))
    mirrored = _centre_pass(_mirrored_points(), (r, w - 1 - c))
    np.testing.assert_allclose(st.decode_poses(plain, gamma=0.3)[0].keypoints[0, :, :2], POINTS, atol=1e-4)
    poses = st.decode_poses(st.flip_merge(plain, mirrored, FACE), gamma=0.3)[0]
    assert poses.keypoints.shape == (1, 3, 3)
    np.testing.assert_allclose(poses.keypoints[0, :, :2], POINTS - [ERR / 2, 0.0], atol=1e-4)
    np.testing.assert_allclose(poses.score, [0.9], atol=1e-6)


def test_the_cell_grid_is_symmetric_under_the_mirror():
    """Cell centres ``s * j + (s - 1) / 2`` of a map ``w`` cells wide mirror onto each other under ``x -> W - 1 - x``
    when ``W = s * w`` (the multi-person inputs are padded to a multiple of the stride), and maps of another width are
    refused rather than merged a fraction of a cell off."""
    from adaanchor.coords import cell_centers

    for s, w in ((4, 16), (8, 5), (2, 7), (32, 3)):
        x = cell_centers(2, w, s, torch.device("cpu"))[:w, 0].double()
        torch.testing.assert_close((s * w - 1) - x, torch.flip(x, dims=(0,)), atol=0, rtol=0)
    st = _build("bottomup", "heatmap")
    model = MirrorModel(_kinds(st))
    with pytest.raises(AdaAnchorError, match=r"map 'heatmap' is 16 cells wide at stride 4 for an input 66 px wide"):
        flip_outputs(lambda t: model(t[..., :64]), st, torch.zeros(1, 3, H, 66), FLIP)


def test_flip_heads_wraps_a_predictor_network():
    st = _build("centre", "adaanchor")
    model = MirrorModel(_kinds(st))
    heads = FlipHeads(lambda t: model(t), st, FLIP)
    x = _image(3)[:1].float()
    got = heads(x)
    for k, v in model(x).items():
        torch.testing.assert_close(got[k], v.float(), atol=1e-5, rtol=1e-5)


def test_strategies_without_maps_have_no_merge():
    st = build_strategy({"name": "regression"}, 17, 32, (64, 64))
    with pytest.raises(NotImplementedError, match="no output maps"):
        st.flip_merge({}, {}, FLIP)


# ---- the grouping of 2-D tags -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_tags_consistent_in_both_passes_group_as_one_pass(seed):
    """Two passes that tag every detection alike (the concatenated tag ``(t, t)``) give exactly the grouping of the
    scalar tag ``t``, refinement included; a second pass that exchanges two people's tag values still keeps them
    apart (an averaged tag would join them)."""
    rng = np.random.default_rng(seed)
    k, m = 5, 6
    xy = rng.uniform(0, 100, (k, m, 2))
    score = rng.uniform(0.05, 1, (k, m))
    valid = rng.uniform(size=(k, m)) < 0.7
    tag = rng.choice([0.0, 1.5, 3.0], size=(k, m)) + rng.normal(0, 0.4, (k, m))
    for refine in (False, True):
        one = group_poses(xy, score, valid, tag, tag_threshold=1.0, refine=refine)
        two = group_poses(xy, score, valid, np.stack([tag, tag], axis=-1), tag_threshold=1.0, refine=refine)
        np.testing.assert_array_equal(one.keypoints, two.keypoints)
        np.testing.assert_array_equal(one.score, two.score)
        np.testing.assert_allclose(two.tag, np.stack([one.tag, one.tag], axis=-1))
    # two people (at x 10 and 50), tagged 0 and 2 by the plain pass and 2 and 0 by the mirrored one: kept apart (their
    # averaged tags, 1 and 1, would not tell them apart)
    xy2 = np.array([[[10.0, 10.0], [50.0, 10.0]], [[10.0, 20.0], [50.0, 20.0]]])  # (K=2, M=2, 2)
    swapped = np.array([[[0.0, 2.0], [2.0, 0.0]], [[2.0, 0.0], [0.0, 2.0]]])  # type 1 lists the people the other way
    xy2[1] = xy2[1, ::-1]
    poses = group_poses(xy2, np.full((2, 2), 0.9), np.ones((2, 2), bool), swapped)
    assert len(poses.score) == 2
    for pose in poses.keypoints:
        assert pose[0, 0] == pose[1, 0]  # both keypoints of one person
