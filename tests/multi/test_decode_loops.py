"""The loops of multi-person decoding against their plain definitions, result for result: the greedy merge of
close keypoints."""

from __future__ import annotations

import pytest
import torch

from adaanchor.strategies.multi import merge_close


def greedy_merge(xy: torch.Tensor, valid: torch.Tensor, radius: float) -> torch.Tensor:
    """The merge by its definition: in slot order, a valid slot is kept unless a kept earlier slot is within
    ``radius`` (the distances as ``merge_close`` measures them, torch.cdist)."""
    b, k, m, _ = xy.shape
    d = torch.cdist(xy.reshape(-1, m, 2), xy.reshape(-1, m, 2)).view(b, k, m, m)
    kept = torch.zeros_like(valid)
    for i in range(b):
        for t in range(k):
            for j in range(m):
                kept[i, t, j] = bool(valid[i, t, j]) and not any(
                    bool(kept[i, t, p]) and float(d[i, t, p, j]) <= radius for p in range(j))
    return kept


@pytest.mark.parametrize("seed", range(6))
def test_merge_close_is_the_greedy_merge(seed):
    g = torch.Generator().manual_seed(seed)
    b, k, m = 2, 3, 30
    xy = torch.rand(b, k, m, 2, generator=g) * torch.tensor([64.0, 48.0])
    xy[:, :, 10:20] = xy[:, :, :10] + torch.rand(b, k, 10, 2, generator=g) * 6  # near-duplicates to merge
    xy[:, :, 20:25] = xy[:, :, 5:10]  # exact duplicates
    score = torch.rand(b, k, m, generator=g).sort(-1, descending=True).values
    valid = score > torch.rand(b, k, 1, generator=g)  # a prefix, as the peak candidates are
    valid[0, 0, 3] = False  # and a gap
    for radius in (0.0, 2.0, 4.0, 20.0):
        assert torch.equal(merge_close(xy, score, valid, radius), greedy_merge(xy, valid, radius))
