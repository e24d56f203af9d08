"""Bad inputs, end to end: every one gives a one-line error naming the file (and the record and field where
there is one), or a documented skip counted in the printed summary. Nothing ends in a traceback and no
record is dropped silently (instances + skipped == records).

docs/bad-input.md lists every case of this module (the ids of :data:`CASES`) with what it produces, and
the cases covered elsewhere (tests/data/test_readers.py, tests/test_config.py, tests/test_cli.py, ...).
Run without xdist, the module ends by printing a table: case -> the message it produced.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from adaanchor.cli import main
from adaanchor.config import build_config
from adaanchor.data.build import build_dataset, read_split
from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.image_read import load_image
from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.records import Instance
from adaanchor.data.spec import load_spec
from adaanchor.data.types import from_tensor_image
from adaanchor.demo import DEMO_CONFIG
from adaanchor.errors import AdaAnchorError, DataError
from root_helpers import one_step_demo_run

DOC = Path(__file__).resolve().parents[1] / "docs" / "bad-input.md"
COCO = load_spec("coco")
K = COCO.num_keypoints

PROGRESS = re.compile(r"^\w[\w ]*:\s+\d+%\|")  # a tqdm progress bar line
#: case id -> the message (or skip summary line) it produced in this run; printed at the end of the module.
SEEN: dict[str, str] = {}

#: Every case of this module; docs/bad-input.md has one row per id.
CASES = (
    # images
    "image-truncated-jpeg", "image-truncated-png", "image-random-bytes", "image-zero-bytes", "image-missing",
    "image-folder", "image-missing-dataset-item", "image-1x1", "image-10000x10000", "image-over-pixel-limit", "image-grayscale-L",
    "image-rgba", "image-palette-P", "image-16bit-I;16",
    # annotations, COCO reader and dataset building
    "coco-json-syntax-error", "coco-inf-coordinate", "coco-negative-box", "coco-visibility-3",
    "coco-huge-integer", "coco-string-image-id", "coco-string-annotation-id", "coco-bad-iscrowd",
    "coco-all-unlabelled", "coco-skip-accounting", "coco-empty-dataset",
    # score
    "score-results-syntax-error", "score-results-wrong-keypoint-count", "score-results-unknown-image-id",
    "score-results-image-id-not-a-number",
    # config
    "config-unknown-key-in-yaml", "config-wrong-type-in-yaml", "config-not-a-mapping", "config-yaml-syntax-error",
    # checkpoints
    "ckpt-other-architecture", "ckpt-junk-eval", "ckpt-junk-weights",
    "run-no-checkpoint-eval", "run-config-emptied", "run-spec-broken-yaml", "export-output-not-onnx",
    # output folders under a regular file
    "outdir-train", "outdir-synth", "outdir-demo", "outdir-score-json", "outdir-eval-json",
    # a shared benchmark folder
    "synth-other-options", "synth-option-as-folder",
    # other readers
    "csv-non-number", "csv-not-utf8", "csv-newline-in-file-name", "pts-missing-open-brace",
    "mpii-joints-shape", "wflw-too-few-fields", "detections-bbox-not-four-numbers",
    "detections-image-id-not-a-number", "mpii-string-joint", "mpii-boolean-centre", "detections-string-bbox",
    # ground truth that would fool the official evaluator, readers and data stats
    "coco-duplicate-annotation-id", "coco-duplicate-image-id", "coco-duplicate-image-file",
    "coco-size-disagrees-with-image", "coco-string-keypoints", "coco-boolean-keypoints", "coco-string-bbox",
    "coco-box-outside-image", "coco-image-outside-root", "stats-images-per-split", "stats-bad-ground-truth",
    # ground truth and results for score
    "score-gt-duplicate-annotation-id", "score-gt-duplicate-image-id", "score-gt-string-keypoints",
    "score-gt-box-outside-image", "score-results-nan-keypoints", "score-results-inf-score",
    "score-results-boolean-keypoint",
    # non-finite predictions of a model
    "eval-nan-weights", "eval-predictions-under-a-file",
    # images read as a user expects
    "image-exif-rotated", "image-float-F", "image-16bit-12-bit-range", "config-unknown-exif",
)

#: Known problems outside the data/metrics code, kept as expected failures until fixed (see the doc).
KNOWN_GAPS = ("config-list-for-section", "config-seed-null", "config-input-size-one-number", "config-unknown-crop",
              "ckpt-random-bytes-message", "ckpt-list-eval", "ckpt-list-weights")


# ------------------------------------------------------------------------------------------------ helpers
def _seen(case: str, text: str) -> str:
    assert case in CASES or case in KNOWN_GAPS, case
    SEEN[case] = text
    return text


#: The verdicts a case may end in. There is no "silently wrong" verdict: a case whose outcome is not one of
#: these fails its own test before it is recorded.
VERDICTS = ("clear error", "counted skip or miss", "works as a user expects")


def verdict(text: str) -> str:
    """The verdict of a recorded outcome, from how the test worded it."""
    if text.startswith(("works", "loads")):
        return "works as a user expects"
    if text.startswith(("listed", "counted")) or re.search(r"\bskipped\b", text):
        return "counted skip or miss"
    return "clear error"


def _data_error(case: str, exc: pytest.ExceptionInfo, path: Path | str, *parts: str) -> str:
    """The error's message is one line and names the file and every ``part`` (record, field, reason)."""
    msg = str(exc.value)
    assert "\n" not in msg, msg
    assert str(path) in msg, msg
    for part in parts:
        assert part in msg, (part, msg)
    return _seen(case, msg)


def _cli_error(case: str, capsys: pytest.CaptureFixture, argv: list, *parts: str) -> str:
    """``adaanchor ARGV`` exits with 2 and one stderr line ``error: ...`` holding every ``part``."""
    capsys.readouterr()
    rc = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    # tqdm's progress bars (eval) share stderr; what is left must be the one error line
    lines = [ln for ln in re.split(r"[\r\n]", err) if ln.strip() and not PROGRESS.match(ln)]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    for part in parts:
        assert str(part) in lines[0], (part, lines[0])
    return _seen(case, lines[0])


def _ann(ann_id: int, image_id: int = 1, **kw) -> dict:
    kp = []
    for j in range(K):
        kp += [10.0 + j, 8.0 + j, 2]
    return {"id": ann_id, "image_id": image_id, "keypoints": kp, "bbox": [2.0, 2.0, 40.0, 30.0], "area": 900.0,
            "iscrowd": 0, "category_id": 1, **kw}


