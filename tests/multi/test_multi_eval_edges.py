"""Multi-person evaluation edge cases: a non-finite pose is a miss, oracle tags under a wide tag threshold and for
types nobody labelled, and the model's outputs of images of different input sizes."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from adaanchor.engine.bottomup import oracle_poses, pose_results, predict_outputs
from adaanchor.strategies.grouping import Poses
from adaanchor.strategies.tags import build_bottomup

K, S, W, H = 2, 4, 32, 24
IDENTITY = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def test_a_pose_with_a_nan_keypoint_is_left_out_of_the_results():
    kp = np.array([[[5.0, 6.0, 0.9], [7.0, 8.0, 0.8]], [[np.nan, 6.0, 0.7], [1.0, 2.0, 0.7]],
                   [[9.0, 9.0, 0.6], [0.0, 0.0, 0.0]]])
    poses = Poses(kp, kp[:, :, 2].mean(1), np.zeros(3))
    res = pose_results(poses, 7, kp[..., :2])  # was: ValueError "non-finite prediction for instance 1"
    assert [r["score"] for r in res] == [poses.score[0], poses.score[2]]
    assert res[1]["keypoints"] == [9.0, 9.0, 0.6, 0.0, 0.0, 0.0]
    assert pose_results(Poses(kp[1:2], np.array([0.7]), np.zeros(1)), 7, kp[1:2, :, :2]) == []


def _cell(row: int, col: int) -> tuple[float, float]:
    return col * S + 1.5, row * S + 1.5


def _oracle(options: dict, gt_vis: np.ndarray) -> Poses:
    """Person A's type 0 and person B's type 1 detected (neither person's other keypoint)."""
    st = build_bottomup({"name": "heatmap"}, options, K, S, (W, H))
    hm = torch.zeros(1, K, H // S, W // S)
    hm[0, 0, 1, 1], hm[0, 1, 4, 6] = 0.9, 0.8
    gt = np.array([[_cell(1, 1), _cell(1, 2)], [_cell(4, 5), _cell(4, 6)]])
    return oracle_poses(st, {"heatmap": hm, "tags": torch.zeros_like(hm)}, IDENTITY, gt, gt_vis, 0.1)


def test_oracle_tags_keep_two_people_apart_under_a_wide_tag_threshold():
    poses = _oracle({"tag_threshold": 4.0}, np.full((2, K), 2))  # was: one pose of A's and B's keypoints
    assert len(poses.score) == 2 and ((poses.keypoints[:, :, 2] > 0).sum(1) == 1).all()


def test_oracle_lone_detections_of_two_unlabelled_types_are_two_poses():
    poses = _oracle({}, np.zeros((2, K)))  # nobody labelled: each detection a tag of its own (was one pose)
    assert len(poses.score) == 2 and ((poses.keypoints[:, :, 2] > 0).sum(1) == 1).all()


class _MeanNet(nn.Module):
    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"heatmap": x[:, :1, ::S, ::S]}


def test_predict_outputs_takes_images_of_two_input_sizes():
    sizes = [(48, 64), (48, 80), (48, 80), (48, 64)]
    items = [{"image": torch.full((3, h, w), float(i)), "keypoints": torch.zeros(1, K, 2),
              "visibility": torch.ones(1, K, dtype=torch.int64), "meta": {"image_id": i}}
             for i, (h, w) in enumerate(sizes)]
    out = predict_outputs(_MeanNet(), items, batch_size=8)  # was: torch.stack of (3, 48, 64) and (3, 48, 80)
    assert [m["image_id"] for _, m in out] == [0, 1, 2, 3]
    assert [tuple(o["heatmap"].shape[-2:]) for o, _ in out] == [(12, 16), (12, 20), (12, 20), (12, 16)]
    assert [float(o["heatmap"].mean()) for o, _ in out] == [0.0, 1.0, 2.0, 3.0]


def test_evaluation_counts_the_poses_left_out_for_nan(crowd, capsys):
    """Multi-person evaluation left NaN poses out silently; it now counts them (``nonfinite_poses``) and warns,
    as the top-down evaluation does for its instances."""
    from adaanchor.config import build_config
    from adaanchor.data.build import build_image_dataset
    from adaanchor.engine.multi import evaluate_multi, warn_no_poses

    cfg = build_config("bottomup_crowd", ["data.format=coco", f"data.root={crowd}"])
    ds = build_image_dataset(cfg.data, "val", train=False)

    class Half:  # two poses an image: the second with a NaN keypoint
        options = {"gamma": 0.1}

        def decode_poses(self, outputs, gamma):
            kp = np.array([[[10.0, 12.0, 0.9]] * 17, [[np.nan, 12.0, 0.8]] * 17])
            return [Poses(kp, kp[:, :, 2].mean(1), np.zeros(2))]

    model = torch.nn.Identity()
    model.forward = lambda x: {"x": x}  # type: ignore[method-assign]
    m, res = evaluate_multi(model, Half(), cfg, ds)
    assert m["nonfinite_poses"] == len(ds) and m["poses"] == len(res) == len(ds)
    warn_no_poses(m)
    assert f"warning: {len(ds)} pose(s) had NaN or infinite keypoints or scores" in capsys.readouterr().err
