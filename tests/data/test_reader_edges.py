"""Readers on input that is unusual but real: pandas' NaN in a DeepLabCut table, several tables in one folder, a
SLEAP frame past its image sequence, text files with a byte-order mark, upper-case suffixes, and YOLO labels of
photos that carry an EXIF orientation."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_dlc import _by_image, _expected, make_dlc_project, make_slp  # tests/data is on sys.path

from adaanchor.cli import main
from adaanchor.data.readers.dlc import read_dlc
from adaanchor.data.spec_source import load_spec
from adaanchor.errors import AdaAnchorError, DataError


def _rewrite_cells(table: Path, old: str, new: str) -> int:
    """Every data cell of ``table`` equal to ``old`` becomes ``new``; returns how many."""
    with table.open(newline="") as f:
        rows = list(csv.reader(f))
    n = 0
    for r in rows[3:]:
        for j in range(3, len(r)):
            if r[j] == old:
                r[j], n = new, n + 1
    with table.open("w", newline="") as f:
        csv.writer(f).writerows(rows)
    return n


@pytest.mark.parametrize("nan", ["NaN", "nan", "-NaN"])
def test_a_dlc_table_with_pandas_nan_cells_reads_as_with_empty_cells(tmp_path, nan):
    """pandas writes a missing value as NaN when ``na_rep`` is not set, and reads it back as missing; the table
    check refused such a cell as 'not a finite number'."""
    root = make_dlc_project(tmp_path / "proj")
    want = _expected(root)
    tables = sorted(root.glob("labeled-data/*/CollectedData_lab.csv"))
    assert sum(_rewrite_cells(t, "", nan) for t in tables) > 20
    got = _by_image(read_dlc(root, load_spec(root)), root)
    assert sorted(got) == sorted(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])


@pytest.mark.parametrize("word", ["NAN", "+nan"])
def test_nan_spellings_pandas_reads_as_words_are_refused(tmp_path, word):
    """``NAN`` and ``+nan`` reach pandas as words (the column becomes text): refused with the cell named."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    _rewrite_cells(table, "", word)
    with pytest.raises(DataError, match=f"not a finite number: '{word.replace('+', '[+]')}'"):
        load_spec(root)


