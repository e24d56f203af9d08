"""DeepLabCut and SLEAP data through sleap-io (data.format=dlc / slp), checked against an independent reading.

The tests build their own small DeepLabCut projects (config.yaml, labeled-data/<video>/CollectedData_<scorer>
.csv and .h5, PNG frames) and SLEAP files (written with sleap-io itself).
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from adaanchor.cli import main
from adaanchor.data.readers.dlc import read_dlc
from adaanchor.data.readers.sleap_labels import flip_pairs_from_names
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import AdaAnchorError, DataError

# Deliberately not alphabetical: the keypoint order must be the project's, not sleap-io's sorted one.
BODYPARTS = ["snout", "leftear", "rightear", "tailbase", "tailtip"]
SKELETON = [["snout", "leftear"], ["snout", "rightear"], ["tailbase", "tailtip"]]
W, H = 64, 48


def _image(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(path)


def make_dlc_project(root: Path, videos=(("vidA", 6, 3), ("vidB", 5, 1)), individuals=(), seed=0) -> Path:
    """A DeepLabCut project: per video (name, frames, index columns: 3 = DLC >= 2.2, 1 = older). About a
    third of the cells are empty (unlabelled), one row is empty throughout; coordinates carry DLC's full
    float precision."""
    rng = np.random.default_rng(seed)
    cfg = {"Task": "mouse", "scorer": "lab", "date": "Jan1", "bodyparts": BODYPARTS, "skeleton": SKELETON,
           "video_sets": {f"/videos/{v}.mp4": {"crop": f"0, {W}, 0, {H}"} for v, _, _ in videos}}
    if individuals:
        cfg.update({"multianimalproject": True, "individuals": list(individuals), "bodyparts": "MULTI!",
                    "multianimalbodyparts": BODYPARTS, "uniquebodyparts": []})
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    animals = list(individuals) or [None]
    for v, n, n_index in videos:
        folder = root / "labeled-data" / v
        pad = [""] * (n_index - 1)
        cols = [(a, b, c) for a in animals for b in BODYPARTS for c in ("x", "y")]
        rows = [["scorer", *pad, *["lab"] * len(cols)]]
        if individuals:
            rows.append(["individuals", *pad, *[a for a, _, _ in cols]])
        rows += [["bodyparts", *pad, *[b for _, b, _ in cols]], ["coords", *pad, *[c for _, _, c in cols]]]
        for i in range(n):
            name = f"img{i:03d}.png"
            _image(folder / name, seed * 100 + i)
            cells = []
            for _ in animals:
                for _ in BODYPARTS:
                    empty = i == 2 or rng.random() < 0.35
                    x, y = rng.uniform(0, W - 1), rng.uniform(0, H - 1)
                    cells += ["", ""] if empty else [repr(float(x)), repr(float(y))]
            index = ["labeled-data", v, name] if n_index == 3 else [f"labeled-data/{v}/{name}"]
            rows.append([*index, *cells])
        with (folder / "CollectedData_lab.csv").open("w", newline="") as f:
            csv.writer(f).writerows(rows)
    return root


def own_reading(table: Path) -> dict[tuple[str, str | None], np.ndarray]:
    """The project's own reading of a DeepLabCut CSV, with the csv module only (no pandas, no sleap-io):
    (image path as written, individual) -> (K, 2) in BODYPARTS order, NaN where a cell is empty."""
    with table.open(newline="") as f:
        rows = list(csv.reader(f))
    n_head = next(i for i, r in enumerate(rows) if r[0] == "coords") + 1
    head = {r[0]: r for r in rows[:n_head]}
    coords = head["coords"]
    n_index = 1 + next(j for j, c in enumerate(coords[1:]) if c)
    inds = head.get("individuals", [None] * len(coords))
    out: dict[tuple[str, str | None], np.ndarray] = {}
    for r in rows[n_head:]:
        image = "/".join(r[:n_index])
        for j in range(n_index, len(r), 2):
            assert coords[j] == "x" and coords[j + 1] == "y"
            key = (image, inds[j])
            pts = out.setdefault(key, np.full((len(BODYPARTS), 2), np.nan))
            if r[j] and r[j + 1]:
                pts[BODYPARTS.index(head["bodyparts"][j])] = (float(r[j]), float(r[j + 1]))
    return out


def _by_image(res, root: Path) -> dict[tuple[str, str | None], np.ndarray]:
    got = {}
    for inst in res.instances:
        rel = Path(inst.image_path).relative_to(root).as_posix()
        got[(rel, inst.extra.get("individual"))] = np.where(inst.visibility[:, None] == 2, inst.keypoints, np.nan)
        assert set(np.unique(inst.visibility)) <= {0, 2}  # no occlusion flag in DeepLabCut: labelled is v=2
    return got


def _expected(root: Path) -> dict[tuple[str, str | None], np.ndarray]:
    want = {}
    for t in sorted(root.glob("labeled-data/*/CollectedData_lab.csv")):
        want.update({k: v for k, v in own_reading(t).items() if np.isfinite(v).any()})
    return want


def test_sleap_io_reading_matches_own_reading(tmp_path):
    root = make_dlc_project(tmp_path / "proj")
    spec = load_spec(root)  # no spec typed: the project's own
    res = read_dlc(root, spec)
    got, want = _by_image(res, root), _expected(root)
    assert sorted(got) == sorted(want) and len(want) >= 8
    for key in want:  # identical coordinates (bit for bit), identical unlabelled cells
        np.testing.assert_array_equal(got[key], want[key])
    # The empty row of each video is reported, not dropped silently; partly empty rows are kept (v=0 cells).
    empty = [e for e in res.skipped if e.reason == "no labelled keypoint"]
    assert len(empty) == 2 and "img002.png" in str(empty[0])
    assert any((i.visibility == 0).any() for i in res.instances)


def test_spec_comes_from_the_project(tmp_path):
    root = make_dlc_project(tmp_path / "proj")
    for source in (root, root / "config.yaml", root / "labeled-data" / "vidA" / "CollectedData_lab.csv"):
        spec = load_spec(source)
        assert spec.keypoints == tuple(BODYPARTS) and spec.name == "mouse"
        assert spec.flip_pairs == ((1, 2),)  # leftear <-> rightear, inferred from the names
        assert sorted(spec.skeleton) == [(0, 1), (0, 2), (3, 4)]
    # A table alone (no config.yaml above it): the column order, no skeleton.
    lone = tmp_path / "lone"
    lone.mkdir()
    src = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    (lone / "CollectedData_lab.csv").write_text(src.read_text())
    spec = load_spec(lone / "CollectedData_lab.csv")
    assert spec.keypoints == tuple(BODYPARTS) and spec.skeleton == ()
    assert load_spec("coco").num_keypoints == 17  # built-in names still win over folders of the same name


@pytest.mark.parametrize("names, pairs", [
    (["leftear", "rightear", "nose"], [(0, 1)]),
    (["ear_left", "nose", "ear_right"], [(0, 2)]),
    (["FrontLeftPaw", "FrontRightPaw", "BackLeftPaw", "BackRightPaw"], [(0, 1), (2, 3)]),
    (["l_eye", "r_eye", "paw-L", "paw-R", "tail"], [(0, 1), (2, 3)]),
    (["lr", "leg", "reg", "tail_l"], []),  # letters inside words are not sides; tail_l has no tail_r
    # a capital side letter closing a camelCase word (DeepPoseKit's fly, locust, zebra): it had no pair at all
    (["head", "eyeL", "eyeR", "forelegR1", "forelegL1", "wingL", "wingR"], [(1, 2), (3, 4), (5, 6)]),
    (["TailRoot", "HeelRa", "HeelLa", "fooL"], []),  # R/L before a lower-case letter; fooL has no fooR
])
def test_flip_pairs_from_names(names, pairs):
    assert list(flip_pairs_from_names(names)) == pairs


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["left", "right", "Left", "Right", "l", "r", "ear", "paw", "_", "-", "x"]),
                min_size=1, max_size=4).map("".join), st.data())
def test_flip_pairs_are_a_disjoint_involution(first, data):
    names = list(dict.fromkeys([first] + data.draw(st.lists(st.text("lrLRefitgh_-", min_size=1, max_size=8),
                                                              max_size=6))))
    pairs = flip_pairs_from_names(names)
    flat = [i for p in pairs for i in p]
    assert len(flat) == len(set(flat))  # each keypoint in at most one pair
    from adaanchor.data.spec import KeypointSpec

    idx = KeypointSpec("t", tuple(names), flip_pairs=pairs).flip_index
    assert np.array_equal(idx[idx], np.arange(len(names)))  # flipping twice is the identity


def test_multi_animal_project(tmp_path):
    root = make_dlc_project(tmp_path / "ma", videos=(("vidA", 4, 3),), individuals=("mouse1", "mouse2"))
    spec = load_spec(root)
    assert spec.keypoints == tuple(BODYPARTS)
    res = read_dlc(root, spec)
    got, want = _by_image(res, root), _expected(root)
    assert sorted(got) == sorted(want) and {k[1] for k in want} == {"mouse1", "mouse2"}
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_a_multi_animal_project_is_refused_with_the_whole_image_crop(tmp_path, capsys):
    """Each animal of an image trained on the same whole-image input with another target, without a word."""
    root = make_dlc_project(tmp_path / "ma", videos=(("vidA", 6, 3),), individuals=("mouse1", "mouse2"))
    common = ["data.format=dlc", f"data.root={root}", "model.backbone=tiny", "model.weights=null",
              "model.tiny_width=8", "data.input_size=[64,48]", "train.max_steps=1", "train.batch_size=4",
              "train.progress=false", "train.eval_every=0"]
    capsys.readouterr()
    assert main(["train", *common, f"out_dir={tmp_path / 'a'}"]) == 2
    err = capsys.readouterr().err
    assert "train images hold several instances (up to 2), and data.crop=image takes the whole image" in err
    assert "use data.crop=box" in err and "task=bottomup" in err
    # data stats says so before a training is started (it listed no problem), and not for the box crop.
    capsys.readouterr()
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0
    out = capsys.readouterr().out
    assert "train images hold several instances (up to 2), and data.crop=image takes the whole image" in out
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}", "data.crop=box"]) == 0
    assert "several instances" not in capsys.readouterr().out
    assert main(["train", *common, "data.crop=box", f"out_dir={tmp_path / 'b'}"]) == 0
    # task=bottomup: its OKS AP needs sigmas, which a DeepLabCut project has not; said after the training, now before.
    capsys.readouterr()
    assert main(["train", *common, "task=bottomup", "train.eval_every=1", f"out_dir={tmp_path / 'c'}"]) == 2
    assert "task=bottomup is evaluated by OKS AP: the keypoint spec" in capsys.readouterr().err
    assert not list((tmp_path / "c").glob("checkpoints/*.pt"))
    # Such a run predicted one instance per image without --boxes, and said nothing.
    capsys.readouterr()
    img = root / "labeled-data" / "vidA" / "img000.png"
    assert main(["predict", str(tmp_path / "b"), str(img), "--out", str(tmp_path / "p"), "--quiet"]) == 0
    assert "was trained on instance boxes (data.crop=box) and no --boxes were given" in capsys.readouterr().err


@pytest.mark.parametrize("task", ["bottomup", "centre"])
def test_a_multi_animal_project_trains_and_evaluates_multi_person(tmp_path, capsys, task):
    """task=bottomup / centre on a multi-animal project with OKS sigmas: the evaluation read the project folder as a
    COCO JSON file ('file not found', a SLEAP file 'invalid JSON'), after the training; it scores the animals the
    reader gave the val split (the whole project's data is one DeepLabCut table split at random)."""
    from adaanchor.config import build_config
    from adaanchor.engine.multi import split_ground_truth
    from adaanchor.engine.run import build_split
    from adaanchor.metrics.coco import coco_keypoint_ap

    root = make_dlc_project(tmp_path / "ma", videos=(("vidA", 8, 3), ("vidB", 6, 1)),
                            individuals=("mouse1", "mouse2", "mouse3"))
    spec = tmp_path / "mouse.yaml"
    spec.write_text(yaml.safe_dump({"name": "mouse", "keypoints": BODYPARTS, "flip_pairs": [["leftear", "rightear"]],
                                    "sigmas": [0.05] * len(BODYPARTS)}))
    common = ["data.format=dlc", f"data.root={root}", f"data.spec={spec}", f"task={task}", "model.backbone=tiny",
              "model.weights=null", "model.tiny_width=8", "data.input_size=[64,48]", "train.batch_size=4",
              "train.progress=false", "train.lr_steps=[]"]
    out = tmp_path / "run"
    assert main(["train", *common, "train.max_steps=4", "train.eval_every=1", f"out_dir={out}"]) == 0
    assert len((out / "eval_log.csv").read_text().splitlines()) == 3  # header, steps 2 and 4 (2 steps an epoch)
    capsys.readouterr()
    assert main(["eval", str(out)]) == 0
    assert "| Recall |" in capsys.readouterr().out

    cfg = build_config(out / "config.yaml")
    val = build_split(cfg, "val", 4, train=False, verbose=False)
    gt, _ = split_ground_truth(cfg, val)
    animals = [i for g in val.images for i in g]
    assert len(gt["annotations"]) == len(animals) > len(val) and {a["image_id"] for a in gt["annotations"]} == {
        g[0].image_id for g in val.images}
    # The people's own keypoints as results score 1.0 (an annotation id 0 among them counted as missed).
    res = [{"image_id": a["image_id"], "category_id": 1, "score": 1.0,
            "keypoints": [v if j % 3 < 2 else float(v > 0) for j, v in enumerate(a["keypoints"])]}
           for a in gt["annotations"]]
    assert coco_keypoint_ap(gt, res, sigmas=[0.05] * len(BODYPARTS))["AP"] == pytest.approx(1.0)


def test_lightning_pose_folder(tmp_path):
    """lightning-pose keeps one CollectedData.csv at the top of its data folder, images under labeled-data/."""
    root = make_dlc_project(tmp_path / "lp", videos=(("sess1", 5, 1),))
    table = root / "labeled-data" / "sess1" / "CollectedData_lab.csv"
    table.rename(root / "CollectedData.csv")
    (root / "config.yaml").unlink()
    spec = load_spec(root)
    assert spec.keypoints == tuple(BODYPARTS) and spec.flip_pairs == ((1, 2),)
    res = read_dlc(root, spec)
    got, want = _by_image(res, root), {k: v for k, v in own_reading(root / "CollectedData.csv").items()
                                        if np.isfinite(v).any()}
    assert sorted(got) == sorted(want) and len(want) == 4
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_h5_table_reads_like_its_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("tables", reason="DeepLabCut .h5 tables are read through pandas + PyTables")
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 6, 3),))
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    df = pd.read_csv(table, header=[0, 1, 2], index_col=[0, 1, 2])  # what DeepLabCut itself writes as .h5
    h5 = table.with_suffix(".h5")
    df.to_hdf(h5, key="df_with_missing", mode="w")
    table.unlink()  # the .h5 alone
    res = read_dlc(h5, load_spec(root))
    got = _by_image(res, root)
    want = {k: v for k, v in own_reading_from(df).items() if np.isfinite(v).any()}
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def own_reading_from(df) -> dict[tuple[str, None], np.ndarray]:
    out = {}
    for idx, row in df.iterrows():
        pts = np.full((len(BODYPARTS), 2), np.nan)
        for k, b in enumerate(BODYPARTS):
            x, y = row[("lab", b, "x")], row[("lab", b, "y")]
            if not (math.isnan(x) or math.isnan(y)):
                pts[k] = (x, y)
        out[("/".join(idx), None)] = pts
    return out


