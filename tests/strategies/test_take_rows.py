"""``take_rows``: the labelled rows of a head's output, by one ``index_select`` of channel planes where the layout
allows it (a channel slice of the stacked heads, a contiguous map) and by (image, type) indexing otherwise; the same
values either way."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from adaanchor.strategies.assign_targets import _channel_rows, take_rows


def _reference(x: torch.Tensor, rows: torch.Tensor, per_row: int) -> torch.Tensor:
    b, kc, *rest = x.shape
    k = kc // per_row
    out = [x[int(r) // k, (int(r) % k) * per_row: (int(r) % k + 1) * per_row] for r in rows]
    return torch.cat(out).reshape(1, -1, *rest) if out else x.new_zeros((1, 0, *rest))


def _layouts(b: int, k: int, h: int, w: int) -> dict[str, tuple[torch.Tensor, int]]:
    g = torch.Generator().manual_seed(b * 100 + k * 10 + h + w)
    stacked = torch.randn(b, 5 * k, h * w, generator=g)  # conf, offset, local as KeypointNet.dense_heads makes them
    conf, offset, local = (t.view(b, -1, h, w) for t in stacked.split([k, 2 * k, 2 * k], 1))
    cl = torch.randn(b, 2 * k, h, w, generator=g).contiguous(memory_format=torch.channels_last)
    return {"conf slice": (conf, 1), "offset slice": (offset, 2), "local slice": (local, 2),
            "contiguous": (torch.randn(b, k, h, w, generator=g), 1), "channels-last": (cl, 2),
            "transposed": (torch.randn(b, k, w, h, generator=g).transpose(2, 3), 1),
            "targets": (torch.randn(b, 2, k, 2, generator=g).permute(0, 2, 1, 3), 1)}


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 4), k=st.integers(1, 5), h=st.integers(1, 4), w=st.integers(1, 4), data=st.data())
def test_every_layout_gives_the_reference_rows(b, k, h, w, data):
    rows = torch.tensor(sorted(data.draw(st.sets(st.integers(0, b * k - 1), min_size=1))), dtype=torch.long)
    for name, (x, per_row) in _layouts(b, k, h, w).items():
        got = take_rows(x, rows, per_row)
        assert torch.equal(got, _reference(x, rows, per_row)), name


def test_the_fast_path_is_taken_where_the_layout_allows_it_only():
    lay = _layouts(3, 4, 5, 6)
    for name in ("conf slice", "offset slice", "local slice", "contiguous"):
        assert _channel_rows(lay[name][0]) is not None, name
    for name in ("channels-last", "transposed", "targets"):
        assert _channel_rows(lay[name][0]) is None, name
    assert _channel_rows(torch.zeros(1, 3, 2, 2).expand(4, 3, 2, 2)) is None  # images overlap (stride 0)


@pytest.mark.parametrize("name", ["conf slice", "local slice"])
def test_a_pick_is_a_copy_not_a_view_of_the_heads(name):
    x, per_row = _layouts(2, 3, 4, 4)[name]
    picked = take_rows(x, torch.tensor([0, 4]), per_row)
    picked.zero_()
    assert x.abs().sum() > 0