def _coco_json(folder: Path, anns: list, name: str = "train.json", images: list | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "a.png").exists():
        Image.new("RGB", (64, 48), (90, 120, 30)).save(folder / "a.png")
    data = {"images": images if images is not None else [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}],
            "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
    p = folder / name
    p.write_text(json.dumps(data))  # NaN / Infinity written as Python's json does
    return p


def _coco_overrides(root: Path, *extra: str) -> list[str]:
    return [f"data.root={root}", "data.format=coco", "data.train=train.json", "data.val=train.json",
            "data.spec=coco", "data.crop=box", "data.input_size=[32,32]", *extra]


@pytest.fixture
def blocker(tmp_path) -> Path:
    """A regular file: any path under it cannot be created, even by root."""
    f = tmp_path / "afile"
    f.write_text("not a folder")
    return f


@pytest.fixture(scope="module")
def run8(tmp_path_factory) -> Path:
    """A one-step run of the tiny model (width 8) on a small benchmark: a real checkpoint to evaluate."""
    return one_step_demo_run(tmp_path_factory.mktemp("run8"), n_val=4)


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    """After the module: the table of cases and what each produced (only without xdist, on a terminal)."""
    yield
    plugins = request.config.pluginmanager
    tr, capman = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if tr is None or capman is None or not SEEN:
        return
    with capman.global_and_fixture_disabled():
        tr.write_line("")
        tr.write_line(f"bad-input cases: {len(SEEN)} tried here (docs/bad-input.md lists those tested elsewhere)")
        counts = {v: sum(verdict(t) == v for t in SEEN.values()) for v in VERDICTS}
        tr.write_line("verdicts: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + ", 0 silently wrong")
        for case in (*CASES, *KNOWN_GAPS):
            if case in SEEN:
                tr.write_line(f"  {case:36s} {SEEN[case][:160]}")


def test_the_doc_lists_every_case():
    """The doc's case rows for this module (before "Cases tested elsewhere") are exactly CASES and KNOWN_GAPS;
    a row for a case that is a test of its own names that test, which must exist here."""
    text = DOC.read_text().split("## Cases tested elsewhere")[0]
    rows = re.findall(r"^\| `([^`]+)`( \(`(test_\w+)`\))?", text, flags=re.MULTILINE)
    documented = {case for case, _, test in rows if not test}
    named_tests = [test for _, _, test in rows if test]
    missing = sorted((set(CASES) | set(KNOWN_GAPS)) - documented)
    extra = sorted(documented - set(CASES) - set(KNOWN_GAPS))
    assert not missing, f"docs/bad-input.md does not list {missing}"
    assert not extra, f"docs/bad-input.md lists cases this module does not try: {extra}"
    assert all(callable(globals().get(t)) for t in named_tests), named_tests


def test_the_doc_counts_the_cases_elsewhere_as_its_table_does():
    """The total under "Cases tested elsewhere" is the sum of that table's count column, and the grand total adds
    this module's cases: the totals were kept by hand and drifted (310 stated against 363 in the table)."""
    text = DOC.read_text().split("## Cases tested elsewhere")[1].split("## Fuzzing the readers")[0]
    counts = [int(c) for c in re.findall(r"^\|.*\| (\d+) \|$", text, flags=re.MULTILINE)]
    stated = re.search(r"That is (\d+) cases elsewhere .*?\*\*(\d+) bad inputs in all\*\*\s+counting the (\d+) "
                       r"here", text, flags=re.S)
    assert stated, "the totals' sentence is missing"
    elsewhere, total, here = (int(g) for g in stated.groups())
    assert elsewhere == sum(counts) and total == elsewhere + here, (sum(counts), stated.groups())


# ------------------------------------------------------------------------------------------------ images
def _noise_image(path: Path, fmt: str) -> bytes:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path, format=fmt)
    return path.read_bytes()


@pytest.mark.parametrize("case,name,make,reason", [
    ("image-truncated-jpeg", "t.jpg", lambda p: p.write_bytes(_noise_image(p, "JPEG")[:1500]), "truncated"),
    ("image-truncated-png", "t.png", lambda p: p.write_bytes(_noise_image(p, "PNG")[:4000]), "truncated"),
    ("image-random-bytes", "r.png", lambda p: p.write_bytes(np.random.default_rng(1).bytes(3000)),
     "cannot identify image file"),
    ("image-zero-bytes", "z.jpg", lambda p: p.write_bytes(b""), "image file is empty (0 bytes)"),
    ("image-missing", "gone.jpg", lambda p: None, "image file not found"),
    ("image-folder", "shots", lambda p: p.mkdir(), "a folder, not an image file (give its image files"),
])
def test_unreadable_image_is_a_clear_error(tmp_path, case, name, make, reason):
    p = tmp_path / name
    make(p)
    with pytest.raises(DataError) as e:
        load_image(p)
    _data_error(case, e, p, reason)


def test_missing_image_of_a_dataset_item_names_the_item(tmp_path):
    _coco_json(tmp_path, [_ann(1)], images=[{"id": 1, "file_name": "gone.png"}])
    ds = build_dataset(build_config(None, _coco_overrides(tmp_path)).data, "train", verbose=False)
    with pytest.raises(DataError) as e:
        ds[0]
    _data_error("image-missing-dataset-item", e, tmp_path / "gone.png", "[record item 0 (image_id 1, ann_id 1)]",
                "field 'image'", "image file not found")


def test_image_over_the_pixel_limit_is_refused(tmp_path):
    p = tmp_path / "huge.png"
    Image.new("1", (15000, 15000)).save(p)  # 225 Mpx, a few kB: refused from the header, before decoding
    with pytest.raises(DataError) as e:
        load_image(p)
    _data_error("image-over-pixel-limit", e, p, "image too large", "225000000 pixels")