def test_missing_image_is_named_and_skipped_without_shifting_the_rest(tmp_path):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 6, 3),))
    (root / "labeled-data" / "vidA" / "img000.png").unlink()
    spec = load_spec(root)
    with pytest.raises(DataError, match=r"CollectedData_lab.csv \[record row 0 \(labeled-data/vidA/img000.png\)\] "
                                        r"field 'image': image file not found"):
        read_dlc(root, spec)
    res = read_dlc(root, spec, skip_invalid=True)
    assert sum(e.reason == "image file not found" for e in res.skipped) == 1
    got = _by_image(res, root)
    want = {k: v for k, v in _expected(root).items() if not k[0].endswith("img000.png")}
    assert sorted(got) == sorted(want)
    for key in want:  # every remaining row keeps its own image's points
        np.testing.assert_array_equal(got[key], want[key])


def test_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_dlc(tmp_path / "nothing", load_spec("coco"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no DeepLabCut annotation table"):
        load_spec(tmp_path / "empty")
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 3, 3),))
    with pytest.raises(DataError, match=r"keypoints \['nose', .*\] of spec 'coco' are not in the file"):
        read_dlc(root, load_spec("coco"))
    assert main(["data", "stats", "data.format=dlc", f"data.root={tmp_path / 'empty'}"]) == 2
    assert main(["train", "data.format=dlc"]) == 2  # no config file and no data: says what to give
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    lines = table.read_text().splitlines()
    cells = lines[3].split(",")  # after the 3 header rows: data row 0
    cells[4] = "abc"  # snout y (after 3 index columns and snout x)
    table.write_text("\n".join(lines[:3] + [",".join(cells)] + lines[4:]) + "\n")
    with pytest.raises(DataError, match=r"\[record row 0 \(labeled-data/vidA/img000.png\)\] field 'snout.y': "
                                        r"not a finite number: 'abc'"):
        load_spec(root)
    table.write_bytes(b"\xff\xfe\x00 junk")
    with pytest.raises(DataError, match="CollectedData_lab.csv: not a readable CSV file"):
        load_spec(root)