def test_several_tables_in_one_folder_are_refused_unless_the_scorer_names_one(tmp_path, capsys):
    """Two scorers' tables in one video folder, or lightning-pose's per-view tables: the reader took the first one
    by name and left the others out without a word."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    folder = root / "labeled-data" / "vidA"
    shutil.copy(folder / "CollectedData_lab.csv", folder / "CollectedData_alice.csv")
    # The project's config names its scorer ("lab"): that table is read, as DeepLabCut does.
    assert len(read_dlc(root, load_spec(root)).instances) == 3
    assert "CollectedData_alice not read (the project's scorer is 'lab'" in capsys.readouterr().err  # said, once
    (root / "config.yaml").unlink()
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: {folder} field 'CollectedData': 2 annotation tables (CollectedData_alice.csv, "
        "CollectedData_lab.csv) and no config.yaml names a scorer: give one table as data.root (or, for a "
        "DeepLabCut project, set scorer in config.yaml)")
    # One table given as data.root reads that one.
    assert len(read_dlc(folder / "CollectedData_alice.csv", load_spec(folder / "CollectedData_alice.csv")).instances) == 3


def test_a_table_in_csv_and_h5_is_one_table(tmp_path):
    """DeepLabCut writes every table twice (CollectedData_<scorer>.csv and .h5): not two tables."""
    pytest.importorskip("tables")
    pd = pytest.importorskip("pandas")
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    pd.read_csv(table, header=[0, 1, 2], index_col=[0, 1, 2]).to_hdf(table.with_suffix(".h5"), key="df_with_missing")
    (root / "config.yaml").unlink()
    assert len(read_dlc(root, load_spec(root)).instances) == 3


def test_a_sleap_frame_past_its_image_sequence_is_named(tmp_path, capsys):
    """A labelled frame whose index is past the end of its image-sequence video stopped the reader with an
    IndexError traceback (a frame past the end of an .mp4 was already an error naming it)."""
    import sleap_io as sio

    from adaanchor.data.readers.slp import read_slp

    path = tmp_path / "labels.slp"
    make_slp(path, n=3)
    labels = sio.load_slp(str(path))
    first = labels.labeled_frames[0]
    labels.labeled_frames.append(sio.LabeledFrame(video=labels.videos[0], frame_idx=7,
                                                  instances=[first.user_instances[0]]))
    bad = tmp_path / "labels2.slp"
    sio.save_slp(labels, str(bad), embed=False, verbose=False)
    message = (f"{bad} [record video 0 frame 7] field 'frame_idx': frame 7 of an image sequence of 3 images "
               "(frames 0..2)")
    with pytest.raises(DataError) as e:
        read_slp(bad, load_spec(bad))
    assert str(e.value) == message
    res = read_slp(bad, load_spec(bad), skip_invalid=True)
    assert len(res.instances) == 3 and [str(e) for e in res.skipped] == [message]
    assert main(["data", "stats", "data.format=slp", f"data.root={bad}"]) == 1  # listed; training stops there
    cap = capsys.readouterr()
    assert message in cap.out and "data.skip_invalid=true skips every listed problem" in cap.err


def _photo_turned(path: Path, stored_wh: tuple[int, int], orientation: int) -> None:
    """A JPEG stored at ``stored_wh`` with an EXIF orientation tag."""
    from PIL import Image

    im = Image.new("RGB", stored_wh, (90, 120, 30))
    exif = Image.Exif()
    exif[0x0112] = orientation
    im.save(path, exif=exif.tobytes())


def test_yolo_labels_of_a_turned_photo_are_in_its_displayed_frame(tmp_path, capsys):
    """Ultralytics normalises a label by the size of the image as displayed (turned by its EXIF tag) and reads the
    image turned: the reader multiplied by the stored size, so even data.exif=apply gave points off the image."""
    from test_yolo import make_yolo

    from adaanchor.config import build_config
    from adaanchor.data.build import build_dataset
    from adaanchor.data.readers.yolo import read_yolo

    root = tmp_path / "ds"
    make_yolo(root, n={"train": 2, "val": 1})
    img = root / "images" / "train" / "turned.jpg"
    _photo_turned(img, (80, 40), 6)  # displayed 40 wide, 80 high
    (root / "labels" / "train" / "turned.txt").write_text("0 0.5 0.5 0.5 0.5" + " 0.25 0.75 2" * 5 + "\n")
    res = read_yolo(root, load_spec(root))
    inst = next(i for i in res.instances if i.image_path == str(img))
    np.testing.assert_allclose(inst.keypoints, [[10.0, 60.0]] * 5)
    np.testing.assert_allclose(inst.bbox, [10.0, 20.0, 20.0, 40.0])
    assert inst.extra["exif_orientation"] == 6
    # data.exif=ignore would train the turned labels on the stored pixels: refused, naming the image.
    over = ["data.format=yolo", f"data.root={root}", f"data.spec={root}", "data.train=images/train",
            "data.val=images/val", "data.input_size=[64,64]"]
    with pytest.raises(AdaAnchorError, match=r"orientation 6\) and their labels are on the image as "
                                             r"displayed.*set data.exif=apply"):
        build_dataset(build_config(None, over).data, "train")
    assert main(["data", "stats", *over]) == 1  # listed; training refuses it, skip_invalid or not
    cap = capsys.readouterr()
    assert f"(the first: {img}, orientation 6)" in cap.out
    assert cap.err.startswith("training stops at the train split: ") and cap.err.endswith("; fix it\n")
    # Turned, the image matches its labels: the crop's keypoints land where the labels say.
    ds = build_dataset(build_config(None, [*over, "data.exif=apply"]).data, "train", train=False)
    k = [i for i, x in enumerate(ds.instances) if x.image_path == str(img)][0]
    assert ds._images(str(img)).shape[:2] == (80, 40)
    assert np.all(ds[k]["visibility"].numpy() > 0)


def test_a_yolo_image_past_the_decoding_limit_is_named_not_a_traceback(tmp_path, monkeypatch):
    """Pillow refuses to open an image over twice its pixel limit with DecompressionBombError, which the reader
    did not catch; a size between the limit and twice it reads (as read_image decodes it)."""
    from PIL import Image
    from test_yolo import make_yolo

    from adaanchor.data.readers.yolo import read_yolo

    root = tmp_path / "ds"
    make_yolo(root, n={"train": 2, "val": 1})  # train images are 64 x 48 = 3072 px
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 3072 > 2 x 1000: too large
    with pytest.raises(DataError, match=r"\[record images/train/train0.png\] field 'image': image too large to "
                                        r"decode safely"):
        read_yolo(root / "images" / "train", load_spec(root))
    assert len(read_yolo(root / "images" / "train", load_spec(root), skip_invalid=True).skipped) == 2
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # between the limit and twice it: reads
    assert len(read_yolo(root / "images" / "train", load_spec(root)).instances) == 2


def test_a_yolo_label_file_with_a_bom_and_crlf_reads(tmp_path):
    """A label file saved by a Windows editor (a UTF-8 byte-order mark, CRLF line ends) was 'not numbers'."""
    from test_yolo import make_yolo

    from adaanchor.data.readers.yolo import read_yolo

    root = tmp_path / "ds"
    make_yolo(root, n={"train": 2, "val": 1})
    want = read_yolo(root, load_spec(root))
    for lbl in (root / "labels").rglob("*.txt"):
        lbl.write_bytes(b"\xef\xbb\xbf" + lbl.read_bytes().replace(b"\n", b"\r\n"))
    got = read_yolo(root, load_spec(root))
    assert len(got.instances) == len(want.instances) == 3 and not got.skipped
    for a, b in zip(got.instances, want.instances):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)


BOM = b"\xef\xbb\xbf"


def _text_datasets(tmp_path: Path) -> dict[str, tuple]:
    """One small dataset per text format: format -> (path given to the reader, spec, files to rewrite)."""
    from adaanchor.data.spec import load_spec as spec_named

    rng = np.random.default_rng(0)
    pts = rng.uniform(20, 60, (68, 2))
    (tmp_path / "pts").mkdir()
    from PIL import Image

    for name in ("face", "other"):
        Image.new("RGB", (80, 80)).save(tmp_path / "pts" / f"{name}.png")
    (tmp_path / "pts" / "face.pts").write_text(
        "version: 1\nn_points: 68\n{\n" + "\n".join(f"{x:.3f} {y:.3f}" for x, y in pts) + "\n}\n")
    tri = spec_named({"name": "tri", "keypoints": ["a", "b", "c"]})
    (tmp_path / "lm.csv").write_text("img 0.jpg,1,2,3,4,5,6\nimg1.jpg,7,8,9,10,11,12\n")  # no header row
    (tmp_path / "lmh.csv").write_text("image_name,x0,y0,x1,y1,x2,y2\nimg 0.jpg,1,2,3,4,5,6\n")
    w98 = rng.uniform(20, 180, (98, 2))
    (tmp_path / "wflw.txt").write_text(" ".join([*(f"{v:.3f}" for v in w98.reshape(-1)), "10", "20", "200", "220",
                                                 *["0"] * 6, "a/img.jpg"]) + "\n")
    coco = {"images": [{"id": 1, "file_name": "x.jpg", "width": 64, "height": 48}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "keypoints": [10, 10, 2] * 3,
                             "bbox": [5, 5, 20, 20], "area": 400, "num_keypoints": 3}],
            "categories": [{"id": 1, "name": "thing", "keypoints": ["a", "b", "c"], "skeleton": []}]}
    import json

    (tmp_path / "coco.json").write_text(json.dumps(coco))
    return {"pts": (tmp_path / "pts", spec_named("face68"), [tmp_path / "pts" / "face.pts"]),
            "csv": (tmp_path / "lm.csv", tri, [tmp_path / "lm.csv"]),
            "csv_header": (tmp_path / "lmh.csv", tri, [tmp_path / "lmh.csv"]),
            "wflw_txt": (tmp_path / "wflw.txt", spec_named("wflw"), [tmp_path / "wflw.txt"]),
            "coco": (tmp_path / "coco.json", tri, [tmp_path / "coco.json"])}


@pytest.mark.parametrize("fmt", ["pts", "csv", "csv_header", "wflw_txt", "coco"])
def test_text_files_saved_with_a_byte_order_mark_read_as_without(tmp_path, fmt):
    """Windows editors save UTF-8 with a byte-order mark: it became part of the first file name (a CSV without a
    header: 'image file not found' for a file that exists), of the first number (WFLW: 'must be numbers'), of the
    header line (.pts: "missing 'n_points:'"), or a JSON error."""
    from adaanchor.data.readers.formats import FORMATS

    path, spec, files = _text_datasets(tmp_path)[fmt]
    reader = FORMATS[fmt.replace("_header", "")]
    want = reader(path, spec)
    for f in files:
        f.write_bytes(BOM + f.read_bytes().replace(b"\n", b"\r\n"))
    got = reader(path, spec)
    assert [i.image_path for i in got.instances] == [i.image_path for i in want.instances] and not got.skipped
    for a, b in zip(got.instances, want.instances):
        np.testing.assert_array_equal(a.keypoints, b.keypoints)


def test_pts_files_with_an_upper_case_suffix_are_read(tmp_path):
    """``face.PTS`` (Windows tools) was left out of a folder without a word: the search was case-sensitive."""
    from adaanchor.data.readers.formats import FORMATS

    path, spec, files = _text_datasets(tmp_path)["pts"]
    files[0].rename(files[0].with_name("other.PTS"))
    shutil.copy(files[0].with_name("other.PTS"), files[0])
    got = FORMATS["pts"](path, spec)
    assert sorted(Path(i.extra["pts_file"]).name for i in got.instances) == ["face.pts", "other.PTS"]


def test_a_wflw_image_name_with_a_space_is_one_name(tmp_path):
    """The name is the line's last field: one holding a space was read as one more coordinate ('got 197
    coordinates' for a line that is right)."""
    from adaanchor.data.readers.formats import FORMATS

    path, spec, _ = _text_datasets(tmp_path)["wflw_txt"]
    path.write_text(path.read_text().replace("a/img.jpg", "a/my  face.jpg"))
    (inst,) = FORMATS["wflw_txt"](path, spec).instances
    assert inst.image_path == str(tmp_path / "a" / "my  face.jpg")
    # A coordinate too many is still counted, not taken for the name's start.
    path.write_text(path.read_text().replace(" 10 20 200 220", " 1.5 10 20 200 220").replace("my  face", "face"))
    with pytest.raises(DataError, match="got 197 coordinates"):
        FORMATS["wflw_txt"](path, spec)


