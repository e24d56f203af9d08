"""Resumable, distributed, deterministic data order.

Each epoch's order is a permutation seeded by ``(seed, epoch)``; it is cut into global batches, and rank
``r`` of ``world`` takes its slice of every global batch. Training can start at any global batch of an
epoch (resume). Each item is fetched as ``(index, epoch)`` through :class:`KeyedDataset`, which seeds the
RNGs used by augmentation from ``(seed, epoch, index)``: the same sample gets the same augmentation
whatever the number of workers or ranks and whether or not training was interrupted.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler, get_worker_info

from ..errors import AdaAnchorError


class ResumableBatchSampler(Sampler):
    """Yields lists of ``(index, epoch)`` for this rank, ``local_batch = global_batch // world`` long."""

    def __init__(self, n: int, global_batch: int, seed: int, rank: int = 0, world: int = 1, shuffle: bool = True):
        if global_batch % world:
            err = AdaAnchorError(f"train.batch_size={global_batch} (the global batch) is not divisible by the "
                                 f"number of processes ({world})")
            err.same_on_every_rank = True  # the same numbers on every rank: the CLI prints it once (rank 0)
            raise err
        if n < 1:
            raise AdaAnchorError("the training set is empty")
        self.n, self.gb, self.seed, self.rank, self.world, self.shuffle = n, global_batch, seed, rank, world, shuffle
        self.lb = global_batch // world
        self.epoch, self.start_batch = 0, 0

    def batches_per_epoch(self) -> int:
        return max(1, self.n // self.gb) if self.n >= self.gb else 1

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def __len__(self) -> int:
        return max(0, self.batches_per_epoch() - self.start_batch)

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(self.n, generator=g).tolist()
        else:
            order = list(range(self.n))
        if self.n < self.gb:  # tiny datasets: repeat to fill one global batch
            order = (order * (self.gb // max(1, self.n) + 1))[: self.gb]
        for b in range(self.start_batch, self.batches_per_epoch()):
            chunk = order[b * self.gb : (b + 1) * self.gb]
            mine = chunk[self.rank * self.lb : (self.rank + 1) * self.lb]
            yield [(i, self.epoch) for i in mine]


class KeyedDataset(Dataset):
    """Wraps a dataset so ``ds[(index, epoch)]`` seeds ``random``, ``numpy`` and ``torch`` from
    ``(seed, epoch, index)`` before fetching ``index``; plain integer indices pass straight through.

    In the main process (``workers=0``) the global RNG states are put back after the fetch, so that data
    loading does not change the random streams that training (and its checkpoints) see."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, key):
        if isinstance(key, tuple):
            idx, epoch = key
            s = (self.seed * 1_000_003 + epoch) * 10_000_019 + idx
            s &= 0xFFFFFFFF
            saved = None
            if get_worker_info() is None:
                saved = (random.getstate(), np.random.get_state(), torch.get_rng_state())
            random.seed(s)
            np.random.seed(s)
            torch.default_generator.manual_seed(s)  # CPU only: leaves the CUDA generators alone
            try:
                return self.dataset[idx]
            finally:
                if saved is not None:
                    random.setstate(saved[0])
                    np.random.set_state(saved[1])
                    torch.set_rng_state(saved[2])
        return self.dataset[key]