def _edit_table(root: Path, edit) -> Path:
    """Rewrite vidA's CSV (3 index columns; lines 1-3 the header, 4.. the data rows) with ``edit(rows)``."""
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    with table.open(newline="") as f:
        rows = list(csv.reader(f))
    edit(rows)
    with table.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return table


# (case, edit of vidA's rows, expected message after the table's path)
BAD_TABLES = [
    ("long-row", lambda rows: rows[4].extend(["1", "2"]),
     " [record line 5 (labeled-data/vidA/img001.png)]: 15 cells, the header has 13"),
    ("short-row", lambda rows: rows[4].__delitem__(slice(11, None)),
     " [record line 5 (labeled-data/vidA/img001.png)]: 11 cells, the header has 13 (a row cut short? unlabelled "
     "cells are written empty: ',,')"),
    ("coords-x-x", lambda rows: rows[2].__setitem__(slice(3, None), ["x"] * 10),
     " [record header] field 'coords': expected x, y for each bodypart, got x, x for 'snout' (column 4)"),
    ("coords-x-likelihood", lambda rows: rows[2].__setitem__(slice(3, None), ["x", "likelihood"] * 5),
     " [record header] field 'coords': expected x, y for each bodypart, got x, likelihood for 'snout' (column 4)"),
    ("bodypart-twice", lambda rows: rows[1].__setitem__(slice(5, 7), ["snout", "snout"]),
     " [record header] field 'bodyparts': bodypart 'snout' is listed twice (columns 4 and 6)"),
    ("all-empty", lambda rows: [r.__setitem__(slice(3, None), [""] * 10) for r in rows[3:]],
     ": no keypoint is labelled in this table (every x, y cell of its 6 rows is empty)"),
    ("image-twice", lambda rows: rows[5].__setitem__(slice(0, 3), rows[4][:3]),
     " [record line 6 (labeled-data/vidA/img001.png)] field 'image': the image is labelled on two rows (lines 5 and "
     "6): one row per image, the animals of a multi-animal project in its columns"),
    ("x-without-y", lambda rows: rows[4].__setitem__(slice(3, 5), ["12.5", ""]),
     " [record row 1 (labeled-data/vidA/img001.png)] field 'snout.y': x is given and y is empty: a half-labelled point"),
    ("y-without-x", lambda rows: rows[4].__setitem__(slice(3, 5), ["", "7.5"]),
     " [record row 1 (labeled-data/vidA/img001.png)] field 'snout.x': y is given and x is empty: a half-labelled point"),
    # A cell written NaN was called empty.
    ("y-with-nan-x", lambda rows: rows[4].__setitem__(slice(3, 5), ["NaN", "7.5"]),
     " [record row 1 (labeled-data/vidA/img001.png)] field 'snout.x': y is given and x is 'NaN' (not a number): a "
     "half-labelled point"),
]