def test_a_generated_benchmark_refuses_another_annotation_file(tiny_bench, capsys):
    """``eval RUN data.val=other.json`` on a run of the generated benchmark scored the benchmark's own val split,
    exit code 0: data.format=synth generates its files and read no other."""
    from adaanchor.config import build_config
    from adaanchor.data.paths import annotation_path

    over = [f"data.root={tiny_bench}", "data.synth.n_train=48", "data.synth.n_val=12", "data.synth.seed=0"]
    cfg = build_config(None, over).data
    assert annotation_path(cfg, "val") == tiny_bench / "val.json"
    assert annotation_path(build_config(None, [*over, f"data.val={tiny_bench / 'val.json'}"]).data, "val") == \
        tiny_bench / "val.json"  # the same file named in full
    with pytest.raises(AdaAnchorError, match=r"data.val=other.json: data.format=synth generates its own val split "
                                             r".* and reads no other file; to use other.json, set data.format"):
        annotation_path(build_config(None, [*over, "data.val=other.json"]).data, "val")


def test_coco_sizes_of_the_turned_photo_mean_labels_in_the_displayed_frame(tmp_path):
    """A COCO file giving a photo's width and height as displayed (turned by its EXIF tag) labels the turned image:
    under data.exif=ignore the model saw the stored pixels with labels 40-90 px off, after one generic warning."""
    import json

    from adaanchor.config import build_config
    from adaanchor.data.build import build_dataset

    (tmp_path / "img").mkdir()
    people, images = [], []
    for i in range(3):
        _photo_turned(tmp_path / "img" / f"p{i}.jpg", (80, 40), 6)  # displayed 40 wide, 80 high
        images.append({"id": i + 1, "file_name": f"img/p{i}.jpg", "width": 40, "height": 80})
        people.append({"id": i + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0, "area": 600.0, "num_keypoints": 17,
                       "bbox": [5.0, 10.0, 30.0, 60.0], "keypoints": [v for j in range(17) for v in (8.0 + j, 12.0 + 3 * j, 2)]})
    (tmp_path / "a.json").write_text(json.dumps({"images": images, "annotations": people, "categories": [{"id": 1}]}))
    over = ["data.format=coco", f"data.root={tmp_path}", "data.train=a.json", "data.val=a.json", "data.spec=coco",
            "data.crop=box", "data.input_size=[32,64]"]
    with pytest.raises(AdaAnchorError, match=r"3 image\(s\) carry an EXIF orientation tag .*orientation 6\) and their "
                                             r"labels are on the image as displayed.*set data.exif=apply"):
        build_dataset(build_config("demo", over).data, "train")
    assert len(build_dataset(build_config("demo", [*over, "data.exif=apply"]).data, "train").instances) == 3
    for im in images:  # the stored size: labels on the stored pixels, read as they are
        im["width"], im["height"] = 80, 40
    (tmp_path / "a.json").write_text(json.dumps({"images": images, "annotations": people, "categories": [{"id": 1}]}))
    assert len(build_dataset(build_config("demo", over).data, "train").instances) == 3
