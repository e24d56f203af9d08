"""The decoded-image cache (``data.cache_images``) is bounded by ``data.cache_mb``: it grew with the data
(+1,070 MB for 1,500 frames of 640x480, per worker). Images beyond the bound are decoded each time, the first
one reported once; the bound is split among the data-loader workers and the training process."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from adaanchor.config import build_config
from adaanchor.data import dataset as dataset_module
from adaanchor.data import image_cache
from adaanchor.data.build import build_dataset
from adaanchor.data.dataset import DatasetImages
from adaanchor.errors import AdaAnchorError

SIDE = 32
IMAGE_BYTES = SIDE * SIDE * 3  # a decoded (32, 32, 3) uint8 image
MB_FOR_3 = (3 * IMAGE_BYTES + 100) / 2**20  # a bound that holds three such images, not four


@pytest.fixture(autouse=True)
def fresh_cache_state(monkeypatch):
    """No caches of other tests in this process, no worker split, no note given yet."""
    monkeypatch.setattr(image_cache, "_CACHES", weakref.WeakSet())
    monkeypatch.setattr(image_cache, "_STATE", {"readers": 1, "said": None})


def _images(tmp_path, n: int = 6) -> list[str]:
    paths = []
    for i in range(n):
        p = tmp_path / f"im{i}.png"
        Image.fromarray(np.full((SIDE, SIDE, 3), 10 * i, dtype=np.uint8)).save(p)
        paths.append(str(p))
    return paths


def _counting_reads(monkeypatch) -> list[str]:
    reads: list[str] = []
    real = dataset_module.read_image

    def counted(path, *args, **kwargs):
        reads.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(dataset_module, "read_image", counted)
    return reads


def test_the_cache_stops_at_its_bound_and_decodes_the_rest_each_time(tmp_path, monkeypatch):
    paths, reads = _images(tmp_path), _counting_reads(monkeypatch)
    images = DatasetImages(cache=True, cache_mb=MB_FOR_3)
    for _ in range(3):  # three epochs
        for p in paths:
            assert int(images(p)[0, 0, 0]) == 10 * paths.index(p)
    cache = images._cache
    assert cache is not None and len(cache) == 3 and cache.held == 3 * IMAGE_BYTES <= MB_FOR_3 * 2**20
    assert [reads.count(p) for p in paths] == [1, 1, 1, 3, 3, 3]  # the first three kept, the rest decoded each time


def test_the_bound_is_reported_once_per_process(tmp_path, capsys):
    paths = _images(tmp_path)
    images = DatasetImages(cache=True, cache_mb=MB_FOR_3)
    other = DatasetImages(cache=True, cache_mb=MB_FOR_3)  # e.g. the evaluation split: the same process's bound
    for _ in range(2):
        for p in paths:
            images(p)
            other(p)
    err = capsys.readouterr().err
    assert err.count("note:") == 1, err
    assert "holds 3 image(s)" in err and "raise data.cache_mb" in err
    assert images._cache is not None and other._cache is not None
    assert len(images._cache) + len(other._cache) == 3  # the two share the process's bound


def test_the_bound_is_split_among_the_workers_and_the_training_process(tmp_path):
    paths = _images(tmp_path)
    images = DatasetImages(cache=True, cache_mb=MB_FOR_3 * 3)  # nine images in all
    image_cache.split_among(3)  # two workers and the training process
    for p in paths:
        images(p)
    assert images._cache is not None and len(images._cache) == 3
    assert images._cache.share_bytes() == int(MB_FOR_3 * 3 * 2**20 / 3)


class _CacheSizes(Dataset):
    """Reads the images and returns how many this worker's cache holds."""

    def __init__(self, paths: list[str], cache_mb: float):
        self.paths, self.images = paths, DatasetImages(cache=True, cache_mb=cache_mb)

    def __len__(self) -> int:
        return 4 * len(self.paths)

    def __getitem__(self, i: int) -> torch.Tensor:
        self.images(self.paths[i % len(self.paths)])
        cache = self.images._cache
        assert cache is not None
        return torch.tensor([torch.utils.data.get_worker_info().id, len(cache), cache.held])


@pytest.mark.parametrize("told", [True, False])
def test_each_worker_keeps_its_share(tmp_path, told):
    """Told by the training (split_among) or, in a worker that inherits nothing, by its loader's worker count."""
    paths = _images(tmp_path, 8)
    if told:
        image_cache.split_among(3)
    ds = _CacheSizes(paths, MB_FOR_3 * 3)  # 3 processes: each worker holds 3 of the 8 images
    loader = DataLoader(ds, batch_size=None, num_workers=2, multiprocessing_context="fork")
    rows = torch.stack(list(loader))
    for worker in (0, 1):
        mine = rows[rows[:, 0] == worker]
        assert int(mine[:, 1].max()) == 3 and int(mine[:, 2].max()) == 3 * IMAGE_BYTES


@pytest.mark.parametrize("how", [{"cache": False}, {"cache": True, "cache_mb": 0}], ids=["cache_images-false", "cache_mb-0"])
def test_no_cache_keeps_nothing_and_says_nothing(tmp_path, monkeypatch, capsys, how):
    paths, reads = _images(tmp_path, 2), _counting_reads(monkeypatch)
    images = DatasetImages(**how)
    for _ in range(2):
        for p in paths:
            images(p)
    # cache_mb=0 is documented as no cache: it said "the cache holds 0 image(s) ... raise data.cache_mb"
    assert images._cache is None and len(reads) == 4 and "note:" not in capsys.readouterr().err


def test_cache_mb_is_a_checked_key_and_reaches_the_dataset(tmp_path):
    with pytest.raises(AdaAnchorError, match="data.cache_mb"):
        build_config("demo", ["data.cache_mb=-1"])
    assert build_config("demo", []).data.cache_mb == image_cache.DEFAULT_CACHE_MB
    cfg = build_config("demo", [f"data.root={tmp_path / 'synth'}", "data.synth.n_train=4", "data.synth.n_val=2",
                                "data.cache_mb=3"])
    ds = build_dataset(cfg.data, "train", verbose=False)
    assert ds._images._cache is not None and ds._images._cache.limit_mb == 3