@pytest.mark.parametrize("case, edit, message", BAD_TABLES, ids=[c[0] for c in BAD_TABLES])
def test_bad_tables_are_one_line_naming_file_record_field(tmp_path, capsys, case, edit, message):
    """Tables sleap-io would misread or fail on with pandas' own words: a row longer than the header (pandas'
    message over lines), a coords row without x, y pairs or a bodypart listed twice (read as nothing labelled, or
    one column pair dropped, without a word), every cell empty (was 'sleap-io read 5 frames from 6 rows')."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 6, 3),))
    table = _edit_table(root, edit)
    with pytest.raises(DataError) as e:
        load_spec(root)
    assert str(e.value) == f"{table}{message}"
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {table}{message}"


def test_a_first_row_with_nothing_labelled_is_a_counted_skip(tmp_path):
    """pandas reads a first data row whose every coordinate is empty as the header's index names: the table failed
    ('sleap-io read 5 frames from 6 rows'). Rows with nothing labelled are now counted, wherever they are."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 6, 3),))
    _edit_table(root, lambda rows: rows[3].__setitem__(slice(3, None), [""] * 10))
    res = read_dlc(root, load_spec(root))
    empty = sorted(str(e.record) for e in res.skipped if e.reason == "no labelled keypoint")
    assert empty == ["row 0 (labeled-data/vidA/img000.png)", "row 2 (labeled-data/vidA/img002.png)"]
    got, want = _by_image(res, root), _expected(root)
    assert sorted(got) == sorted(want) and len(want) == 4
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def _h5_only(tmp_path: Path) -> tuple[Path, Path]:
    """A project whose one table is a ``.h5`` (not written yet: the caller writes it) without a CSV beside it."""
    pytest.importorskip("tables", reason="DeepLabCut .h5 tables are read through pandas + PyTables")
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 3, 3),))
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    table.unlink()
    return root, table.with_suffix(".h5")


