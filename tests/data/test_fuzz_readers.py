"""Property tests of the annotation readers on mutated files.

Each strategy starts from a valid record and replaces, deletes or resizes its fields with values of any
JSON type (strings, lists, objects, None, NaN, infinities, huge integers, negative sizes). Whatever the
file holds, a reader must either return a :class:`ReadResult` or raise :class:`AdaAnchorError`; with
``skip_invalid=True`` every record is accounted for (``instances + skipped == records``) and every kept
instance is sound (finite labelled points, visibility in {0, 1, 2}, a finite box with positive area).
"""

from __future__ import annotations

import csv
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adaanchor.data.readers import ReadResult
from adaanchor.data.readers.formats import FORMATS
from adaanchor.data.spec import load_spec
from adaanchor.errors import AdaAnchorError

TRI = load_spec({"name": "tri", "keypoints": ["a", "b", "c"]})  # 3 keypoints: short records, fast examples
MPII = load_spec("mpii")
CROWD = load_spec("crowdpose")

FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ------------------------------------------------------------------------------------------------ values
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.integers(-(2**70), 2**70),
    st.just(10**400),  # beyond float64: json keeps it as an int
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 0.0, -1, -1e-300, 1e308, -0.0]),
    st.text(max_size=6),
    st.sampled_from(["1", "nan", "a.jpg", ""]),
)
junk = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=3), inner, max_size=3)),
                    max_leaves=6)
DELETE = object()


@st.composite
def mutated(draw: Callable, record: dict[str, Any], fields: dict[str, st.SearchStrategy] | None = None) -> dict:
    """``record`` with some fields replaced (by junk or by a field-specific strategy) or deleted."""
    out = dict(record)
    for key in list(record) + ["extra_key"]:
        how = draw(st.sampled_from(["keep", "keep", "keep", "junk", "special", "delete"]))
        if how == "junk":
            out[key] = draw(junk)
        elif how == "special" and fields and key in fields:
            out[key] = draw(fields[key])
        elif how == "delete":
            out.pop(key, None)
    return out


def number_list(n: int, lo: float = -5.0, hi: float = 60.0) -> st.SearchStrategy:
    """A list of about ``n`` numbers, one of them sometimes junk, the length sometimes off by one."""
    base = st.lists(st.floats(lo, hi, allow_nan=False), min_size=n, max_size=n)

    @st.composite
    def build(draw: Callable) -> list:
        xs: list = draw(base)
        how = draw(st.sampled_from(["ok", "ok", "elem", "short", "long", "nonfinite"]))
        if how == "elem":
            xs[draw(st.integers(0, n - 1))] = draw(junk)
        elif how == "short":
            xs = xs[:-1]
        elif how == "long":
            xs = xs + [1.0]
        elif how == "nonfinite":
            xs[draw(st.integers(0, n - 1))] = draw(st.sampled_from([math.nan, math.inf, -math.inf, 10**400]))
        return xs

    return build()


def coco_keypoints(k: int) -> st.SearchStrategy:
    @st.composite
    def build(draw: Callable) -> list:
        kp = []
        for _ in range(k):
            kp += [draw(st.floats(-5, 60)), draw(st.floats(-5, 60)), draw(st.sampled_from([0, 1, 2, 2, 2]))]
        how = draw(st.sampled_from(["ok", "ok", "elem", "short", "vis", "nonfinite"]))
        if how == "elem":
            kp[draw(st.integers(0, 3 * k - 1))] = draw(junk)
        elif how == "short":
            kp = kp[:-3]
        elif how == "vis":
            kp[3 * draw(st.integers(0, k - 1)) + 2] = draw(st.sampled_from([3, -1, 0.5, True, "2"]))
        elif how == "nonfinite":
            kp[3 * draw(st.integers(0, k - 1))] = draw(st.sampled_from([math.nan, math.inf, 10**400]))
        return kp

    return build()


# ------------------------------------------------------------------------------------------------ checks
def _tmpdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="adaanchor-fuzz-")


def _read(fmt: str, path: Path, spec: Any, skip: bool, **kw: Any) -> ReadResult | None:
    """The reader's result, or None after an AdaAnchorError; any other exception fails the test."""
    try:
        res = FORMATS[fmt](path, spec, skip_invalid=skip, **kw)
    except AdaAnchorError as e:
        assert "\n" not in str(e), str(e)
        return None
    assert isinstance(res, ReadResult)
    return res


