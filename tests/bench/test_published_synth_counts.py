"""The counts of the built-in occlusion benchmark that README.md and docs/results.md publish are the generator's.

Every published number of the single-person tables rests on these images: the held-out split's keypoint counts
(README "Demo results", docs/results.md) and the invisible / outside shares of both splits (docs/results.md).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adaanchor.bench import synth

REPO = Path(__file__).resolve().parents[2]
HELD_OUT = re.compile(r"([\d,]+) held-out images[ (with]*([\d,]+) visible and ([\d,]+) invisible keypoints, "
                      r"([\d,]+) of them outside the image")
SHARES = re.compile(r"([\d.]+)% / ([\d.]+)% of labelled keypoints invisible in train / val, "
                    r"([\d.]+)% / ([\d.]+)% outside the image")


def _text(name: str) -> str:
    return " ".join((REPO / name).read_text(encoding="utf-8").split())


def _num(s: str) -> int:
    return int(s.replace(",", ""))


def _pct(part: int, counts: dict[str, int]) -> str:
    return f"{100 * part / (counts['visible'] + counts['invisible']):.1f}"


def test_held_out_counts_in_readme_and_results_match_a_fresh_generation(tmp_path):
    # Image i of the held-out split is drawn from (seed, 1, i) whatever n_train is: no training images needed.
    paths = synth.write_benchmark(tmp_path, {"n_train": 0}, progress=False, workers=1)
    c = synth.visibility_counts(paths["val"])
    for name in ("README.md", "docs/results.md"):
        found = HELD_OUT.findall(_text(name))
        assert found, f"{name}: the held-out counts sentence is gone"
        for images, vis, inv, out in found:
            assert (_num(images), _num(vis), _num(inv), _num(out)) == (
                c["images"], c["visible"], c["invisible"], c["outside"]), name


@pytest.mark.slow
def test_invisible_and_outside_shares_in_results_match_a_fresh_generation(tmp_path):
    paths = synth.write_benchmark(tmp_path, None, progress=False)
    c = {s: synth.visibility_counts(paths[s]) for s in ("train", "val")}
    found = SHARES.findall(_text("docs/results.md"))
    assert found, "docs/results.md: the sentence with the invisible and outside shares of train / val is gone"
    want = (_pct(c["train"]["invisible"], c["train"]), _pct(c["val"]["invisible"], c["val"]),
            _pct(c["train"]["outside"], c["train"]), _pct(c["val"]["outside"], c["val"]))
    assert all(tuple(f) == want for f in found), (found, want)