def test_an_h5_that_is_not_hdf5_is_one_line_naming_it(tmp_path, capsys):
    root, h5 = _h5_only(tmp_path)
    h5.write_text("not hdf5\n")  # was tables.exceptions.HDF5ExtError's back trace
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {h5}: not an HDF5 file (a DeepLabCut .h5 table is written by "
                                               "pandas + PyTables; the CSV DeepLabCut writes beside it can be read instead)")


def test_an_h5_that_is_not_a_dlc_table_names_the_h5(tmp_path):
    pd = pytest.importorskip("pandas")
    root, h5 = _h5_only(tmp_path)
    pd.DataFrame({"a": [1, 2]}).to_hdf(h5, key="df_with_missing")  # was named as the temporary CSV written from it
    with pytest.raises(DataError) as e:
        load_spec(root)
    assert str(e.value) == f"{h5} [record header]: not a DeepLabCut table: no 'bodyparts' and 'coords' header rows"


def test_config_bodyparts_and_skeleton_must_name_the_tables_bodyparts(tmp_path):
    """A config.yaml whose bodyparts differ from the tables' (a renamed bodypart) gave the tables' names with no
    word, and a skeleton edge naming an unknown bodypart was dropped by sleap-io in a hidden warning."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 3, 3),))
    cfg_path = root / "config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg_path.write_text(yaml.safe_dump({**cfg, "bodyparts": [*BODYPARTS[:4], "tail"]}))
    with pytest.raises(DataError) as e:
        load_spec(root)
    assert str(e.value) == (f"{cfg_path} field 'bodyparts': does not match the labelled data: ['tail'] only in "
                            f"config.yaml, ['tailtip'] only in the tables (the tables' bodyparts: {BODYPARTS}); edit "
                            "config.yaml or the tables so that they name the same bodyparts")
    cfg_path.write_text(yaml.safe_dump({**cfg, "skeleton": [*SKELETON, ["snout", "whiskers"]]}))
    with pytest.raises(DataError) as e:
        load_spec(root)
    assert str(e.value) == (f"{cfg_path} field 'skeleton': edge ['snout', 'whiskers'] names ['whiskers'], not among "
                            f"the bodyparts {BODYPARTS}")
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert load_spec(root).keypoints == tuple(BODYPARTS)


def test_data_stats_shows_the_split_without_a_config(tmp_path, capsys):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 12, 3), ("vidB", 10, 1)))
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0
    out = capsys.readouterr().out
    assert "split: random, val_fraction 0.2, seed 0" in out
    table = {ln.split("|")[1].strip(): [c.strip() for c in ln.split("|")[2:-1]] for ln in out.splitlines()
             if ln.startswith("| ") and not ln.startswith("| split")}
    n = len(_expected(root))  # labelled images (one animal each)
    assert int(table["train"][0]) + int(table["val"][0]) == n == int(table["total"][0])
    assert int(table["val"][0]) == round(0.2 * n)


# --------------------------------------------------------------------------------------------------------
# SLEAP
# --------------------------------------------------------------------------------------------------------
def make_slp(path: Path, n: int = 5, embed: bool = False, seed: int = 0, mp4: bool = False):
    """A SLEAP file written with sleap-io: an image-sequence video (or an .mp4), one user instance per frame
    with some unlabelled nodes, a symmetry, and one predicted instance (which must not be read)."""
    import sleap_io as sio

    rng = np.random.default_rng(seed)
    files = []
    if mp4:  # smooth frames, which a video codec keeps recognisable
        yy, xx = np.mgrid[0:H, 0:W]
        frames = np.stack([np.stack([(xx * 4 + 20 * i) % 256, yy * 5, np.full_like(xx, 40 * i)], -1)
                           for i in range(n)]).astype(np.uint8)
        files = [str(path.parent / "clip.mp4")]
        sio.save_video(frames, files[0])
        video = sio.load_video(files[0])
    else:
        for i in range(n):
            f = path.parent / "frames" / f"f{i:03d}.png"
            _image(f, i)
            files.append(str(f))
        video = sio.Video.from_filename(files)
    sk = sio.Skeleton(["head", "wing_left", "wing_right", "abdomen"], edges=[("head", "abdomen")],
                      symmetries=[("wing_left", "wing_right")], name="fly")
    frames, truth = [], {}
    for i in range(n):
        pts = rng.uniform(0, [W - 1, H - 1], (4, 2))
        pts[rng.random(4) < 0.3] = np.nan
        pts[0] = (10.25, 20.5)  # at least one labelled node
        truth[i] = pts
        pred = sio.PredictedInstance.from_numpy(pts + 3.0, skeleton=sk, point_scores=np.ones(4), score=1.0)
        frames.append(sio.LabeledFrame(video=video, frame_idx=i, instances=[sio.Instance.from_numpy(pts, skeleton=sk), pred]))
    labels = sio.Labels(labeled_frames=frames, videos=[video], skeletons=[sk])
    sio.save_slp(labels, str(path), embed="user" if embed else False, verbose=False)
    return truth, files


@pytest.mark.parametrize("media", ["images", "embedded", "mp4"])
def test_slp_round_trip(tmp_path, media):
    import sleap_io as sio

    from adaanchor.data.readers.slp import read_slp

    embed = media == "embedded"
    path = tmp_path / ("labels.pkg.slp" if embed else "labels.slp")
    truth, files = make_slp(path, embed=embed, mp4=media == "mp4")
    spec = load_spec(path)
    assert spec.keypoints == ("head", "wing_left", "wing_right", "abdomen") and spec.name == "fly"
    assert spec.flip_pairs == ((1, 2),) and spec.skeleton == ((0, 3),)
    res = read_slp(path, spec)
    assert len(res.instances) == len(truth)  # the predicted instances are not training labels
    for inst in res.instances:
        i = inst.extra["frame"]
        np.testing.assert_allclose(np.where(inst.visibility[:, None] == 2, inst.keypoints, np.nan), truth[i])
        # frames of a video or embedded in the file are decoded once into <file name>.frames/ beside it,
        # exactly as sleap-io decodes them
        got = np.asarray(Image.open(inst.image_path).convert("RGB"))
        ref = np.asarray(sio.load_video(files[0])[i]) if media == "mp4" else np.asarray(Image.open(files[i]).convert("RGB"))
        np.testing.assert_array_equal(got, ref)
        assert (Path(inst.image_path).parent.parent.name == f"{path.name}.frames") == (media != "images")


def test_versioned_slp_files_never_share_decoded_frames(tmp_path):
    """SLEAP names its copies labels.v001.slp, labels.v002.slp: their frames went to one labels.frames/ folder,
    and the second file trained on the first file's video without a word."""
    import shutil

    import sleap_io as sio

    from adaanchor.data.readers.slp import read_slp

    day1, day2 = tmp_path / "day1", tmp_path / "day2"
    day1.mkdir()
    day2.mkdir()
    make_slp(day1 / "labels.v001.slp", mp4=True, seed=1)
    make_slp(day2 / "labels.v002.slp", mp4=True, seed=2)
    for d in (day1, day2):  # different pixels in the two videos
        frames = np.asarray([np.asarray(f) for f in sio.load_video(str(d / "clip.mp4"))])
        sio.save_video(((frames.astype(int) + (0 if d is day1 else 90)) % 256).astype(np.uint8), str(d / "clip.mp4"))
    both = tmp_path / "both"
    both.mkdir()
    for d, name in ((day1, "labels.v001.slp"), (day2, "labels.v002.slp")):
        shutil.copy(d / name, both / name)  # their videos stay where the files name them
    spec = load_spec(both / "labels.v001.slp")
    for name, d in (("labels.v001.slp", day1), ("labels.v002.slp", day2)):
        inst = read_slp(both / name, spec).instances[0]
        got = np.asarray(Image.open(inst.image_path).convert("RGB"))
        ref = np.asarray(sio.load_video(str(d / "clip.mp4"))[inst.extra["frame"]])
        np.testing.assert_array_equal(got, ref)
        assert Path(inst.image_path).parent.parent.name == f"{name}.frames"
    # The file's video replaced by another: its frames are decoded again, not taken from the folder.
    v1 = read_slp(both / "labels.v001.slp", spec).instances[0]
    frames = np.asarray([np.asarray(f) for f in sio.load_video(str(day1 / "clip.mp4"))])
    sio.save_video(((frames.astype(int) + 45) % 256).astype(np.uint8), str(day1 / "clip.mp4"))
    import adaanchor.data.readers.slp as slp_mod

    slp_mod._checked.clear()  # a new process
    slp_mod._load.cache_clear()
    again = read_slp(both / "labels.v001.slp", spec).instances[0]
    ref = np.asarray(sio.load_video(str(day1 / "clip.mp4"))[again.extra["frame"]])
    np.testing.assert_array_equal(np.asarray(Image.open(again.image_path).convert("RGB")), ref)
    assert again.image_path == v1.image_path