def _sound(res: ReadResult, k: int) -> None:
    for inst in res.instances:
        assert inst.keypoints.shape == (k, 2) and inst.visibility.shape == (k,)
        assert set(np.unique(inst.visibility).tolist()) <= {0, 1, 2}
        assert np.all(np.isfinite(inst.keypoints[inst.visibility > 0]))
        assert inst.bbox.shape == (4,) and np.all(np.isfinite(inst.bbox)) and inst.bbox[2] > 0 and inst.bbox[3] > 0
        assert isinstance(inst.image_id, int) and isinstance(inst.ann_id, int)
        assert isinstance(inst.area, float) and inst.area > 0
    for err in res.skipped:
        assert str(err).startswith(res.source) and "\n" not in str(err)


def _check(fmt: str, path: Path, spec: Any, n_records: int | None, count: Callable[[ReadResult], int] | None = None,
           **kw: Any) -> None:
    """Read with and without ``skip_invalid``; with it, every record is an instance or a skip."""
    res = _read(fmt, path, spec, True, **kw)
    strict = _read(fmt, path, spec, False, **kw)
    if res is not None:
        _sound(res, spec.num_keypoints)
        if n_records is not None:
            skipped = count(res) if count else len(res.skipped)
            assert len(res.instances) + skipped == n_records, res.summary()
    if strict is not None:
        _sound(strict, spec.num_keypoints)
        assert res is not None and len(strict.instances) == len(res.instances)


def _dump(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj))  # allow_nan: NaN / Infinity as Python's json writes them


# ------------------------------------------------------------------------------------------------ COCO
def _coco_ann(k: int) -> st.SearchStrategy:
    good = {"id": 1, "image_id": 1, "keypoints": [10.0, 10.0, 2] * k, "bbox": [0.0, 0.0, 50.0, 50.0], "area": 9.0,
            "iscrowd": 0}
    fields = {"id": st.integers(-3, 10**20), "image_id": st.sampled_from([1, 2, 3, "1", 1.0, True]),
              "keypoints": coco_keypoints(k), "bbox": number_list(4, -20, 60), "area": scalars,
              "iscrowd": st.sampled_from([0, 1, True, "0"])}
    return mutated(good, fields)


def _coco_images() -> st.SearchStrategy:
    img = {"id": 1, "file_name": "a.jpg", "width": 64, "height": 48}
    fields = {"id": st.sampled_from([1, 2, "x", None, [1], 1.5, 10**400])}
    return st.lists(mutated(img, fields), min_size=0, max_size=3).map(
        lambda imgs: [{"id": 1, "file_name": "a.jpg"}, *imgs])


def _ann_skips(res: ReadResult) -> int:
    return sum(1 for e in res.skipped if str(e.record).startswith("annotations["))


@FUZZ
@given(images=_coco_images(), anns=st.lists(_coco_ann(3), min_size=0, max_size=4))
def test_coco_reader_on_mutated_records(images, anns):
    with _tmpdir() as d:
        p = Path(d) / "coco.json"
        _dump(p, {"images": images, "annotations": anns, "categories": [{"id": 1}]})
        _check("coco", p, TRI, len(anns), _ann_skips)


def _errors(res: ReadResult | None) -> Any:
    return None if res is None else [(e.record, e.field, e.reason) for e in res.skipped]


@FUZZ
@given(images=_coco_images(), anns=st.lists(_coco_ann(3), min_size=0, max_size=4))
def test_coco_streamed_read_equals_the_whole_file_read(images, anns):
    """The streaming path (ijson) and the whole-file path (json) read any mutated file the same way."""
    from adaanchor.data.readers import coco

    with _tmpdir() as d:
        p = Path(d) / "coco.json"
        _dump(p, {"images": images, "annotations": anns, "categories": [{"id": 1}]})
        for skip in (True, False):
            streamed = _read("coco", p, TRI, skip)
            real, coco.stream = coco.stream, lambda path: None
            try:
                whole = _read("coco", p, TRI, skip)
            finally:
                coco.stream = real
            assert (streamed is None) == (whole is None) and _errors(streamed) == _errors(whole)
            if streamed is not None:
                assert [(i.ann_id, i.image_path, i.extra) for i in streamed.instances] == \
                    [(i.ann_id, i.image_path, i.extra) for i in whole.instances]
                for a, b in zip(streamed.instances, whole.instances):
                    np.testing.assert_array_equal(a.keypoints, b.keypoints)
                    np.testing.assert_array_equal(a.bbox, b.bbox)


@FUZZ
@given(top=junk)
def test_coco_reader_on_any_json_value(top):
    with _tmpdir() as d:
        p = Path(d) / "coco.json"
        _dump(p, top)
        _check("coco", p, TRI, None)


@FUZZ
@given(images=_coco_images().map(lambda imgs: [dict(i, crowdIndex=c) for i, c in zip(imgs, [0.5, None, "x", 1.0])]),
       anns=st.lists(_coco_ann(14), min_size=0, max_size=3))
def test_crowdpose_reader_on_mutated_records(images, anns):
    with _tmpdir() as d:
        p = Path(d) / "crowd.json"
        _dump(p, {"images": images, "annotations": anns, "categories": [{"id": 1}]})
        _check("crowdpose", p, CROWD, len(anns), _ann_skips)


