"""A finished benchmark is looked for image by image: a stray ``.DS_Store`` made the folder count as unfinished, and
a run with other options then replaced the images under the runs reading them. A folder that a killed writer's
workers fill again while it is emptied is emptied again ('File exists' before)."""

from __future__ import annotations

import json

import pytest

from adaanchor.bench import cache
from adaanchor.bench.synth import write_benchmark
from adaanchor.errors import AdaAnchorError

SMALL = {"n_train": 6, "n_val": 3, "seed": 0}


def test_a_stray_file_does_not_let_other_options_replace_a_finished_benchmark(tmp_path):
    write_benchmark(tmp_path, SMALL, progress=False)
    (tmp_path / "images" / "train" / ".DS_Store").write_bytes(b"\0")
    (tmp_path / "images" / "val" / "Thumbs.db").write_bytes(b"\0")
    with pytest.raises(AdaAnchorError, match="written with other options"):
        write_benchmark(tmp_path, {**SMALL, "seed": 1}, progress=False)
    assert json.loads((tmp_path / "manifest.json").read_text())["config"]["seed"] == 0  # not replaced


def test_a_missing_image_makes_the_benchmark_unfinished(tmp_path):
    write_benchmark(tmp_path, SMALL, progress=False)
    (tmp_path / "images" / "val" / "000001.png").unlink()
    assert not cache.cache_ok(tmp_path, cache.jsonable(_resolved(SMALL)), _version())


def test_emptying_a_folder_that_is_refilled_tries_again(tmp_path, monkeypatch):
    folder = tmp_path / "images" / "train"
    folder.mkdir(parents=True)
    (folder / "000000.png").write_bytes(b"x")
    real, calls = cache.shutil.rmtree, []

    def late_writer(path, ignore_errors=False):
        real(path, ignore_errors=ignore_errors)
        calls.append(path)
        if len(calls) == 1:  # a worker of a killed writer puts a file back at once
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "000007.png").write_bytes(b"x")

    monkeypatch.setattr(cache.shutil, "rmtree", late_writer)
    monkeypatch.setattr(cache, "PARENT_POLL_S", 0.0)
    cache._empty_folder(folder)
    assert len(calls) == 2 and folder.is_dir() and not any(folder.iterdir())


def _resolved(cfg):
    from adaanchor.bench.synth import resolve_config

    return resolve_config(cfg)


def _version():
    from adaanchor.bench.synth import FORMAT_VERSION

    return FORMAT_VERSION
