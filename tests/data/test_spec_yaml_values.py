"""Values of a keypoint spec YAML that YAML reads otherwise than they were meant, refused when the spec is loaded.

Each was loaded without a word and failed later, blaming something else: a key given twice (the last won, then the
data check said "expected 6 numbers (2 keypoints of spec 'dupkey'), got 9"), ``v1_is_visible: "false"`` (read as
True), ``sigmas: [100, ...]`` (a training ran an epoch, then "sigmas[0]: expected an OKS sigma" named neither the
file nor the field) or ``[true, ...]`` (1.0), ``keypoints: [1, 2, 3, 4]`` (a flip pair ``[1, 2]`` paired '2' and
'3') or ``[yes, no, on]`` ("duplicate keypoint names ['True']"), ``nme: {interocular: [a, a]}`` (scoring said the
data's normalising distance is 0). The message names the file, the field and its element, and what is valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adaanchor.cli import main
from adaanchor.data.spec import SIGMA_RANGE, load_spec, spec_to_dict
from adaanchor.data.spec_source import load_spec as load_any_spec
from adaanchor.errors import DataError
from adaanchor.metrics import coco
from adaanchor.safe_yaml import dump_yaml

DEMO = Path(__file__).resolve().parents[2] / "src" / "adaanchor" / "configs" / "demo.yaml"

CASES = [
    # (case, YAML text, parts of the message after "<file> ")
    ("duplicate-key", "name: dupkey\nkeypoints: [a, b, c]\nkeypoints: [a, b]\n",
     ["duplicate key 'keypoints' on line 3 (first on line 2)"]),
    ("duplicate-nme-name", "keypoints: [a, b, c]\nnme:\n  io: [a, b]\n  io: [a, c]\n",
     ["duplicate key 'io' on line 4 (first on line 3)"]),
    ("v1-string-false", "keypoints: [a, b]\nv1_is_visible: \"false\"\n",
     ["field 'v1_is_visible'", "expected true or false, got 'false' (a string); write it without quotes"]),
    ("v1-number", "keypoints: [a, b]\nv1_is_visible: 1\n",
     ["field 'v1_is_visible'", "expected true or false, got 1 (a number)"]),
    ("sigma-too-large", "keypoints: [a, b, c]\nsigmas: [0.05, 100, 0.05]\n",
     ["field 'sigmas[1]'", "expected an OKS sigma, a number in [0.001, 1]", "got 100 (a number)"]),
    ("sigma-boolean", "keypoints: [a, b, c]\nsigmas: [true, 0.05, 0.05]\n",
     ["field 'sigmas[0]'", "got true (a boolean)"]),
    ("sigma-string", "keypoints: [a, b]\nsigmas: [0.05, \"0.05\"]\n",
     ["field 'sigmas[1]'", "got '0.05' (a string)"]),
    ("sigma-nan", "keypoints: [a, b]\nsigmas: [.nan, 0.05]\n", ["field 'sigmas[0]'", "got nan (a number)"]),
    ("sigma-zero", "keypoints: [a, b]\nsigmas: [0, 0.05]\n", ["field 'sigmas[0]'", "in [0.001, 1]", "got 0"]),
    ("sigma-count", "keypoints: [a, b, c]\nsigmas: [0.05, 0.05]\n",
     ["field 'sigmas'", "expected 3 OKS sigmas (one per keypoint), got 2"]),
    ("sigma-scalar", "keypoints: [a, b]\nsigmas: 0.05\n",
     ["field 'sigmas'", "expected a list of 2 OKS sigmas (one per keypoint) or null, got 0.05 (a number)"]),
    ("keypoint-numbers", "keypoints: [1, 2, 3, 4]\nflip_pairs: [[1, 2]]\n",
     ["field 'keypoints[0]'", "expected a keypoint name (a string), got 1 (a number); write the name in quotes ('1')"]),
    ("keypoint-booleans", "keypoints: [yes, no, on]\n",
     ["field 'keypoints[0]'", "got true (YAML reads an unquoted yes, no, on, off, true or false as a boolean)",
      "write the name in quotes"]),
    ("keypoint-null", "keypoints: [a, ~, c]\n", ["field 'keypoints[1]'", "expected a keypoint name (a string), got null"]),
    ("index-that-is-also-a-name", "keypoints: ['1', '2', '3', '4']\nflip_pairs: [[1, 2]]\n",
     ["field 'flip_pairs[0][0]'", "1 is ambiguous: the index of keypoint '2' and the name of keypoint 0",
      "write the name in quotes ('2' or '1')"]),
    ("nme-same-keypoint", "keypoints: [a, b]\nnme: {interocular: [a, a]}\n",
     ["field 'nme.interocular'", "keypoint 'a' is on both sides"]),
    ("nme-overlapping-lists", "keypoints: [a, b, c]\nnme: {io: [[a, b], [b, c]]}\n",
     ["field 'nme.io'", "keypoint 'b' is on both sides"]),
    ("nme-empty-list", "keypoints: [a, b]\nnme: {io: [[], [b]]}\n",
     ["field 'nme.io[0]'", "an empty list of keypoints has no mean point"]),
    ("nme-twice-in-a-list", "keypoints: [a, b, c]\nnme: {io: [[a, a], [c]]}\n",
     ["field 'nme.io[0]'", "keypoint 'a' is listed twice (nme.io[0][0] and nme.io[0][1])"]),
    ("nme-boolean-name", "keypoints: [a, b]\nnme: {yes: [a, b]}\n",
     ["field 'nme.True'", "expected a normaliser name (a string)"]),
    ("nme-three-sides", "keypoints: [a, b, c]\nnme: {io: [a, b, c]}\n",
     ["field 'nme.io'", "expected two keypoints (or two lists of keypoints), got a list of 3"]),
    ("nme-a-list", "keypoints: [a, b]\nnme: [a, b]\n",
     ["field 'nme'", "expected a mapping of normaliser name to two keypoints, got a list"]),
    ("skeleton-self-edge", "keypoints: [a, b]\nskeleton: [[a, b], [b, b]]\n",
     ["field 'skeleton[1]'", "keypoint 'b' is paired with itself"]),
    ("skeleton-bad-element", "keypoints: [a, b]\nskeleton: [[a, b], [a, 2]]\n",
     ["field 'skeleton[1][1]'", "2 (a number) is not a keypoint name or an index in 0..1"]),
    ("flip-pair-of-three", "keypoints: [a, b, c]\nflip_pairs: [[a, b, c]]\n",
     ["field 'flip_pairs[0]'", "expected a pair [a, b] of keypoint names or indices, got a list of 3"]),
    ("flip-keypoint-in-two-pairs", "keypoints: [a, b, c]\nflip_pairs: [[a, b], [c, a]]\n",
     ["field 'flip_pairs[1]'", "keypoint 'a' is already in flip_pairs[0]"]),
    ("flip-boolean-element", "keypoints: [a, b]\nflip_pairs: [[a, yes]]\n",
     ["field 'flip_pairs[0][1]'", "true (a boolean) is not a keypoint name or an index in 0..1"]),
    ("flip-unknown-name", "keypoints: [left_eye, right_eye]\nflip_pairs: [[left_eye, rigth_eye]]\n",
     ["field 'flip_pairs[0][1]'", "unknown keypoint name 'rigth_eye'", "Did you mean 'right_eye'?"]),
    ("upper-body-twice", "keypoints: [a, b, c]\nupper_body: [a, b, a]\n",
     ["field 'upper_body'", "keypoint 'a' is listed twice (upper_body[0] and upper_body[2])"]),
    ("name-number", "name: 300\nkeypoints: [a]\n", ["field 'name'", "got 300 (a number); write the name in quotes ('300')"]),
    ("unknown-keys-of-two-types", "keypoints: [a]\n1: x\nflip: []\n", ["unknown key(s) ['1', 'flip']; valid:"]),
]


@pytest.mark.parametrize("case,text,parts", CASES, ids=[c[0] for c in CASES])
def test_a_bad_value_is_refused_at_load_naming_file_and_field(tmp_path, case, text, parts):
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    for load in (load_spec, load_any_spec):  # the file reader and what every caller above the data layer uses
        with pytest.raises(DataError) as err:
            load(path)
        msg = str(err.value)
        assert msg.startswith(f"{path}") and "\n" not in msg, msg
        for part in parts:
            assert part in msg, (part, msg)


def test_what_the_file_means_still_loads(tmp_path):
    """Quoted names that look like numbers or booleans are names; pairs by quoted name; real booleans; 1e-3 sigmas."""
    path = tmp_path / "ok.yaml"
    path.write_text("name: '300'\nkeypoints: ['1', '2', '3', 'yes']\nflip_pairs: [['1', '2']]\nskeleton: [[0, 'yes']]\n"
                    "sigmas: [1e-3, 2.5e-2, 0.05, 1]\nnme: {io: [['1'], ['2', '3']]}\nv1_is_visible: false\n"
                    "upper_body: ['1', 'yes']\n")
    spec = load_spec(path)
    assert spec.name == "300" and spec.keypoints == ("1", "2", "3", "yes")
    assert spec.flip_pairs == ((0, 1),) and spec.skeleton == ((0, 3),) and spec.upper_body == (0, 3)
    np.testing.assert_array_equal(spec.sigmas, [1e-3, 2.5e-2, 0.05, 1.0])
    assert spec.nme == {"io": ((0,), (1, 2))} and spec.v1_is_visible is False
    path.write_text("keypoints: [a, b]\nflip_pairs: []\nskeleton: null\nsigmas: null\nnme: []\nv1_is_visible: yes\n")
    spec = load_spec(path)
    assert spec.sigmas is None and spec.nme == {} and spec.v1_is_visible is True and spec.name == "ok"
    # An index equal to its own name's number is not ambiguous.
    path.write_text("keypoints: [a, '1', b]\nflip_pairs: [[1, 2]]\n")
    assert load_spec(path).flip_pairs == ((1, 2),)


def test_a_spec_written_into_a_run_reads_back_with_names_that_look_like_numbers(tmp_path):
    """A spec from data keeps its names as strings: '1e5' was written unquoted by yaml.safe_dump and would read back
    as the number 100000.0 (now refused as a name) with the configs' loader, which spec files use."""
    spec = load_spec({"name": "1e5", "keypoints": ["1e5", "2e-3", "yes", "7"], "flip_pairs": [["1e5", "2e-3"]],
                      "nme": {"io": ["yes", "7"]}})
    path = tmp_path / "spec.yaml"
    path.write_text(dump_yaml(spec_to_dict(spec), sort_keys=False))
    back = load_spec(path)
    for f in ("name", "keypoints", "flip_pairs", "nme"):
        assert getattr(back, f) == getattr(spec, f), f


def test_the_sigma_range_lives_in_the_data_layer_and_the_metrics_use_it():
    assert SIGMA_RANGE == (1e-3, 1.0) and coco.SIGMA_RANGE is SIGMA_RANGE


@pytest.mark.parametrize("text,part", [
    ("name: dupkey\nkeypoints: [a, b, c]\nkeypoints: [a, b]\n", "duplicate key 'keypoints' on line 3"),
    ("keypoints: [a, b, c]\nsigmas: [100, 100, 100]\n", "field 'sigmas[0]'"),
], ids=["duplicate-key", "sigma-100"])
def test_data_stats_refuses_the_spec_before_reading_data(tmp_path, capsys, text, part):
    """`data stats` said "no problems" for sigmas 100, and a training failed after its first epoch."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    capsys.readouterr()
    rc = main(["data", "stats", str(DEMO), f"data.spec={path}"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}") and part in lines[0], err
