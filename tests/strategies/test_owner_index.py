"""owner_index: each cell's owner is the first instance with the highest rank among those that selected it, as
``argmax`` gives it, ties and unselected cells included (it is computed with ``max(...).indices``, faster on the
CPU along a middle dimension)."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adaanchor.strategies.assign_targets import owner_index


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.integers(2, 5), st.integers(1, 40), st.integers(0, 2**31 - 1))
def test_owner_is_the_first_best_ranked_selecting_instance(b, k, n, hw, seed):
    g = torch.Generator().manual_seed(seed)
    rank = torch.randint(-2, 3, (b, k, n, hw), generator=g).float()  # small integers: many exact ties
    rank[rank < -1] = float("-inf")
    selected = torch.rand(b, k, n, hw, generator=g) < 0.6
    got = owner_index(rank, selected)
    assert got.shape == (b, k, 1, hw)
    masked = rank.masked_fill(~selected, float("-inf"))
    for i in range(b):
        for j in range(k):
            for c in range(hw):
                col = masked[i, j, :, c].tolist()
                assert got[i, j, 0, c].item() == col.index(max(col))  # the first of the best, 0 when none


def test_one_instance_has_no_owner_index():
    assert owner_index(torch.zeros(1, 2, 1, 5), torch.ones(1, 2, 1, 5, dtype=torch.bool)) is None
