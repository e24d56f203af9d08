"""tensor_cache.constant_cache: an LRU cache of constant tensors that never stores a traced (fake) tensor."""

from __future__ import annotations

import sys
import threading

import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from adaanchor.tensor_cache import constant_cache


def test_plain_tensors_are_cached_per_arguments_and_the_oldest_leaves_first():
    calls = []

    @constant_cache(maxsize=2)
    def grid(n: int) -> dict[str, torch.Tensor]:
        calls.append(n)
        return {"a": torch.arange(n), "b": torch.zeros(n)}

    first = grid(3)
    assert grid(3) is first and calls == [3]
    grid(4)
    grid(3)  # refreshed: 4 is now the oldest
    grid(5)
    assert grid.cache_len() == 2 and calls == [3, 4, 5]
    grid(3)
    assert calls == [3, 4, 5]
    grid(4)
    assert calls == [3, 4, 5, 4]
    grid.cache_clear()
    assert grid.cache_len() == 0


def test_a_fake_tensor_built_under_tracing_is_returned_but_not_kept():
    @constant_cache()
    def scale(n: int) -> torch.Tensor:
        return torch.tensor([2.0 / n, 1.0])

    with FakeTensorMode():
        traced = scale(4)
    assert type(traced) is not torch.Tensor and scale.cache_len() == 0
    real = scale(4)
    assert type(real) is torch.Tensor and torch.equal(real, torch.tensor([0.5, 1.0])) and scale.cache_len() == 1
    with FakeTensorMode():
        assert scale(4) is real  # a cached real constant serves a trace (it becomes a constant of the graph)


def test_a_tensor_that_needs_a_gradient_is_not_kept():
    @constant_cache()
    def weight(n: int) -> torch.Tensor:
        return torch.ones(n, requires_grad=True)

    weight(2)
    assert weight.cache_len() == 0


def test_a_constant_first_built_under_inference_mode_is_a_plain_tensor():
    """The predictor runs under ``torch.inference_mode``: a constant it cached was an inference tensor, and a dynamo
    export later in the process failed on it (``export_command`` after ``Predictor.predict`` fell back)."""
    @constant_cache()
    def scale(n: int) -> torch.Tensor:
        return torch.tensor([2.0 / n, 1.0])

    with torch.inference_mode():
        first = scale(4)
        assert scale(4) is first  # cached, and used in inference mode as it is
    assert not first.is_inference() and scale.cache_len() == 1
    assert torch.equal(torch.ones(2, requires_grad=True) * first, torch.tensor([0.5, 1.0]))  # usable with autograd


def test_threads_sharing_a_cache_that_evicts_get_their_constants():
    """Eight threads reading five sizes through a cache of two: a lookup racing with another thread's eviction
    raised ``KeyError`` in every thread (the bookkeeping now runs under a lock)."""
    @constant_cache(maxsize=2)
    def grid(n: int) -> torch.Tensor:
        return torch.arange(n)

    errors: list[str] = []

    def work(seed: int) -> None:
        try:
            for i in range(2000):
                n = (i * 7 + seed) % 5 + 1
                assert torch.equal(grid(n), torch.arange(n))
        except Exception as e:  # noqa: BLE001 - collected and reported below
            errors.append(repr(e))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, so that a race shows in every run
    try:
        threads = [threading.Thread(target=work, args=(s,)) for s in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == [] and grid.cache_len() == 2