@FUZZ
@given(text=st.one_of(st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
                      st.sampled_from(['{"images": [], "annotations": [', "[" * 3000, "1" * 5000, "NaN", ""])))
def test_coco_reader_on_broken_json_text(text):
    with _tmpdir() as d:
        p = Path(d) / "coco.json"
        p.write_text(text, encoding="utf-8")
        _check("coco", p, TRI, None)


# ------------------------------------------------------------------------------------------------ CSV
cells = st.one_of(st.floats(-5, 60).map(lambda v: f"{v:.2f}"), st.sampled_from(["", "nan", "inf", "-inf", "1e999", "x",
                                                                               " 3 ", "0x10", "1,5", "2"]),
                  st.text(max_size=4))


@st.composite
def csv_row(draw: Callable) -> list[str]:
    k = TRI.num_keypoints
    name = draw(st.one_of(st.sampled_from(["a.jpg", "b.png", "", " ", "c.jpg"]), st.text(max_size=5)))
    n = draw(st.sampled_from([2 * k, 2 * k, 3 * k, 2 * k - 1, 3 * k + 1, 0]))
    row = [draw(st.floats(-5, 60).map(lambda v: f"{v:.2f}")) for _ in range(n)]
    if n == 3 * k and draw(st.booleans()):
        for j in range(k):
            row[3 * j + 2] = draw(st.sampled_from(["0", "1", "2", "3", "0.5", "-1"]))
    if row and draw(st.booleans()):
        row[draw(st.integers(0, n - 1))] = draw(cells)
    return [name, *row]


@FUZZ
@given(rows=st.lists(csv_row(), min_size=1, max_size=5))
def test_csv_reader_on_mutated_rows(rows):
    with _tmpdir() as d:
        p = Path(d) / "lm.csv"
        with p.open("w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["image", "x0", "y0", "x1", "y1", "x2", "y2"])
            w.writerows(rows)
        n = sum(1 for r in rows if any(c.strip() for c in r))
        _check("csv", p, TRI, n, header=True)


@FUZZ
@given(data=st.one_of(st.text(max_size=60), st.binary(max_size=60)))
def test_csv_reader_on_any_text(data):
    with _tmpdir() as d:
        p = Path(d) / "lm.csv"
        p.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        _check("csv", p, TRI, None)


# ------------------------------------------------------------------------------------------------ .pts
@st.composite
def pts_text(draw: Callable) -> str:
    k = TRI.num_keypoints
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=50))
    n = draw(st.sampled_from([str(k), str(k), str(k - 1), "x", "-1", "", "1e3", "9" * 30]))
    pts = [f"{draw(st.floats(-5, 60)):.3f} {draw(st.floats(-5, 60)):.3f}" for _ in range(k)]
    how = draw(st.sampled_from(["ok", "ok", "line", "drop", "add", "no_open", "no_close", "no_header"]))
    if how == "line":
        pts[draw(st.integers(0, k - 1))] = draw(st.one_of(st.text(max_size=8), st.sampled_from(["nan 1", "1", "1 2 3",
                                                                                              "inf inf", "}", "{"])))
    elif how == "drop":
        pts = pts[:-1]
    elif how == "add":
        pts.append("1.0 2.0")
    head = [] if how == "no_header" else ["version: 1", f"n_points: {n}"]
    return "\n".join([*head, *([] if how == "no_open" else ["{"]), *pts, *([] if how == "no_close" else ["}"])])


@FUZZ
@given(texts=st.lists(pts_text(), min_size=1, max_size=3), with_image=st.lists(st.booleans(), min_size=3, max_size=3))
def test_pts_reader_on_mutated_files(texts, with_image):
    with _tmpdir() as d:
        for i, (text, img) in enumerate(zip(texts, with_image)):
            (Path(d) / f"f{i}.pts").write_text(text, encoding="utf-8")
            if img:
                (Path(d) / f"f{i}.jpg").write_bytes(b"")  # the reader only looks for the file
        _check("pts", Path(d), TRI, len(texts))