def test_a_decoded_frame_cut_short_is_not_taken_for_decoded(tmp_path, monkeypatch):
    """A Ctrl-C while a frame was being written left a truncated PNG in <file name>.frames/, which the next read
    took for the decoded frame (training stopped at it, 'image file is truncated')."""
    import sleap_io as sio
    from PIL import Image as PILImage

    import adaanchor.data.readers.slp as slp_mod
    from adaanchor.data.readers.slp import read_slp

    path = tmp_path / "labels.slp"
    make_slp(path, mp4=True)
    spec = load_spec(path)
    real_save = PILImage.Image.save

    def cut_short(self, fp, *a, **k):
        real_save(self, fp, *a, **k)
        data = Path(fp).read_bytes()
        Path(fp).write_bytes(data[: len(data) // 2])
        raise KeyboardInterrupt

    monkeypatch.setattr(PILImage.Image, "save", cut_short)
    with pytest.raises(KeyboardInterrupt):
        read_slp(path, spec)
    monkeypatch.setattr(PILImage.Image, "save", real_save)
    assert list((tmp_path / "labels.slp.frames" / "video0").glob("*.png")) == []
    slp_mod._checked.clear()  # a new process
    inst = read_slp(path, spec).instances[0]
    ref = np.asarray(sio.load_video(str(tmp_path / "clip.mp4"))[inst.extra["frame"]])
    np.testing.assert_array_equal(np.asarray(PILImage.open(inst.image_path).convert("RGB")), ref)

# --------------------------------------------------------------------------------------------------------
# adaanchor train with no config file
# --------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_train_a_dlc_project_without_a_config_file(tmp_path, capsys):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 10, 3),))
    out = tmp_path / "run"
    rc = main(["train", "data.format=dlc", f"data.root={root}", f"out_dir={out}", "model.backbone=tiny",
               "model.weights=null", "model.tiny_width=8", "data.input_size=[64,48]", "train.max_steps=3",
               "train.batch_size=4", "train.progress=false", "train.eval_every=1"])
    assert rc == 0, capsys.readouterr().err
    assert (out / "config.yaml").is_file() and any((out / "checkpoints").glob("*.pt"))
    saved = yaml.safe_load((out / "config.yaml").read_text())
    assert saved["data"]["spec"] == str(root) and saved["data"]["split"]["by"] == "random"
    # The spec read from the project is written into the run, which then needs no project to predict.
    own = yaml.safe_load((out / "spec.yaml").read_text())
    assert own["keypoints"] == list(load_spec(str(root)).keypoints) and own["flip_pairs"]
    # (It used to be a copy of the project's config.yaml, which every later command refused as a spec.)
    from adaanchor.predict import Predictor

    assert list(Predictor.from_run(out, device="cpu").keypoint_names) == own["keypoints"]


def test_a_spec_path_that_is_not_one_says_what_was_expected(tmp_path, monkeypatch):
    """custom data's config names data.root as its spec: a typo or a file of another kind must say what a data
    root may be, not only "keypoint spec"; a spec YAML without its suffix still loads, and its own errors stand."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError, match=r"no such file or folder; expected a keypoint spec YAML file, a DeepLabCut"):
        load_spec(tmp_path / "mouse-prj" / "config.yaml.bak")
    with pytest.raises(AdaAnchorError, match=r"unknown keypoint spec 'mouse-prj'\. Valid: .*; nor is 'mouse-prj' a "
                                             r"file or folder here \(.*SLEAP \.slp file, a YOLO pose dataset .* or a COCO-format \.json file"):
        load_spec("mouse-prj")
    with pytest.raises(AdaAnchorError, match="Did you mean 'coco'"):
        load_spec("cocoo")
    (tmp_path / "notes.txt").write_text("just: [some, text\n")
    with pytest.raises(DataError, match=r"notes.txt: not a keypoint spec YAML file; expected"):
        load_spec(tmp_path / "notes.txt")
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff binary")  # was a UnicodeDecodeError
    with pytest.raises(DataError, match=r"photo.png: not a keypoint spec"):
        load_spec(tmp_path / "photo.png")
    (tmp_path / "myspec").write_text("keypoints: [a, b]\nflip_pairs: [[a, b]]\n")
    assert load_spec(tmp_path / "myspec").keypoints == ("a", "b")
    (tmp_path / "badspec").write_text("keypoints: [a, b]\nflip_pairs: [[a, c]]\n")
    with pytest.raises(DataError, match="unknown keypoint name 'c'"):
        load_spec(tmp_path / "badspec")
    assert main(["train", "data.format=dlc", "data.root=mouse-prj"]) == 2


def test_a_row_naming_another_video_folder_reads_that_folder_not_a_namesake(tmp_path):
    """vidB's rows in vidA's table: labeled-data/vidB/img001.png was read as vidA/img001.png (another frame, its
    labels on it as a second animal, without a word); it is the project's labeled-data/vidB/img001.png."""
    import shutil

    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3), ("vidB", 3, 3)))
    b_table = root / "labeled-data" / "vidB" / "CollectedData_lab.csv"
    with b_table.open(newline="") as f:
        b_rows = list(csv.reader(f))[3:]
    want = _expected(root)
    _edit_table(root, lambda rows: rows.extend(b_rows))
    b_table.unlink()
    shutil.rmtree(root / "labeled-data" / "vidB" / "__pycache__", ignore_errors=True)
    res = read_dlc(root, load_spec(root), skip_invalid=True)
    got = _by_image(res, root)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_a_table_written_on_windows_reads_its_backslash_paths(tmp_path):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 5, 1),))
    want = _expected(root)
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    table.write_text(table.read_text().replace("labeled-data/vidA/", "labeled-data\\vidA\\"))
    got = _by_image(read_dlc(root, load_spec(root), skip_invalid=True), root)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_backslash_paths_read_in_a_table_without_an_empty_row(tmp_path):
    """The paths were rewritten only with the rows that have no labelled point: a table of Windows paths whose every
    row had one was given to sleap-io as it was, which read 0 frames ("sleap-io read 0 frames from 4 rows")."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 5, 1),))
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    table.write_text("".join(ln for ln in table.read_text().splitlines(keepends=True) if "img002" not in ln))
    (root / "labeled-data" / "vidA" / "img002.png").unlink()  # the empty row and its image gone
    want = _expected(root)
    table.write_text(table.read_text().replace("labeled-data/vidA/", "labeled-data\\vidA\\"))
    got = _by_image(read_dlc(root, load_spec(root), skip_invalid=True), root)
    assert sorted(got) == sorted(want) and len(want) == 4
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


def test_data_of_another_format_says_which_format_it_looks_like(tmp_path, capsys):
    """A SLEAP file read as DeepLabCut's was 'unreadable DeepLabCut config (UnicodeDecodeError)'; a DeepLabCut
    project read as SLEAP's 'SLEAP file not found' although the folder exists."""
    proj = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    slp = tmp_path / "labels.slp"
    make_slp(slp)
    for fmt, root, says in (("dlc", slp, "looks like a SLEAP file: data.format=slp"),
                            ("slp", proj, "looks like a DeepLabCut project: data.format=dlc"),
                            ("yolo", proj, "looks like a DeepLabCut project: data.format=dlc")):
        capsys.readouterr()
        assert main(["data", "stats", f"data.format={fmt}", f"data.root={root}"]) == 2
        assert f"({root} {says})" in capsys.readouterr().err
    assert main(["data", "stats", "data.format=dlc", f"data.root={proj}"]) == 0
    assert "looks like" not in capsys.readouterr().err


