"""The decoded-image cache of the datasets (``data.cache_images``), bounded in bytes (``data.cache_mb``).

Every process that reads images keeps its own cache: the data-loader workers (each holds its own copy of the
training set) and the training process (the evaluation split, and the training split with ``train.workers=0``).
``data.cache_mb`` is the most the training keeps in all (under torchrun: each training process with its workers);
it is split evenly among those processes
(:func:`split_among`, called where the training's data loader is made; a worker started by ``spawn``, which
inherits nothing, takes its loader's worker count plus the training process). All the caches of one process share
its share, so the training and evaluation splits together stay within it. An image that does not fit is decoded
again each time it is read: nothing is evicted, as a cache that evicts at random re-decodes as often and
churns memory besides. The first image that does not fit is reported once per process (the main process or
worker 0), with the key to raise and how many images fit.
"""

from __future__ import annotations

import os
import sys
import weakref
from typing import Any

import numpy as np

#: The default of ``data.cache_mb``. A fixed size rather than a share of the physical memory: a job under Slurm or
#: in a container may use far less than the machine has, and a fixed default behaves alike on every machine. 1 GiB
#: holds the built-in benchmarks whole (the demo's 6,500 images of 72x96: 135 MB; the crowd figures' 2,200 of
#: 128x96: 81 MB), about 1,100 frames of 640x480 and 360 of 1280x720; larger projects decode the rest each time,
#: as with ``cache_images: false``.
DEFAULT_CACHE_MB = 1024

_STATE: dict[str, Any] = {"readers": 1, "said": None}  # processes sharing data.cache_mb; pid that gave the note
_CACHES: weakref.WeakSet[ImageCache] = weakref.WeakSet()  # the caches alive in this process


def split_among(processes: int) -> None:
    """``data.cache_mb`` is shared by ``processes`` processes reading images (the workers and the training process
    itself): each cache of this process, and of the workers forked from it, keeps ``1 / processes`` of it."""
    _STATE["readers"] = max(1, int(processes))


def _readers() -> int:
    """The processes sharing the bound, as seen from this one (a spawned worker knows its loader's count only)."""
    from torch.utils.data import get_worker_info

    info = get_worker_info()
    if info is not None and _STATE["readers"] == 1:
        return int(info.num_workers) + 1
    return int(_STATE["readers"])


def _worker_id() -> int:
    from torch.utils.data import get_worker_info

    info = get_worker_info()
    return 0 if info is None else int(info.id)


class ImageCache:
    """Decoded images by path, up to this process's share of ``limit_mb`` megabytes (MiB) for all the caches of
    the process together."""

    def __init__(self, limit_mb: float = DEFAULT_CACHE_MB):
        self.limit_mb = float(limit_mb)
        self._images: dict[str, np.ndarray] = {}
        self._pid, self.held = os.getpid(), 0
        _CACHES.add(self)

    def __len__(self) -> int:
        return len(self._images)

    def get(self, path: str) -> np.ndarray | None:
        """The cached image of ``path``, or None."""
        return self._images.get(path)

    def share_bytes(self) -> int:
        """The bytes this process may keep in all its caches."""
        return int(self.limit_mb * 2**20 / _readers())

    def put(self, path: str, image: np.ndarray) -> bool:
        """Keeps ``image`` when it fits this process's share; returns whether it was kept."""
        if self._pid != os.getpid():  # a forked worker: what the parent cached is its pages, shared, not ours
            self._pid, self.held = os.getpid(), 0
            _CACHES.add(self)
        if path in self._images:
            return True
        share = self.share_bytes()
        held = sum(c.held for c in list(_CACHES) if c._pid == self._pid)
        if held + image.nbytes > share:
            self._say_full(share, image.nbytes)
            return False
        self._images[path] = image
        self.held += image.nbytes
        return True

    def _say_full(self, share: int, nbytes: int) -> None:
        """The note of the first image that does not fit, once per process (the main one or worker 0)."""
        if _STATE["said"] == os.getpid() or _worker_id() != 0:
            return
        _STATE["said"] = os.getpid()
        count = sum(len(c) for c in list(_CACHES) if c._pid == self._pid)
        readers = _readers()
        whose = f"its share (1/{readers}) of " if readers > 1 else ""
        print(f"note: the decoded-image cache holds {count} image(s), {whose}data.cache_mb={self.limit_mb:g} "
              f"({share / 2**20:.1f} MB); further images are decoded each time they are read (about "
              f"{nbytes / 2**20:.2f} MB each here); raise data.cache_mb to keep more in memory, or set "
              "data.cache_images=false to keep none", file=sys.stderr)

    def __getstate__(self) -> dict[str, Any]:
        """A spawned worker gets the settings, not the images (it decodes and caches its own)."""
        return {"limit_mb": self.limit_mb}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["limit_mb"])  # type: ignore[misc]


__all__ = ["DEFAULT_CACHE_MB", "ImageCache", "split_among"]