# ------------------------------------------------------------------------------------------------ MPII JSON
def _mpii_record() -> st.SearchStrategy:
    good = {"image": "000000001.jpg", "center": [50.0, 60.0], "scale": 1.0,
            "joints": [[10.0 + j, 20.0 + j] for j in range(16)], "joints_vis": [1] * 16}

    @st.composite
    def joints(draw: Callable) -> Any:
        j = [[float(draw(st.floats(-5, 60))), float(draw(st.floats(-5, 60)))] for _ in range(16)]
        how = draw(st.sampled_from(["ok", "short", "shape", "elem"]))
        if how == "short":
            return j[:15]
        if how == "shape":
            return [v for p in j for v in p]  # flat, wrong shape
        if how == "elem":
            j[draw(st.integers(0, 15))] = draw(junk)
        return j

    fields = {"image": st.sampled_from(["a.jpg", "", "000000002.jpg", "²³.jpg"]), "center": number_list(2),
              "scale": st.sampled_from([1.0, 0.0, -1.0, math.inf, 10**400, True]), "joints": joints(),
              "joints_vis": st.lists(st.sampled_from([0, 1, 1, 2, 3, 0.5, None]), min_size=15, max_size=17),
              "extra_key": st.sampled_from([{"headbox": [1, 2, 30, 40]}, {"head_size": 10**400}])}
    return mutated(good, fields).map(lambda r: {**{k: v for k, v in r.items() if k != "extra_key"},
                                                **(r["extra_key"] if isinstance(r.get("extra_key"), dict) else {})})


@FUZZ
@given(records=st.lists(st.one_of(_mpii_record(), junk), min_size=0, max_size=4),
       extra=st.dictionaries(st.sampled_from(["headbox", "head_size"]), junk, max_size=1))
def test_mpii_reader_on_mutated_records(records, extra):
    if records and isinstance(records[0], dict):
        records[0] = {**records[0], **extra}
    with _tmpdir() as d:
        p = Path(d) / "mpii.json"
        _dump(p, records)
        _check("mpii", p, MPII, len(records))


# ------------------------------------------------------------------------------------------------ WFLW text
@st.composite
def wflw_line(draw: Callable) -> str:
    k = TRI.num_keypoints
    toks = [f"{draw(st.floats(0, 60)):.3f}" for _ in range(2 * k)] + ["1", "2", "70", "80"]
    toks += [draw(st.sampled_from(["0", "1"])) for _ in range(6)] + ["a/img.jpg"]
    how = draw(st.sampled_from(["ok", "tok", "drop", "add", "rect", "attr", "text"]))
    if how == "tok":
        toks[draw(st.integers(0, len(toks) - 2))] = draw(st.one_of(cells.filter(lambda c: c.strip() and " " not in c),
                                                                   st.sampled_from(["nan", "inf", "1e999"])))
    elif how == "drop":
        del toks[draw(st.integers(0, len(toks) - 1))]
    elif how == "add":
        toks.insert(draw(st.integers(0, len(toks))), "1.0")
    elif how == "rect":
        toks[2 * k + 2] = "1"  # x_max < x_min
    elif how == "attr":
        toks[2 * k + 5] = draw(st.sampled_from(["2", "-1", "0.5"]))
    elif how == "text":
        return draw(st.text(max_size=30)).replace("\r", " ").replace("\n", " ")
    return " ".join(t.replace("\n", " ") for t in toks)


@FUZZ
@given(lines=st.lists(wflw_line(), min_size=1, max_size=4))
def test_wflw_txt_reader_on_mutated_lines(lines):
    with _tmpdir() as d:
        p = Path(d) / "wflw.txt"
        p.write_text("\n".join(lines) + "\n", encoding="utf-8")
        n = len([ln for ln in p.read_text(encoding="utf-8").splitlines() if ln.split()])
        _check("wflw_txt", p, TRI, n)


# ------------------------------------------------------------------------------------------------ detections
def _detection() -> st.SearchStrategy:
    good = {"image_id": 7, "category_id": 1, "bbox": [1.0, 2.0, 30.0, 40.0], "score": 0.9}
    fields = {"image_id": st.sampled_from([7, 8, "7", 7.0, [7], None]), "category_id": st.sampled_from([1, 2, "1"]),
              "bbox": number_list(4, -20, 60), "score": st.sampled_from([0.5, -1.0, math.nan, 10**400, "0.9"])}
    return mutated(good, fields)


@FUZZ
@given(dets=st.lists(st.one_of(_detection(), junk), min_size=0, max_size=4),
       gt_ids=st.lists(st.sampled_from([7, 9, "7", [7], None]), min_size=0, max_size=2), use_gt=st.booleans())
def test_detections_reader_on_mutated_records(dets, gt_ids, use_gt):
    with _tmpdir() as d:
        p = Path(d) / "dets.json"
        _dump(p, dets)
        (Path(d) / "000000000007.jpg").write_bytes(b"")
        (Path(d) / "²7.jpg").write_bytes(b"")  # a stem that str.isdigit() accepts and int() does not
        kw = {}
        if use_gt:
            gt = Path(d) / "gt.json"
            _dump(gt, {"images": [{"id": 7, "file_name": "000000000007.jpg"}, *({"id": i, "file_name": "x.jpg"}
                                                                                  for i in gt_ids)]})
            kw["gt"] = gt
        _check("detections", p, load_spec("coco"), len(dets), **kw)
