"""Keeping freed memory in the process, so that every training step and every batch of predictions does not map
fresh pages from the kernel again (Linux with glibc; elsewhere nothing is changed).

Why: a step allocates and frees the same large tensors every time. glibc's malloc serves a block above its mmap
threshold with fresh pages (the threshold starts at 128 KiB and rises only as such blocks are freed) and gives
the top of its heap back to the kernel whenever more than its trim threshold is free there. So each step
touches memory the kernel must map and zero again, one page fault per 4 KiB page. On the demo's CPU training
step that was 900-1,700 (heatmap) and 2,600-3,400 (AdaAnchor) page faults per step; keeping the memory made
the step 3.5-5 % (heatmap) and 6-8 % (AdaAnchor) faster, and batched inference with the tiny CNN a third faster
(``benchmarks/step_phases.py`` and ``speed.py`` with ``--malloc default`` measure the difference;
docs/speed.md and docs/training.md).

What: ``mallopt(M_MMAP_THRESHOLD, 32 MiB)`` (glibc's largest: blocks below it come from the heap and are reused)
and ``mallopt(M_TRIM_THRESHOLD, 1 GiB)`` (free memory at the top of the heap stays, up to that much). The
process then holds on to the memory of its busiest step; results are unchanged (malloc does not touch values).

Where: the ``adaanchor`` command applies it at start, :func:`adaanchor.engine.train.train` and
:class:`adaanchor.predict.Predictor` when they start. It is process-wide; set ``ADAANCHOR_MALLOC=default`` to
leave malloc as it is (``off`` and ``0`` work too; also when ``GLIBC_TUNABLES`` sets malloc options itself, which
are respected).
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ctypes

#: mallopt's parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
#: glibc's largest mmap threshold on 64-bit systems (HEAP_MAX_SIZE / 2); mallopt refuses more.
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 1 << 30
#: The environment variable that turns it off: ``default`` (or ``off``, ``0``, ``false``, ``no``); ``keep`` (or
#: unset, ``on``, ``1``, ``true``, ``yes``) keeps freed memory.
ENV = "ADAANCHOR_MALLOC"
_OFF = ("default", "off", "0", "false", "no")
_ON = ("", "keep", "on", "1", "true", "yes")

_state: dict[str, bool | None] = {"applied": None}


def keep_freed_memory() -> bool:
    """Apply the thresholds once per process (later calls return the first call's result). Returns whether
    they are set: False off glibc, when ``ADAANCHOR_MALLOC=default``, when ``GLIBC_TUNABLES`` sets malloc
    options, or when glibc refuses them."""
    if _state["applied"] is None:
        _state["applied"] = _apply()
    return bool(_state["applied"])


def _apply() -> bool:
    mode = os.environ.get(ENV, "").strip().lower()
    if mode not in _OFF + _ON:
        warnings.warn(f"{ENV}={mode!r} is neither 'keep' nor 'default': keeping freed memory", stacklevel=3)
    if mode in _OFF or "malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    libc = _glibc()
    if libc is None:
        return False
    # mmap threshold first: setting either one turns glibc's dynamic adjustment off, and a trim threshold alone
    # would leave the mmap threshold at 128 KiB (every large tensor mapped afresh: far slower).
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has ``gnu_get_libc_version``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes  # here: the command line imports this module before it knows the command (2 ms)

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    return libc