@pytest.mark.parametrize("crop", ["box", "image"])
def test_a_1x1_image_works(tmp_path, crop):
    p = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), (250, 10, 10)).save(p)
    inst = Instance(str(p), 1, 1, np.zeros((K, 2)), np.full(K, 2), np.array([0.0, 0.0, 1.0, 1.0]), 1.0)
    item = TopDownDataset([inst], COCO, (32, 32), crop=crop)[0]
    assert item["image"].shape == (3, 32, 32)
    np.testing.assert_allclose(item["keypoints"][0, 0].numpy(), [15.5, 15.5])  # the pixel centre -> crop centre
    r, g, b = from_tensor_image(item["image"])[15:17, 15:17].reshape(4, 3).mean(0)
    assert r > 200 and g < 20 and b < 20  # the one red pixel, sampled bilinearly onto the crop
    _seen("image-1x1", f"works: (3, 32, 32) crop (crop={crop}), keypoint at the crop centre")


def test_a_10000x10000_image_works(tmp_path):
    p = tmp_path / "big.png"
    im = Image.new("L", (10000, 10000), 40)
    ImageDraw.Draw(im).rectangle([7000, 3000, 7199, 3099], fill=230)  # a bright 200x100 patch to crop
    im.save(p)
    assert p.stat().st_size < 1_000_000  # uniform rows compress well
    img = load_image(p)
    assert img.shape == (10000, 10000, 3) and img.dtype == np.uint8 and img[3050, 7100].tolist() == [230] * 3
    kp = np.zeros((K, 2))
    kp[0] = (7099.5, 3049.5)
    inst = Instance(str(p), 1, 1, kp, np.full(K, 2), np.array([7000.0, 3000.0, 200.0, 100.0]), 20000.0)
    item = TopDownDataset([inst], COCO, (32, 32), crop="box")[0]
    crop = from_tensor_image(item["image"])
    np.testing.assert_allclose(item["keypoints"][0, 0].numpy(), [15.5, 15.5], atol=1e-4)
    assert crop[16, 16].tolist() == [230] * 3 and crop[0, 0].tolist() == [40] * 3
    _seen("image-10000x10000", "works: loads as (10000, 10000, 3) uint8; the box crop is (3, 32, 32)")


@pytest.mark.parametrize("case,make,expect", [
    ("image-grayscale-L", lambda: Image.new("L", (2, 2), 200), [[200] * 3] * 2),
    ("image-rgba", lambda: Image.new("RGBA", (2, 2), (10, 20, 30, 0)), [[10, 20, 30]] * 2),
    ("image-palette-P", lambda: _palette(), [[255, 0, 0], [0, 0, 255]]),
    ("image-16bit-I;16", lambda: _sixteen_bit(), [[0] * 3, [255] * 3]),
])
def test_image_modes_load_as_rgb_uint8(tmp_path, case, make, expect):
    p = tmp_path / "m.png"
    im = make()
    im.save(p)
    assert Image.open(p).mode == im.mode
    arr = load_image(p)
    assert arr.dtype == np.uint8 and arr.shape == (2, 2, 3)
    assert arr[0].tolist() == expect
    if case == "image-16bit-I;16":
        assert arr[1, 0].tolist() == [128] * 3  # 32768 / 65535 * 255 = 127.5, rounded
    _seen(case, f"loads as (2, 2, 3) uint8, first row {arr[0].tolist()}")


def _palette() -> Image.Image:
    im = Image.new("P", (2, 2))
    im.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    im.putpixel((1, 0), 1)
    im.putpixel((1, 1), 1)
    return im


def _sixteen_bit() -> Image.Image:
    im = Image.new("I;16", (2, 2))
    im.putpixel((1, 0), 65535)
    im.putpixel((0, 1), 32768)
    return im


# ------------------------------------------------------------------------------------------------ COCO annotations
def test_json_syntax_error_in_annotations(tmp_path, capsys):
    p = tmp_path / "train.json"
    p.write_text('{"images": [], "annotations": [}')
    with pytest.raises(DataError) as e:
        FORMATS["coco"](p, COCO)
    _data_error("coco-json-syntax-error", e, p, "invalid JSON", "line 1 column 32")
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  root: {tmp_path}\n  format: coco\n  train: train.json\n  val: train.json\n")
    _cli_error("coco-json-syntax-error", capsys, ["data", "stats", cfg], p, "invalid JSON")


def _inf_kp() -> dict:
    a = _ann(2)
    a["keypoints"][3] = float("inf")
    return a


def _vis3() -> dict:
    a = _ann(2)
    a["keypoints"][5] = 3
    return a


def _huge() -> dict:
    a = _ann(2)
    a["keypoints"][0] = 10**400
    return a


BAD_RECORDS = [
    ("coco-inf-coordinate", _inf_kp, "annotations[1] id=2", "keypoints", "non-finite keypoint coordinate"),
    ("coco-negative-box", lambda: _ann(2, bbox=[5, 5, -10, 20]), "annotations[1] id=2", "bbox",
     "box must have positive finite width and height, got [5.0, 5.0, -10.0, 20.0]"),
    ("coco-visibility-3", _vis3, "annotations[1] id=2", "keypoints", "visibility flags must be 0, 1 or 2, got [3.0]"),
    ("coco-huge-integer", _huge, "annotations[1] id=2", "keypoints", "keypoints must be numbers"),
    ("coco-string-annotation-id", lambda: _ann("x\ny"), "annotations[1] id=x\\ny", "id",
     "annotation id must be an integer, got 'x\\ny'"),
    ("coco-bad-iscrowd", lambda: _ann(2, iscrowd="no"), "annotations[1] id=2", "iscrowd", "expected 0 or 1, got 'no'"),
]


@pytest.mark.parametrize("case,make,record,field,reason", BAD_RECORDS, ids=[c[0] for c in BAD_RECORDS])
def test_bad_coco_record(tmp_path, case, make, record, field, reason):
    p = _coco_json(tmp_path, [_ann(1), make()])
    with pytest.raises(DataError) as e:
        FORMATS["coco"](p, COCO)
    _data_error(case, e, p, f"[record {record}]", f"field '{field}'", reason)
    res = FORMATS["coco"](p, COCO, skip_invalid=True)
    assert len(res.instances) == 1 and len(res.skipped) == 1 and f"1 x {reason}" in res.summary()


def test_string_image_id(tmp_path):
    p = _coco_json(tmp_path, [_ann(1)], images=[{"id": "a", "file_name": "a.png"}])
    with pytest.raises(DataError) as e:
        FORMATS["coco"](p, COCO)
    _data_error("coco-string-image-id", e, p, "[record images[0]]", "field 'id'", "image id must be an integer, got 'a'")


