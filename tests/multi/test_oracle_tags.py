"""Oracle-tag grouping (the stand-in for the paper's pretrained tagger) recovers the poses of oracle maps."""

from __future__ import annotations

import numpy as np
import torch

from adaanchor.engine.bottomup import oracle_poses
from adaanchor.strategies.anchor import AnchorStrategy
from adaanchor.strategies.tags import BottomUpStrategy

K, W, H, S = 17, 128, 96, 4


def test_oracle_tags_group_oracle_detections_into_the_ground_truth_poses():
    rng = np.random.default_rng(0)
    gt = np.zeros((3, K, 2))
    for k in range(K):
        pts: list[np.ndarray] = []
        while len(pts) < 3:
            p = rng.uniform([8, 8], [W - 8, H - 8])
            if all(np.linalg.norm(p - q) >= 24 for q in pts):
                pts.append(p)
        gt[:, k] = pts
    strategy = BottomUpStrategy(AnchorStrategy(K, S, (W, H), assign="fixed", topk=5))
    kpts = torch.tensor(gt, dtype=torch.float32)[None]
    zeros = {n: torch.zeros(1, c, H // S, W // S) for n, c in strategy.heads.items()}
    enc = strategy.encode(zeros, kpts, torch.full((1, 3, K), 2))
    out = {"conf": torch.where(enc.targets["conf"].value > 0.5, torch.tensor(3.0), torch.tensor(-30.0)),
           "offset": enc.targets["offset"].value, "local": enc.targets["local"].value,
           "tags": torch.zeros(1, K, H // S, W // S)}  # learned tags carry nothing here
    shift = np.array([[1.0, 0, 5.0], [0, 1.0, -3.0]])  # image -> input affine: predictions come back through it
    vis = np.full((3, K), 2)
    vis[:, 4] = 0  # a type nobody has labelled: its detections have no person and stand alone
    poses = oracle_poses(strategy, out, shift, gt - [5.0, -3.0], vis, gamma=0.1)
    assert poses.keypoints.shape[0] == 6
    full = poses.keypoints[(poses.keypoints[:, :, 2] > 0).sum(1) == K - 1]
    assert len(full) == 3 and not (full[:, 4, 2] > 0).any()
    for n in range(3):
        d = np.abs(full[:, :, :2] - (gt[n] - [5.0, -3.0])).max(axis=-1)
        d[:, 4] = 0
        assert d.max(axis=1).min() < 1e-3
