"""A cache of constant tensors per map size that never keeps a traced one.

The strategies build small constant tensors once per map size (cell centres, index grids, the scale of
``grid_sample``) and reuse them every step. An exporter (``torch.export``, the dynamo ONNX exporter) or
``torch.compile`` runs the same code under a fake-tensor mode, where what is built is a ``FakeTensor``: cached,
it made every later eager call in the process return fake tensors (a model exported and then run by the
predictor in one session gave keypoints without values). :func:`constant_cache` stores a result only when every
tensor in it is a plain ``torch.Tensor``; a traced call computes its constants afresh, which costs nothing.

A constant first built under ``torch.inference_mode`` (the predictor, evaluation) is built outside it: an inference
tensor in the cache made a later dynamo ONNX export in the same process fail ("Failed to decompose the FX graph"),
so that ``export_command`` after ``Predictor.predict`` fell back to the TorchScript exporter.

The cache is shared by threads (a predictor serving requests from a thread pool, data-loader threads): its
bookkeeping runs under a lock, as a lookup racing with another thread's eviction raised ``KeyError``; the function
itself runs outside it, so two threads may build the same constant once each.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., Any])


def _plain(value: Any) -> bool:
    """Whether ``value`` (a tensor, or a tuple, list or dict of them) holds plain tensors only: no subclass
    (``FakeTensor``, functional tensors of a trace), nothing that needs a gradient."""
    if isinstance(value, torch.Tensor):
        return type(value) is torch.Tensor and not value.requires_grad and not value.is_inference()
    if isinstance(value, (tuple, list)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(_plain(v) for v in value.values())
    return True


def constant_cache(maxsize: int = 16) -> Callable[[F], F]:
    """Like ``functools.lru_cache(maxsize)`` for functions of hashable arguments that return constant tensors,
    but a result holding a traced tensor is returned without being stored. The wrapper has ``cache_clear()``
    and ``cache_len()``."""

    def decorate(fn: F) -> F:
        cache: OrderedDict[tuple, Any] = OrderedDict()
        lock = threading.Lock()
        miss = object()

        @functools.wraps(fn)
        def wrapper(*args: Any) -> Any:
            with lock:
                hit = cache.get(args, miss)
                if hit is not miss:
                    cache.move_to_end(args)
                    return hit
            if torch.is_inference_mode_enabled():  # a plain tensor serves inference too; an inference tensor no trace
                with torch.inference_mode(False):
                    out = fn(*args)
            else:
                out = fn(*args)
            if _plain(out):
                with lock:
                    cache[args] = out
                    cache.move_to_end(args)
                    while len(cache) > maxsize:
                        cache.popitem(last=False)
            return out

        def clear() -> None:
            with lock:
                cache.clear()

        wrapper.cache_clear = clear  # type: ignore[attr-defined]
        wrapper.cache_len = cache.__len__  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = ["constant_cache"]