def test_all_keypoints_unlabelled_is_a_counted_skip(tmp_path, capsys):
    unlabelled = _ann(2)
    unlabelled["keypoints"] = [0, 0, 0] * K
    del unlabelled["bbox"]  # no box either: still a skip, not an error
    _coco_json(tmp_path, [_ann(1), unlabelled])
    res = read_split(build_config(None, _coco_overrides(tmp_path)).data, "train")
    out = capsys.readouterr().out
    assert len(res.instances) == 1 and len(res.skipped) == 1
    assert "train.json: skipped 1 record(s):" in out and "1 x no labelled keypoint" in out
    _seen("coco-all-unlabelled", out.strip().splitlines()[-1].strip())


def test_skip_invalid_counts_every_record(tmp_path, capsys):
    """Every kind of bad record in one file, read with data.skip_invalid=true: each one is in the printed summary."""
    anns = [_ann(1), _ann(2, keypoints=[1.0, 2.0, 2] * (K - 1)), _ann(3, keypoints=[float("nan"), 1.0, 2] * K),
            _inf_kp() | {"id": 4}, _ann(5, bbox=[0, 0, 0, 20]), _ann(6, bbox=[0, 0, -5, 20]), _vis3() | {"id": 7},
            _ann(8, image_id=99), _ann(9, keypoints=[0, 0, 0] * K), _ann(10, iscrowd=1), _huge() | {"id": 11},
            "not an object", _ann(12)]
    _coco_json(tmp_path, anns)
    res = read_split(build_config(None, _coco_overrides(tmp_path, "data.skip_invalid=true")).data, "train")
    out = capsys.readouterr().out
    assert [i.ann_id for i in res.instances] == [1, 12]
    assert len(res.instances) + len(res.skipped) == len(anns)
    assert f"skipped {len(anns) - 2} record(s):" in out
    for reason in ("expected 51 numbers (17 keypoints of spec 'coco'), got 48", "non-finite keypoint coordinate",
                   "box must have positive finite width", "visibility flags must be 0, 1 or 2",
                   "unknown image id 99", "no labelled keypoint", "iscrowd annotation (not a training target)",
                   "keypoints must be numbers", "an annotation must be an object"):
        assert reason in out, reason
    assert sum(int(line.split(" x ")[0]) for line in out.splitlines() if " x " in line) == len(anns) - 2
    _seen("coco-skip-accounting", f"{len(res.instances)} instances + {len(res.skipped)} skipped == {len(anns)} records")


def test_empty_dataset_is_a_clear_error(tmp_path):
    p = _coco_json(tmp_path, [])
    with pytest.raises(AdaAnchorError) as e:
        build_dataset(build_config(None, _coco_overrides(tmp_path)).data, "train")
    _data_error("coco-empty-dataset", e, p, "no usable instance in the train split")


# ------------------------------------------------------------------------------------------------ score
@pytest.fixture
def score_files(tmp_path) -> tuple[Path, Path]:
    gt = _coco_json(tmp_path, [_ann(1)], name="gt.json")
    res = tmp_path / "results.json"
    res.write_text(json.dumps([{"image_id": 1, "category_id": 1, "keypoints": _ann(1)["keypoints"], "score": 1.0}]))
    return gt, res


def test_score_results_syntax_error(score_files, capsys):
    gt, res = score_files
    res.write_text('[{"image_id": 1,, }]')
    _cli_error("score-results-syntax-error", capsys, ["score", gt, res, "--metric", "coco"], res, "invalid JSON")


@pytest.mark.parametrize("case,change,parts", [
    ("score-results-wrong-keypoint-count", {"keypoints": [1.0, 2.0, 1.0] * 16},
     ["[record 0]", "field 'keypoints'", "has 16 keypoints, ground truth has 17"]),
    ("score-results-unknown-image-id", {"image_id": 99}, ["[record 0]", "field 'image_id'", "image_id 99 is not in"]),
    ("score-results-image-id-not-a-number", {"image_id": [1]},
     ["[record 0]", "field 'image_id'", "expected an integer id, got [1]"]),
])
def test_score_bad_results(score_files, capsys, case, change, parts):
    gt, res = score_files
    rec = json.loads(res.read_text())[0]
    res.write_text(json.dumps([{**rec, **change}]))
    _cli_error(case, capsys, ["score", gt, res, "--metric", "coco"], res, *parts)


# ------------------------------------------------------------------------------------------------ config
@pytest.mark.parametrize("case,text,parts", [
    ("config-unknown-key-in-yaml", "data:\n  formatt: coco\n", ["unknown config key 'data.formatt'",
                                                                 "Did you mean 'data.format'"]),
    ("config-wrong-type-in-yaml", "train:\n  epochs: ten\n", ["config key 'train.epochs' must be int, got 'ten'"]),
    ("config-not-a-mapping", "- train\n- eval\n", ["a config must be a mapping of keys, got list"]),
    ("config-yaml-syntax-error", "train:\n  lr: [0.1\n", ["not valid YAML"]),
])
def test_bad_config_file(tmp_path, capsys, case, text, parts):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    with pytest.raises(AdaAnchorError) as e:
        build_config(p)
    assert "\n" not in str(e.value)
    _cli_error(case, capsys, ["train", p], *parts)


# ------------------------------------------------------------------------------------------------ checkpoints
def test_checkpoint_of_another_architecture(run8, capsys):
    _cli_error("ckpt-other-architecture", capsys, ["eval", run8, "model.tiny_width=16"],
               run8 / "checkpoints" / "last.pt", "trained as another model than this config (model.tiny_width 8 there, 16 here)")


def test_junk_checkpoint(run8, tmp_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    line = _cli_error("ckpt-junk-eval", capsys, ["eval", run8, f"ckpt={junk}"], junk)
    # random bytes are refused by the weights-only unpickler: one of the two clear messages of safe_load
    assert "not a readable checkpoint" in line or "refused to load" in line, line
    _cli_error("ckpt-junk-weights", capsys, ["train", run8 / "config.yaml", f"out_dir={tmp_path / 'w'}",
                                             f"model.weights={junk}"], junk)


def _run_copy(run8: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run8, tmp_path / "run"))


def test_run_whose_checkpoints_are_gone(run8, tmp_path, capsys):
    """eval scored random weights (a warning, then a full table, exit 0); predict and export refused."""
    run = _run_copy(run8, tmp_path)
    (run / "checkpoints" / "last.pt").unlink()
    _cli_error("run-no-checkpoint-eval", capsys, ["eval", run], f"{run}: no checkpoint found", "pass ckpt=PATH")