def test_data_stats_counts_a_missing_frame_and_fails_when_nothing_is_usable(tmp_path, capsys):
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 5, 3),))
    capsys.readouterr()
    # The fixture's row with no labelled point is a listed problem that training passes over: exit 0.
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0
    assert "no labelled keypoint" in capsys.readouterr().out
    (root / "labeled-data" / "vidA" / "img003.png").unlink()
    # A missing frame stops a training (exit 0 here, then train exited 2 on it): exit 1 and where it stops.
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 1
    cap = capsys.readouterr()
    total = next(ln for ln in cap.out.splitlines() if ln.startswith("| total"))
    assert total.rstrip(" |").endswith("| 1")  # the missing images column counted it (it said 0)
    assert cap.err == ("training stops at the train split: " + str(root / "labeled-data" / "vidA" / "CollectedData_lab.csv")
                       + " [record row 3 (labeled-data/vidA/img003.png)] field 'image': image file not found; fix it, "
                       "or data.skip_invalid=true skips every listed problem (counted)\n")
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}", "data.skip_invalid=true"]) == 0
    for p in (root / "labeled-data" / "vidA").glob("*.png"):
        p.unlink()
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 2
    assert "error: no usable instance in any split" in capsys.readouterr().err


def test_a_copied_sleap_project_finds_its_image_sequence(tmp_path):
    """The .slp names its frames by absolute path: a copy of the project elsewhere found none ('image file not
    found', 0 images) while they sat beside it."""
    import shutil

    from adaanchor.data.readers.slp import read_slp

    proj = tmp_path / "sleap"
    proj.mkdir()
    truth, _ = make_slp(proj / "labels.slp")
    moved = tmp_path / "elsewhere" / "sleap moved"
    shutil.copytree(proj, moved)
    shutil.rmtree(proj)
    res = read_slp(moved / "labels.slp", load_spec(moved / "labels.slp"))
    assert len(res.instances) == len(truth)
    assert all(Path(i.image_path).parent == moved / "frames" for i in res.instances)


def test_a_val_split_holding_training_images_is_said(tmp_path, capsys):
    """data.train names one video's table and data.val stays the whole project (.): the run evaluated on the
    images it trained on, and neither data stats nor train said so."""
    root = make_dlc_project(tmp_path / "proj")
    part = ["data.format=dlc", f"data.root={root}", "data.train=labeled-data/vidA/CollectedData_lab.csv"]
    assert main(["data", "stats", *part]) == 0
    out = capsys.readouterr().out
    assert ("the val split shares 5 of its 9 images with the train split (data.train=labeled-data/vidA/"
            "CollectedData_lab.csv, data.val=.): its evaluation is not held out") in out, out
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0  # the random split: held out
    assert "shares" not in capsys.readouterr().out
    run = ["model.backbone=tiny", "model.weights=null", "model.tiny_width=8", "data.input_size=[64,48]",
           "train.max_steps=1", "train.batch_size=4", "train.progress=false", "train.eval_every=1"]
    assert main(["train", *part, *run, f"out_dir={tmp_path / 'run'}"]) == 0
    assert "warning: the val split shares 5 of its 9 images with the train split" in capsys.readouterr().out
