"""The rules of a generated benchmark's folder: written once under a lock, never replaced by other options."""

from __future__ import annotations

import json
import threading
import time

import pytest

from adaanchor.bench import cache, synth
from adaanchor.errors import AdaAnchorError

TINY = {"n_train": 6, "n_val": 2, "seed": 5}


def test_concurrent_callers_write_the_folder_once(tmp_path, monkeypatch):
    """Two callers asking for the same benchmark at once: one writes, the other waits and reuses it."""
    writes = []
    real = synth._write_splits

    def slow_write(*args, **kwargs):
        writes.append(threading.get_ident())
        time.sleep(0.3)  # long enough for the other caller to arrive while the write is under way
        return real(*args, **kwargs)

    monkeypatch.setattr(synth, "_write_splits", slow_write)
    out, errors = [], []

    def call() -> None:
        try:
            out.append(synth.write_benchmark(tmp_path / "b", TINY, progress=False))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(writes) == 1 and out[0] == out[1]
    assert cache.cache_ok(tmp_path / "b", synth.resolve_config(TINY), synth.FORMAT_VERSION)


def test_other_options_are_refused_with_what_differs(tmp_path):
    root = tmp_path / "b"
    synth.write_benchmark(root, TINY, progress=False)
    before = sorted(p.name for p in (root / "images" / "train").iterdir())
    with pytest.raises(AdaAnchorError) as err:
        synth.write_benchmark(root, {**TINY, "seed": 6}, progress=False)
    msg = str(err.value)
    assert str(root) in msg and "seed: 5 there, 6 asked" in msg and "data.root" in msg
    assert sorted(p.name for p in (root / "images" / "train").iterdir()) == before


def test_an_older_format_or_an_unfinished_folder_is_rewritten(tmp_path):
    root = tmp_path / "b"
    synth.write_benchmark(root, TINY, progress=False)
    manifest = json.loads((root / "manifest.json").read_text())
    (root / "manifest.json").write_text(json.dumps({**manifest, "format_version": synth.FORMAT_VERSION - 1,
                                                    "config": {**manifest["config"], "seed": 99}}))
    synth.write_benchmark(root, TINY, progress=False)  # an older generator's files: replaced, not refused
    assert json.loads((root / "manifest.json").read_text())["format_version"] == synth.FORMAT_VERSION
    (root / "images" / "val" / "000000.png").unlink()  # a finished manifest over missing files: unfinished
    synth.write_benchmark(root, {**TINY, "seed": 7}, progress=False)
    assert json.loads((root / "manifest.json").read_text())["config"]["seed"] == 7


def test_differences_list_is_capped():
    old = {f"k{i}": i for i in range(7)}
    text = cache._differences(old, {k: v + 1 for k, v in old.items()})
    assert text.startswith("k0: 0 there, 1 asked") and text.endswith("and 3 more")


def _numbered(job: cache.Job) -> list[dict]:
    root, si, start, stop, cfg = job
    return [{"split": cache.SPLITS[si], "i": i, "root": root} for i in range(start, stop)]


def _disk_full(job: cache.Job) -> list[dict]:
    raise OSError(28, "No space left on device")


def test_render_splits_keeps_image_order_in_chunks(tmp_path):
    out = cache.render_splits(tmp_path, {"n_train": 7, "n_val": 3}, _numbered, "test benchmark", 3, False, 1, 100)
    assert [r["i"] for r in out["train"]] == list(range(7)) and [r["i"] for r in out["val"]] == [0, 1, 2]
    assert {r["split"] for r in out["val"]} == {"val"} and {r["root"] for r in out["train"]} == {str(tmp_path)}


def test_render_splits_names_the_folder_it_cannot_write(tmp_path):
    with pytest.raises(AdaAnchorError, match=r"cannot write the crowd benchmark there \(No space left on device\)"):
        cache.render_splits(tmp_path, {"n_train": 2, "n_val": 1}, _disk_full, "crowd benchmark", 50, False, 1, 200)


@pytest.mark.parametrize("cut", ["half", "empty"])
def test_an_annotation_file_cut_since_it_was_written_is_written_again(tmp_path, capsys, cut):
    """A cut train.json was taken for a finished benchmark: ``synth`` gave a JSONDecodeError traceback, ``train`` an
    invalid-JSON error, and an empty val.json trained to the end without a word. Its size is in the manifest now."""
    root = tmp_path / "b"
    synth.write_benchmark(root, TINY, progress=False)
    whole = (root / "train.json").read_bytes()
    assert json.loads((root / "manifest.json").read_text())["sizes"]["train.json"] == len(whole)
    (root / "train.json").write_bytes(whole[: len(whole) // 2] if cut == "half" else b"")
    capsys.readouterr()
    synth.write_benchmark(root, TINY, progress=False)
    err = capsys.readouterr().err
    assert f"note: {root}: train.json is {len(whole) // 2 if cut == 'half' else 0} bytes, {len(whole)} when it was " \
           "written" in err and "written again" in err
    assert (root / "train.json").read_bytes() == whole  # the same generator, seed and options: the same file


def test_a_manifest_without_sizes_is_not_checked(tmp_path):
    """Benchmarks written before the sizes were recorded are reused as they were."""
    root = tmp_path / "b"
    synth.write_benchmark(root, TINY, progress=False)
    manifest = json.loads((root / "manifest.json").read_text())
    del manifest["sizes"]
    (root / "manifest.json").write_text(json.dumps(manifest))
    stamp = (root / "train.json").stat().st_mtime_ns
    synth.write_benchmark(root, TINY, progress=False)
    assert (root / "train.json").stat().st_mtime_ns == stamp  # reused, not written again