def test_run_config_emptied(run8, tmp_path, capsys):
    """An emptied config.yaml read as the defaults: eval generated the default benchmark and scored on it."""
    run = _run_copy(run8, tmp_path)
    (run / "config.yaml").write_text("")
    Image.new("RGB", (40, 30)).save(tmp_path / "x.png")
    for cmd in (["eval", run], ["predict", run, tmp_path / "x.png", "--out", tmp_path / "p"], ["export", run]):
        _cli_error("run-config-emptied", capsys, cmd, run / "config.yaml", "not the config of a run",
                   "no data, model, strategy, train section")
    assert not (tmp_path / "data-cache").exists()


def test_run_spec_broken_yaml(run8, tmp_path, capsys):
    run = _run_copy(run8, tmp_path)
    (run / "spec.yaml").write_text("keypoints: [a, b\n")
    _cli_error("run-spec-broken-yaml", capsys, ["eval", run], f"{run / 'spec.yaml'}: invalid YAML at line 2")


def test_export_output_not_onnx(run8, tmp_path, capsys):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"\xff\xd8 a photo")
    _cli_error("export-output-not-onnx", capsys, ["export", run8, photo], photo, "must end in .onnx")
    assert photo.read_bytes() == b"\xff\xd8 a photo"


# ------------------------------------------------------------------------------------------------ output folders
def test_train_out_dir_under_a_file(run8, blocker, capsys):
    out = blocker / "run"
    _cli_error("outdir-train", capsys, ["train", run8 / "config.yaml", f"out_dir={out}"], out,
               "cannot write the run directory")


def test_synth_out_dir_under_a_file(blocker, capsys):
    out = blocker / "bench"
    _cli_error("outdir-synth", capsys, ["synth", out, "n_train=2", "n_val=1"], out,
               "cannot write the synthetic benchmark there")


def test_synth_other_options_in_a_finished_folder(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["synth", str(out), "n_train=2", "n_val=1"]) == 0
    _cli_error("synth-other-options", capsys, ["synth", out, "n_train=3", "n_val=1"], out,
               "holds the synthetic benchmark written with other options (n_train: 2 there, 3 asked)", "data.root")
    assert len(list((out / "images" / "train").iterdir())) == 2  # untouched


def test_synth_option_where_the_folder_goes(tmp_path, capsys, monkeypatch):
    """``adaanchor synth seed=7 ...``: the folder was left out; the option is not taken for a folder name (which
    wrote the default seed's benchmark into ./seed=7). An existing folder of that name is still a folder."""
    monkeypatch.chdir(tmp_path)
    _cli_error("synth-option-as-folder", capsys, ["synth", "seed=7", "n_train=2", "n_val=1"],
               "'seed=7' is an option, not an output folder", "adaanchor synth OUT_DIR")
    assert not (tmp_path / "seed=7").exists()
    (tmp_path / "seed=7").mkdir()
    assert main(["synth", "seed=7", "n_train=2", "n_val=1"]) == 0 and (tmp_path / "seed=7" / "train.json").is_file()


def test_demo_out_under_a_file(blocker, capsys):
    out = blocker / "demo"
    _cli_error("outdir-demo", capsys, ["demo", "--out", out], out, "cannot create the output folder")


def test_score_json_under_a_file(score_files, blocker, capsys):
    gt, res = score_files
    out = blocker / "s.json"
    _cli_error("outdir-score-json", capsys, ["score", gt, res, "--metric", "coco", "--json", out], out, "cannot write")


def test_eval_json_under_a_file(run8, blocker, capsys):
    out = blocker / "m.json"
    _cli_error("outdir-eval-json", capsys, ["eval", run8, "--json", out], out, "cannot write")


# ------------------------------------------------------------------------------------------------ other readers
TRI = load_spec({"name": "tri", "keypoints": ["a", "b", "c"]})


def _pts_folder(tmp_path: Path) -> Path:
    d = tmp_path / "pts"
    d.mkdir()
    for stem, text in (("a", "n_points: 3\n{\n1 2\n3 4\n5 6\n}\n"), ("b", "n_points: 3\n1 2\n3 4\n5 6\n}\n")):
        (d / f"{stem}.pts").write_text(text)
        Image.new("RGB", (8, 8)).save(d / f"{stem}.png")
    return d


def _write(name: str, content: str | bytes):
    def make(tmp_path: Path) -> Path:
        p = tmp_path / name
        p.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        return p
    return make


MPII_REC = {"image": "000000001.jpg", "center": [50.0, 60.0], "scale": 1.0, "joints_vis": [1] * 16}
READER_CASES = [
    ("csv-non-number", "csv", TRI, _write("lm.csv", "image,x0,y0,x1,y1,x2,y2\na.jpg,1,2,3,4,5,6\nb.jpg,1,2,abc,4,5,6\n"),
     ["[record line 3 (b.jpg)]", "field 'x1'", "not a finite number: 'abc' (keypoint 1)"], 1),
    ("csv-not-utf8", "csv", TRI, _write("lm.csv", b"image,x0\n\xff\xfe.jpg,1\n"), ["not UTF-8 text"], None),
    ("csv-newline-in-file-name", "csv", TRI,
     _write("lm.csv", 'image,x0,y0,x1,y1,x2,y2\na.jpg,1,2,3,4,5,6\n"b\nc.jpg",1,2,3,4\n'),
     ["[record line 3 (b\\nc.jpg)]", "field 'columns'", "expected 6 (x, y) or 9 (x, y, v) numbers"], 1),
    ("pts-missing-open-brace", "pts", TRI, _pts_folder, ["[record b.pts]", "field '{'", "missing '{'"], 1),
    ("mpii-joints-shape", "mpii", load_spec("mpii"),
     _write("mpii.json", json.dumps([{**MPII_REC, "joints": [[10.0 + j, 20.0] for j in range(16)]},
                                     {**MPII_REC, "joints": [[10.0, 20.0, 1.0]] * 16}])),
     ["[record 1 (000000001.jpg)]", "field 'joints'", "joints must be [x, y] number pairs"], 1),
    ("mpii-string-joint", "mpii", load_spec("mpii"),
     _write("mpii.json", json.dumps([{**MPII_REC, "joints": [[10.0 + j, 20.0] for j in range(16)]},
                                     {**MPII_REC, "joints": [["10", 20.0]] + [[10.0, 20.0]] * 15}])),
     ["[record 1 (000000001.jpg)]", "field 'joints'", "joints must be [x, y] number pairs"], 1),
    ("mpii-boolean-centre", "mpii", load_spec("mpii"),
     _write("mpii.json", json.dumps([{**MPII_REC, "joints": [[10.0 + j, 20.0] for j in range(16)]},
                                     {**MPII_REC, "center": [True, 60.0], "joints": [[10.0, 20.0]] * 16}])),
     ["[record 1 (000000001.jpg)]", "field 'center'", "expected [x, y]"], 1),
    ("wflw-too-few-fields", "wflw_txt", TRI,
     _write("w.txt", "1 2 3 4 5 6 0 0 9 9 0 0 0 0 0 0 a.jpg\n1 2 3 a.jpg\n"),
     ["[record line 2 (a.jpg)]", "field 'coordinates'", "expected 17 fields", "got 4 fields"], 1),
    ("detections-bbox-not-four-numbers", "detections", COCO,
     _write("dets.json", json.dumps([{"image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
                                     {"image_id": 7, "category_id": 1, "bbox": [1, 2, 30], "score": 0.9}])),
     ["[record 1]", "field 'bbox'", "expected [x, y, w, h]"], 1),
    ("detections-image-id-not-a-number", "detections", COCO,
     _write("dets.json", json.dumps([{"image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
                                     {"image_id": [7], "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9}])),
     ["[record 1]", "field 'image_id'", "unknown image id [7]"], 1),
    ("detections-string-bbox", "detections", COCO,
     _write("dets.json", json.dumps([{"image_id": 7, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
                                     {"image_id": 7, "category_id": 1, "bbox": ["1", 2, 30, 40], "score": 0.9}])),
     ["[record 1]", "field 'bbox'", "expected [x, y, w, h]"], 1),
]


@pytest.mark.parametrize("case,fmt,spec,make,parts,n_good", READER_CASES, ids=[c[0] for c in READER_CASES])
def test_bad_reader_input(tmp_path, case, fmt, spec, make, parts, n_good):
    path = make(tmp_path)
    (tmp_path / "000000000007.jpg").write_bytes(b"")  # the image of the detections (looked up by name only)
    with pytest.raises(DataError) as e:
        FORMATS[fmt](path, spec)
    _data_error(case, e, path, *parts)
    if n_good is not None:  # a record-level problem: skipped and counted with skip_invalid
        res = FORMATS[fmt](path, spec, skip_invalid=True)
        assert len(res.instances) == n_good and len(res.skipped) == 1
        assert res.summary().startswith(f"{path}: skipped 1 record(s):")


# ------------------------------------------------------------------------------------------------ known gaps
def test_gap_list_for_a_section(capsys):
    _cli_error("config-list-for-section", capsys, ["train", DEMO_CONFIG, "data=[1,2]"], "data")


def test_gap_seed_null(run8, tmp_path, capsys):
    _cli_error("config-seed-null", capsys, ["train", run8 / "config.yaml", f"out_dir={tmp_path / 'r'}", "seed=null"],
               "seed")


def test_gap_input_size_one_number(run8, tmp_path, capsys):
    _cli_error("config-input-size-one-number", capsys,
               ["train", run8 / "config.yaml", f"out_dir={tmp_path / 'r'}", "data.input_size=[72]"], "input_size")


def test_gap_unknown_crop(run8, tmp_path, capsys):
    _cli_error("config-unknown-crop", capsys,
               ["train", run8 / "config.yaml", f"out_dir={tmp_path / 'r'}", "data.crop=blob"], "crop")


def test_gap_random_bytes_checkpoint_message(tmp_path):
    from adaanchor.engine.checkpoint import safe_load

    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(AdaAnchorError) as e:
        safe_load(junk)
    _seen("ckpt-random-bytes-message", str(e.value))
    assert "not a readable checkpoint" in str(e.value)


def test_gap_checkpoint_holding_a_list_eval(run8, tmp_path, capsys):
    import torch

    p = tmp_path / "list.pt"
    torch.save([1, 2, 3], p)
    _cli_error("ckpt-list-eval", capsys, ["eval", run8, f"ckpt={p}"], p)


def test_gap_checkpoint_holding_a_list_weights(run8, tmp_path, capsys):
    import torch

    p = tmp_path / "list.pt"
    torch.save([1, 2, 3], p)
    _cli_error("ckpt-list-weights", capsys,
               ["train", run8 / "config.yaml", f"out_dir={tmp_path / 'w'}", f"model.weights={p}"], p)


@pytest.mark.slow
def test_missing_image_in_a_dataloader_worker_is_one_line(tmp_path, capsys):
    """A DataError raised inside a DataLoader worker comes back through torch's re-raise: still one line."""
    _coco_json(tmp_path, [_ann(1)], images=[{"id": 1, "file_name": "gone.png"}])
    (tmp_path / "empty.yaml").write_text("{}\n")
    rc = main(["train", str(tmp_path / "empty.yaml"), *_coco_overrides(tmp_path), "train.workers=1", "train.batch_size=1", "train.max_steps=1",
               "model.tiny_width=8", "train.progress=false", "train.eval_every=0", f"out_dir={tmp_path / 'run'}"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1, err
    assert "gone.png" in err and "image file not found" in err and "Traceback" not in err


# ------------------------------------------------------------------------------------------------ ground truth
def _bool_kp() -> dict:
    a = _ann(2)
    a["keypoints"][2] = True
    return a


def _str_kp() -> dict:
    a = _ann(2)
    a["keypoints"][0] = "10.5"
    return a


GT_RECORDS = [
    ("coco-duplicate-annotation-id", lambda: _ann(1), "annotations[1] id=1", "id",
     "duplicate annotation id 1 (also annotations[0])"),
    ("coco-string-keypoints", _str_kp, "annotations[1] id=2", "keypoints",
     "keypoints must be numbers (element 0 is the string '10.5', not a number)"),
    ("coco-boolean-keypoints", _bool_kp, "annotations[1] id=2", "keypoints",
     "keypoints must be numbers (element 2 is the boolean True, not a number)"),
    ("coco-string-bbox", lambda: _ann(2, bbox=["2", 2, 40, 30]), "annotations[1] id=2", "bbox",
     "expected [x, y, w, h] (element 0 is the string '2', not a number)"),
    ("coco-box-outside-image", lambda: _ann(2, bbox=[500.0, 400.0, 40.0, 30.0]), "annotations[1] id=2", "bbox",
     "box [500.0, 400.0, 40.0, 30.0] lies outside the 64x48 image"),
]


@pytest.mark.parametrize("case,make,record,field,reason", GT_RECORDS, ids=[c[0] for c in GT_RECORDS])
def test_ground_truth_that_fools_the_evaluator(tmp_path, case, make, record, field, reason):
    p = _coco_json(tmp_path, [_ann(1), make()])
    with pytest.raises(DataError) as e:
        FORMATS["coco"](p, COCO)
    _data_error(case, e, p, f"[record {record}]", f"field '{field}'", reason)
    res = FORMATS["coco"](p, COCO, skip_invalid=True)
    assert len(res.instances) == 1 and len(res.skipped) == 1 and f"1 x {reason}" in res.summary()


@pytest.mark.parametrize("case,images,record,field,reason", [
    ("coco-duplicate-image-id", [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}], "images[1]", "id",
     "duplicate image id 1"),
    ("coco-duplicate-image-file", [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "a.png"}], "images[1]",
     "file_name", "image file 'a.png' listed twice (also images[0])"),
    ("coco-size-disagrees-with-image", [{"id": 1, "file_name": "a.png", "width": 80, "height": 48}],
     "images[0] (a.png)", "width", "the annotation says 80x48, the image file is 64x48"),
])
def test_bad_image_entries(tmp_path, case, images, record, field, reason):
    p = _coco_json(tmp_path, [_ann(1)], images=images)
    with pytest.raises(DataError) as e:
        FORMATS["coco"](p, COCO)
    _data_error(case, e, p, f"[record {record}]", f"field '{field}'", reason)
    res = FORMATS["coco"](p, COCO, skip_invalid=True)
    assert reason in res.summary()
    if case == "coco-size-disagrees-with-image":  # its annotations go with it, each counted
        assert not res.instances and "its image images[0] was refused (width)" in res.summary()


def test_image_path_outside_the_data_root(tmp_path, capsys):
    root = tmp_path / "root"
    Image.new("RGB", (64, 48)).save(tmp_path / "outside.png")
    p = _coco_json(root, [_ann(1), _ann(2, image_id=2)], images=[
        {"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "../outside.png"}])
    with pytest.raises(DataError) as e:
        read_split(build_config(None, _coco_overrides(root)).data, "train")
    _data_error("coco-image-outside-root", e, p, "[record image_id 2 ann_id 2]", "field 'file_name'",
                f"image path {tmp_path / 'outside.png'} is outside the data root {root}",
                "data.allow_outside_root=true")
    res = read_split(build_config(None, _coco_overrides(root, "data.skip_invalid=true")).data, "train")
    assert [i.ann_id for i in res.instances] == [1] and len(res.skipped) == 1
    res = read_split(build_config(None, _coco_overrides(root, "data.allow_outside_root=true")).data, "train")
    assert len(res.instances) == 2


def test_data_stats_with_an_image_folder_per_split(tmp_path, capsys):
    """data.images = {train: DIR, val: DIR}: data stats reads each split's images where training does."""
    for split in ("tr", "va"):
        (tmp_path / split).mkdir()
        Image.new("RGB", (64, 48)).save(tmp_path / split / "a.png")
    _coco_json(tmp_path / "ann", [_ann(1)], images=[{"id": 1, "file_name": "a.png", "width": 64, "height": 48}])
    (tmp_path / "ann" / "a.png").unlink()  # only the per-split folders hold the image
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  root: {tmp_path}\n  format: coco\n  train: ann/train.json\n  val: ann/train.json\n"
                   "  images: {train: tr, val: va}\n")
    capsys.readouterr()
    assert main(["data", "stats", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "| train | 1 | 1 | 17 | 0 | 0 | 0 | 0 | 0 |" in out and "no problems found" in out
    _seen("stats-images-per-split", "works: " + out.splitlines()[3])


def test_data_stats_lists_ground_truth_that_fools_the_evaluator(tmp_path, capsys):
    _coco_json(tmp_path, [_ann(1), _ann(1), _str_kp(), _ann(3, bbox=[500.0, 400.0, 40.0, 30.0])])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"data:\n  root: {tmp_path}\n  format: coco\n  train: train.json\n  val: train.json\n")
    capsys.readouterr()
    assert main(["data", "stats", str(cfg)]) == 1  # listed, and training would stop at them
    out = capsys.readouterr().out
    for reason in ("duplicate annotation id 1", "element 0 is the string '10.5'", "lies outside the 64x48 image"):
        assert reason in out, reason
    assert "train: 3 problem(s)" in out
    _seen("stats-bad-ground-truth", "listed: train: 3 problem(s) (duplicate id, string keypoint, box outside)")


# ------------------------------------------------------------------------------------------------ score
def _score_gt(tmp_path: Path, anns: list, images: list | None = None) -> Path:
    return _coco_json(tmp_path, anns, name="gt.json", images=images)


def _perfect(anns: list) -> list:
    return [{"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0} for a in anns]


@pytest.mark.parametrize("case,anns,images,parts", [
    ("score-gt-duplicate-annotation-id", [_ann(1), _ann(1) | {"bbox": [20.0, 10.0, 30.0, 30.0]}], None,
     ["[record annotations[1]]", "field 'id'", "duplicate id 1 (also annotations[0])"]),
    ("score-gt-duplicate-image-id", [_ann(1)], [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}],
     ["[record images[1]]", "field 'id'", "duplicate id 1 (also images[0])"]),
    ("score-gt-string-keypoints", [_str_kp()], None,
     ["[record annotations[0] id=2]", "field 'keypoints'", "element 0 is the string '10.5'"]),
    ("score-gt-box-outside-image", [_ann(1, bbox=[500.0, 400.0, 40.0, 30.0])], None,
     ["[record annotations[0] id=1]", "field 'bbox'", "lies outside the 64x48 image"]),
])
def test_score_refuses_ground_truth_that_fools_the_evaluator(tmp_path, capsys, case, anns, images, parts):
    gt = _score_gt(tmp_path, anns, images)
    res = tmp_path / "results.json"
    res.write_text(json.dumps(_perfect([a for a in anns if not isinstance(a["keypoints"][0], str)] or [_ann(1)])))
    _cli_error(case, capsys, ["score", gt, res, "--metric", "coco"], gt, *parts)


def test_duplicate_annotation_ids_fooled_pycocotools(tmp_path):
    """Why the duplicate check exists: the same perfect predictions score 1.0 with unique ids and far less
    when two annotations share an id (pycocotools indexes by id)."""
    from adaanchor.metrics.coco import coco_keypoint_ap

    second = _ann(2, image_id=1)
    second["keypoints"] = [x + 20 if i % 3 == 0 else x for i, x in enumerate(second["keypoints"])]
    gt = {"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 48}], "annotations": [_ann(1), second],
          "categories": [{"id": 1, "name": "person"}]}
    assert coco_keypoint_ap(gt, _perfect(gt["annotations"]))["AP"] == pytest.approx(1.0)
    gt["annotations"][1]["id"] = 1
    with pytest.raises(DataError, match="duplicate id 1"):
        coco_keypoint_ap(gt, _perfect(gt["annotations"]))


@pytest.mark.parametrize("case,change,parts", [
    ("score-results-nan-keypoints", {"keypoints": [float("nan")] * (3 * K)},
     ["[record 0]", "field 'keypoints'", "non-finite x of keypoint 0 (nan)"]),
    ("score-results-inf-score", {"score": float("inf")}, ["[record 0]", "field 'score'", "expected a finite number, got inf"]),
    ("score-results-boolean-keypoint", {"keypoints": [True] + _ann(1)["keypoints"][1:]},
     ["[record 0]", "field 'keypoints'", "expected a flat list of numbers"]),
])
def test_score_refuses_non_finite_results(score_files, capsys, case, change, parts):
    gt, res = score_files
    rec = json.loads(res.read_text())[0]
    res.write_text(json.dumps([{**rec, **change}]))
    _cli_error(case, capsys, ["score", gt, res, "--metric", "coco"], res, *parts)


# ------------------------------------------------------------------------------------------------ model output
def test_nan_weights_are_misses_not_ap_100(run8, tmp_path, capsys):
    import torch

    state = torch.load(run8 / "checkpoints" / "last.pt", map_location="cpu", weights_only=False)
    state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                      for k, v in state["model"].items()}
    bad = tmp_path / "nan.pt"
    torch.save(state, bad)
    out = tmp_path / "m.json"
    capsys.readouterr()
    assert main(["eval", str(run8), f"ckpt={bad}", "--json", str(out)]) == 0
    err = capsys.readouterr().err
    m = json.loads(out.read_text())
    assert m["ap"] == 0.0 and m["nonfinite"]["instances"] == 4 and m["pck"]["0.05"] == 0.0
    line = next(ln for ln in err.splitlines() if ln.startswith("warning:"))
    assert "4 of 4 instances have non-finite predictions" in line
    _seen("eval-nan-weights", f"counted misses: AP {m['ap']}, PCK 0.0; {line}")


def test_eval_predictions_under_a_file(run8, blocker, capsys):
    out = blocker / "p.json"
    _cli_error("eval-predictions-under-a-file", capsys, ["eval", run8, "--predictions", out], out,
               "cannot write the predictions")


# ------------------------------------------------------------------------------------------------ images
def test_exif_rotated_image(tmp_path):
    p = tmp_path / "r.jpg"
    im = Image.new("RGB", (40, 20), (200, 30, 30))
    ex = Image.Exif()
    ex[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(p, exif=ex)
    assert load_image(p).shape == (20, 40, 3)  # stored pixels (the default)
    assert load_image(p, exif="apply").shape == (40, 20, 3)
    inst = Instance(str(p), 1, 1, np.zeros((K, 2)), np.full(K, 2), np.array([0.0, 0.0, 40.0, 20.0]), 800.0)
    ds = TopDownDataset([inst, inst], COCO, (32, 32), crop="box")
    with pytest.warns(UserWarning, match="EXIF orientation 6 is not applied") as rec:
        ds[0], ds[1]
    assert len([w for w in rec if "EXIF" in str(w.message)]) == 1  # once per dataset
    _seen("image-exif-rotated", f"works: stored pixels (20, 40, 3), one warning per dataset: {str(rec[0].message)[:90]}")


def test_float_and_12_bit_images_use_their_range(tmp_path):
    p = tmp_path / "f.tif"
    unit = np.array([[0.0, 0.5], [1.0, 0.25]], dtype=np.float32)
    Image.fromarray(unit, mode="F").save(p)
    assert load_image(p)[..., 0].tolist() == [[0, 128], [255, 64]]
    Image.fromarray(unit * 1000 + 500, mode="F").save(p)  # not in [0, 1]: stretched over its min..max
    assert load_image(p)[..., 0].tolist() == [[0, 128], [255, 64]]
    _seen("image-float-F", "loads scaled: [0, 1] floats x 255, others by their min..max ([[0, 128], [255, 64]])")
    q = tmp_path / "t.png"
    im = Image.new("I;16", (2, 1))
    im.putpixel((1, 0), 4095)  # a 12-bit camera image
    im.save(q)
    assert load_image(q)[0, :, 0].tolist() == [0, 255]
    _seen("image-16bit-12-bit-range", "loads as 0, 255 (12-bit range), not 0, 16")
    r = tmp_path / "i.tif"  # a 32-bit image of 17-bit values: scaled by 32 bits it was black
    Image.fromarray(np.array([[0, 63500, 127000]], dtype=np.int32), mode="I").save(r)
    assert load_image(r)[0, :, 0].tolist() == [0, 124, 247]


def test_unknown_exif_mode(tmp_path):
    _coco_json(tmp_path, [_ann(1)])
    with pytest.raises(AdaAnchorError) as e:
        build_dataset(build_config(None, _coco_overrides(tmp_path, "data.exif=rotate")).data, "train")
    _seen("config-unknown-exif", str(e.value))
    assert "unknown data.exif 'rotate'" in str(e.value) and "apply, ignore" in str(e.value)


def test_verdicts_are_read_from_the_wording():
    assert verdict("works: loads as (2, 2, 3)") == "works as a user expects"
    assert verdict("listed: train: 3 problem(s)") == "counted skip or miss"
    assert verdict("3 instances + 1 skipped == 4 records") == "counted skip or miss"
    assert verdict("error: x.json [record 0] field 'id': duplicate id 1") == "clear error"
