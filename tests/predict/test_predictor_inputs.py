"""The Python API of ``Predictor`` on odd inputs: pixel dtypes read by the same rule as image files, tensors and
non-images refused, ``Prediction.select`` indices, box scores and sizes, ``image_ids``, ``predict_stream`` items,
``batch_size``, and ``draw_prediction`` on the images ``predict`` takes.

Most tests run a :class:`Predictor` whose backend records the crops it is given: what the model sees is compared
exactly, without depending on what a 2-step model makes of it.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from adaanchor.data.image_read import load_image
from adaanchor.data.spec import load_spec
from adaanchor.errors import AdaAnchorError, DataError
from adaanchor.predict import Prediction, Predictor
from adaanchor.predict.images import as_rgb
from adaanchor.predict.overlay import NAN_SCORE_RGB, NO_SCORE_RGB, confidence_rgb, draw_prediction

K = 17
RNG = np.random.default_rng(0)
IMG = RNG.integers(0, 256, (96, 72, 3), dtype=np.uint8)
GRAY = IMG[..., 0]


class Recorder:
    """A backend that keeps the normalised crops ``(3, H, W)`` it is given and predicts keypoint ``j`` of each
    instance at ``(j, j)`` in the crop."""

    def __init__(self) -> None:
        self.crops: list[np.ndarray] = []

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        self.crops.extend(np.array(c) for c in x)
        kp = np.repeat(np.arange(K, dtype=np.float32)[None, :, None], len(x), 0).repeat(2, 2)
        return {"keypoints": kp, "scores": np.full((len(x), K), 0.5, np.float32), "anchors": kp.copy()}


def _fake(batch_size: int = 4) -> tuple[Predictor, Recorder]:
    rec = Recorder()
    return Predictor(rec, load_spec("coco"), (72, 96), "adaanchor", 4, batch_size=batch_size), rec


def _seen(image, **kw) -> list[np.ndarray]:
    """The crops the model is given for ``image`` (one image or a batch)."""
    p, rec = _fake()
    p.predict(image, **kw)
    return rec.crops


def _same_crops(a, b) -> None:
    ca, cb = _seen(a), _seen(b)
    assert len(ca) == len(cb) == 1
    np.testing.assert_array_equal(ca[0], cb[0])


@pytest.fixture(scope="module")
def predictor(pred_runs) -> Predictor:
    return Predictor.from_run(pred_runs["adaanchor"], device="cpu", batch_size=5)


# ------------------------------------------------------------------------- 1, 2: one pixel rule for arrays and files
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_float_arrays_in_0_1_are_the_uint8_image_not_black(dtype):
    _same_crops((IMG / 255.0).astype(dtype), IMG)


def test_float_arrays_pil_f_and_tiffs_of_whole_numbers_0_255_are_read_as_they_are(tmp_path):
    """8-bit data stored as floats keeps its values (a dim 20..147 image is not stretched), in all three forms."""
    dim = (GRAY // 2 + 20).astype(np.float32)
    f = tmp_path / "dim.tif"
    Image.fromarray(dim, mode="F").save(f)
    want = np.repeat((GRAY // 2 + 20)[..., None], 3, 2)
    for same in (dim, Image.fromarray(dim, mode="F"), f):
        np.testing.assert_array_equal(as_rgb(load_image(same) if same is f else same), want)
    _same_crops(dim, want)
    _same_crops(f, want)
    _same_crops(IMG.astype(np.float64), IMG)
    _same_crops(IMG.astype(np.int64), IMG)  # integers up to 255: 8 bits


def test_bool_arrays_read_as_one_bit_images_0_or_255(tmp_path):
    mask = IMG[..., 0] > 128
    np.testing.assert_array_equal(as_rgb(mask), np.repeat((mask * 255).astype(np.uint8)[..., None], 3, 2))
    Image.fromarray(mask).save(tmp_path / "m.png")  # a 1-bit PNG
    assert Image.open(tmp_path / "m.png").mode == "1"
    _same_crops(mask, tmp_path / "m.png")
    _same_crops(mask, Image.fromarray(mask))


@pytest.mark.parametrize("case,data", [
    ("unit", GRAY.astype(np.float32) / 255),
    ("negative", -GRAY.astype(np.float32)),  # stretched over its own min..max, not clipped to black
    ("large", GRAY.astype(np.float32) * 10 + 500),
])
def test_float_array_pil_f_and_float_tiff_are_the_same_image(tmp_path, case, data):
    f = tmp_path / f"{case}.tif"
    Image.fromarray(data, mode="F").save(f)
    from_file = load_image(f)
    np.testing.assert_array_equal(as_rgb(data), from_file)
    np.testing.assert_array_equal(as_rgb(Image.fromarray(data, mode="F")), from_file)
    _same_crops(data, f)
    _same_crops(Image.fromarray(data, mode="F"), f)
    assert from_file.std() > 10  # not a black or flat image


def test_12_bit_uint16_arrays_and_pil_images_scale_by_bit_depth_like_png_files(tmp_path):
    u16 = GRAY.astype(np.uint16) * 16  # a 12-bit camera frame, up to 4080
    f = tmp_path / "u16.png"
    Image.fromarray(u16).save(f)
    from_file = load_image(f)
    assert from_file.max() > 250 and from_file.std() > 10
    np.testing.assert_array_equal(as_rgb(u16), from_file)
    np.testing.assert_array_equal(as_rgb(Image.fromarray(u16)), from_file)
    _same_crops(u16, f)
    _same_crops(Image.fromarray(u16), f)
    _same_crops(IMG.astype(np.uint16) * 257, IMG)  # full 16-bit range: x257 is the 8-bit image


def test_the_rule_on_small_arrays():
    assert as_rgb(np.array([[0, 4095]], np.uint16))[0, :, 0].tolist() == [0, 255]
    assert as_rgb(np.array([[-128, 127]], np.int8))[0, :, 0].tolist() == [0, 255]  # shifted up, then 8 bits
    assert as_rgb(np.array([[0.0, 0.5, 1.0]]))[0, :, 0].tolist() == [0, 128, 255]
    assert as_rgb(np.array([[0.0, 7.0, 200.0]]))[0, :, 0].tolist() == [0, 7, 200]
    assert as_rgb(np.array([[-1.0, 0.0, 1.0]]))[0, :, 0].tolist() == [0, 128, 255]
    rgba = np.dstack([IMG, np.zeros(IMG.shape[:2], np.uint16)]).astype(np.uint16)  # alpha is not brightness
    np.testing.assert_array_equal(as_rgb(rgba), IMG)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_float_images_with_nan_or_inf_are_refused_array_pil_and_file(tmp_path, bad):
    data = GRAY.astype(np.float32) / 255
    data[3, 4] = bad
    p, _ = _fake()
    with pytest.raises(ValueError, match=r"^images: 1 of 6912 values of a float32 image are NaN or infinite: "
                                         r"expected uint8 .*\[0, 1\]") as e:
        p.predict(data)
    assert isinstance(e.value, AdaAnchorError)
    with pytest.raises(ValueError, match=r"images\[1\]: 1 of 6912 values .* NaN or infinite"):
        p.predict([IMG, data])
    with pytest.raises(ValueError, match="NaN or infinite"):
        p.predict(Image.fromarray(data, mode="F"))
    f = tmp_path / "nan.tif"
    Image.fromarray(data, mode="F").save(f)
    with pytest.raises(DataError, match=r"nan.tif: 1 of 6912 values of a float32 image are NaN or infinite"):
        p.predict(f)


@pytest.mark.parametrize("dtype", [np.complex64, object, "U3"])
def test_dtypes_that_are_not_pixels_are_refused(dtype):
    p, _ = _fake()
    with pytest.raises(TypeError, match=rf"^images: dtype {np.dtype(dtype)} is not a pixel type: expected uint8"):
        p.predict(IMG.astype(dtype))


def test_pil_premultiplied_alpha_images_are_read():
    la = Image.fromarray(np.dstack([GRAY, np.full_like(GRAY, 255)]), mode="LA")
    _same_crops(la.convert("La"), GRAY)
    _same_crops(Image.fromarray(IMG).convert("RGBa"), IMG)


def test_real_model_predicts_a_float_image_as_its_uint8_pixels(predictor, tmp_path):
    f = tmp_path / "f.tif"
    Image.fromarray(GRAY.astype(np.float32) / 255, mode="F").save(f)
    a, b, c = (predictor.predict(x).keypoints for x in (GRAY.astype(np.float32) / 255, f, GRAY))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


# -------------------------------------------------------------------------------------- 3, 6: what is not an image
def test_torch_tensors_are_refused_saying_how_to_pass_them():
    import torch

    p, _ = _fake()
    for t in (torch.from_numpy(IMG), torch.from_numpy(IMG).permute(2, 0, 1).float() / 255):
        with pytest.raises(TypeError, match=r"^images: a torch tensor is not taken: pass an \(H, W, 3\) numpy array"):
            p.predict(t)
    with pytest.raises(TypeError, match=r"^images\[1\]: a torch tensor"):
        p.predict([IMG, torch.from_numpy(IMG)])


def test_nested_lists_of_numbers_are_refused():
    p, _ = _fake()
    with pytest.raises(TypeError, match=r"^images\[0\]: a nested list is not taken: pass np.asarray"):
        p.predict(IMG.tolist())


@pytest.mark.parametrize("value,says", [
    (None, r"expected an \(H, W, 3\) uint8 RGB numpy array, a PIL image or an image file path, got NoneType"),
    (5, "got int"),
    (np.uint8(3), "got uint8"),
    ({"a": 1}, "got dict"),
    (b"a.png", r"bytes are not taken: pass a path as str or pathlib.Path"),
    (io.BytesIO(b"\x89PNG"), r"a file object is not taken: pass its path, or PIL.Image.open\(f\)"),
])
def test_non_images_are_refused_with_what_to_pass(value, says):
    p, _ = _fake()
    with pytest.raises(TypeError, match="^images: .*" + says) as e:
        p.predict(value)
    assert isinstance(e.value, AdaAnchorError)  # one line in the CLI too


def test_arrays_of_other_dimensions_say_what_is_expected():
    p, _ = _fake()
    with pytest.raises(ValueError, match=r"^images: expected an image array .* got shape \(10,\)"):
        p.predict(np.zeros(10, np.uint8))
    with pytest.raises(ValueError, match=r"got \(3, 96, 72\) \(channels first\? transpose it to \(H, W, C\)\)"):
        p.predict(IMG.transpose(2, 0, 1))


def test_an_open_file_and_any_os_pathlike_are_handled(tmp_path):
    f = tmp_path / "a.png"
    Image.fromarray(IMG).save(f)

    class Where:
        def __fspath__(self) -> str:
            return str(f)

    _same_crops(Where(), IMG)
    with open(f, "rb") as fh, pytest.raises(TypeError, match="a file object is not taken"):
        _fake()[0].predict(fh)


def test_predict_stream_items_must_be_triples():
    p, _ = _fake()
    with pytest.raises(TypeError, match=r"^predict_stream: item 0: expected an \(image, boxes, tag\) triple, got a tuple of 2"):
        list(p.predict_stream([(IMG, None)]))
    with pytest.raises(TypeError, match=r"item 0: expected an \(image, boxes, tag\) triple, got ndarray"):
        list(p.predict_stream([IMG[:3]]))  # three rows would unpack as an (image, boxes, tag) triple
    with pytest.raises(TypeError, match="^predict_stream: expected an iterable"):
        list(p.predict_stream(None))
    with pytest.raises(TypeError, match=r"item 1 image: a torch tensor"):
        import torch

        list(p.predict_stream([(IMG, None, "a"), (torch.zeros(4, 4, 3), None, "b")]))


@pytest.mark.parametrize("bad", [None, "abc", "4", 2.7, True, 1e9, 0])
def test_batch_size_is_an_integer_checked_before_the_model_loads(pred_runs, monkeypatch, bad):
    import adaanchor.engine.run as run_module

    def no_load(*a, **k):
        raise AssertionError("the model was loaded before batch_size was checked")

    monkeypatch.setattr(run_module, "load_for_eval", no_load)
    with pytest.raises(AdaAnchorError, match=rf"^batch size must be an integer >= 1, got {__import__('re').escape(repr(bad))}"):
        Predictor.from_run(pred_runs["adaanchor"], device="cpu", batch_size=bad)
    with pytest.raises(AdaAnchorError, match="batch size must be an integer >= 1"):
        Predictor(Recorder(), load_spec("coco"), (72, 96), "adaanchor", 4, batch_size=bad)


@pytest.mark.parametrize("backend,bad,says", [
    ("torch", 2, r"^threads=2 sets the threads of backend='onnx' \(onnxruntime\); the torch backend uses torch's"),
    ("onnx", 0, r"^threads must be an integer >= 1 or None \(torch's count\), got 0"),
    ("onnx", -1, r"^threads must be an integer >= 1 or None"),
    ("onnx", 2.5, r"^threads must be an integer >= 1 or None \(torch's count\), got 2.5"),
    ("onnx", "4", r"^threads must be an integer >= 1 or None"),
    ("onnx", True, r"^threads must be an integer >= 1 or None"),
])
def test_threads_are_an_integer_of_the_onnx_backend_checked_before_the_model_loads(pred_runs, monkeypatch, backend,
                                                                                  bad, says):
    """The torch backend ignored ``threads`` without a word; onnxruntime took 0 as torch's count and 2.5 as 2."""
    import adaanchor.engine.run as run_module

    def no_load(*a, **k):
        raise AssertionError("the model was loaded before threads was checked")

    monkeypatch.setattr(run_module, "load_for_eval", no_load)
    with pytest.raises(AdaAnchorError, match=says):
        Predictor.from_run(pred_runs["adaanchor"], device="cpu", backend=backend, threads=bad)


# --------------------------------------------------------------------------------------------- 4: Prediction.select
def _three() -> Prediction:
    p, _ = _fake()
    return p.predict(IMG, boxes=[[1, 2, 30, 40], [5, 5, 20, 20], [10, 10, 40, 40]])


def test_select_takes_integer_indices_in_their_order_and_boolean_masks():
    p = _three()
    assert p.select([0, 1, 2]).boxes[:, 0].tolist() == [1, 5, 10]
    assert p.select(np.array([2, 0])).boxes[:, 0].tolist() == [10, 1]
    assert p.select([-1]).boxes[:, 0].tolist() == [10]
    assert p.select([True, False, True]).boxes[:, 0].tolist() == [1, 10]
    assert p.select(np.array([False] * 3)).keypoints.shape == (0, K, 2)
    assert p.select([]).keypoints.shape == (0, K, 2)
    s = p.select([2, 0])
    assert s.scores.shape == (2, K) and s.anchors.shape == (2, K, 2) and s.affines.shape == (2, 2, 3)


@pytest.mark.parametrize("keep,err,says", [
    (True, TypeError, r"keep: expected a boolean mask of shape \(3,\) or a 1-D array of integer indices, got bool"),
    (None, TypeError, "got None"),
    ([[0, 1]], TypeError, r"shape \(1, 2\)"),
    ([0.2, 0.0, 0.9], TypeError, "got dtype float64"),
    (["a", "", "b"], TypeError, "got dtype <U1"),
    ([True, False], ValueError, r"keep: a boolean mask needs one entry per instance \(3\), got 2"),
    (np.array([], bool), ValueError, r"keep: a boolean mask needs one entry per instance \(3\), got 0"),  # was kept
    ([0, 3], ValueError, r"keep: index 3 out of range for 3 instance"),
    ([-4], ValueError, r"keep: index -4 out of range"),
])
def test_select_refuses_what_is_neither_a_mask_nor_indices(keep, err, says):
    with pytest.raises(err, match=says):
        _three().select(keep)


# --------------------------------------------------------------------------------------- 5: boxes and image_ids
@pytest.mark.parametrize("score", [np.nan, np.inf, -1.0])
def test_box_scores_must_be_finite_and_not_negative(score):
    with pytest.raises(AdaAnchorError, match=r"boxes\[1\]: a detection score must be a finite number >= 0, got"):
        _fake()[0].predict(IMG, boxes=[[1, 2, 30, 40, 0.5], [10, 20, 30, 40, score]])
    assert _fake()[0].predict(IMG, boxes=[[1, 2, 30, 40, 0.0]]).box_scores.tolist() == [0.0]


@pytest.mark.parametrize("box,says", [
    ([0, 0, 1e308, 1], r"box coordinates must lie within \+-2\^31 px"),
    ([1e300, 0, 10, 10], r"box coordinates must lie within \+-2\^31 px"),
    ([0, 0, 1e-320, 1e-320], "gives a crop of no finite size"),
])
def test_boxes_of_no_finite_crop_are_refused(box, says):
    with pytest.raises(AdaAnchorError, match=r"boxes\[0\]: .*" + says):
        _fake()[0].predict(IMG, boxes=[box])


@pytest.mark.parametrize("box", [[1000, 1000, 40, 60], [-100, -100, 40, 60], [72, 0, 10, 10], [0, -20, 10, 20]])
def test_a_box_outside_its_image_is_refused(box):
    """The model saw a black crop, and keypoints came back off the image without a word."""
    with pytest.raises(AdaAnchorError, match=rf"^boxes\[1\]: \[{float(box[0])}, .* lies outside the 72x96 \(W x H\) "
                                             r"image: boxes are \[x, y, w, h\] in the pixels of the image they go with$"):
        _fake()[0].predict(IMG, boxes=[[1, 2, 30, 40], box])
    with pytest.raises(AdaAnchorError, match=r"^boxes\[1\]\[0\]: .* lies outside the 72x96"):
        _fake()[0].predict([IMG, IMG], boxes=[None, [box]])
    with pytest.raises(AdaAnchorError, match=r"^item 0 boxes\[0\]: .* lies outside the 72x96"):
        list(_fake()[0].predict_stream([(IMG, box, "a")]))
    # Partly inside is a crop of the image (a person at its border), padded with black as in training.
    assert len(_fake()[0].predict(IMG, boxes=[[60, 80, 40, 60], [-20, -30, 40, 60], [71, 95, 5, 5]])) == 3


@pytest.mark.parametrize("boxes,kind", [([True, 0, 10, 10], "bool"), ([[0, 0, 10, 10], [1, 2, "30", 40]], "str"),
                                        (np.ones((1, 4), bool), "bool"), (np.array(["1", "2", "3", "4"]), "str")])
def test_box_coordinates_that_are_not_numbers_are_refused(boxes, kind):
    # float() would read True as 1 and "30" as 30.
    with pytest.raises(AdaAnchorError, match=rf"^boxes: box coordinates must be numbers, got {kind} in "):
        _fake()[0].predict(IMG, boxes=boxes)


def test_a_detections_file_box_of_booleans_is_refused(tmp_path):
    from adaanchor.predict.boxes import load_detections

    f = tmp_path / "d.json"
    f.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [True, 0, 10, 10], "score": 1}]))
    with pytest.raises(AdaAnchorError, match=r"record 0.*'bbox'.*expected \[x, y, w, h\]"):
        load_detections(f)


def test_a_batch_needs_a_list_of_boxes():
    with pytest.raises(AdaAnchorError, match=r"^boxes: for a batch of 2 images expected a list with one entry per image"):
        _fake()[0].predict([IMG, IMG], boxes=3)
    with pytest.raises(AdaAnchorError, match=r"^boxes: expected \[x, y, w, h\] boxes \(N, 4\) or \(N, 5\), got bool True"):
        _fake()[0].predict(IMG, boxes=True)


@pytest.fixture
def dets(tmp_path) -> Path:
    f = tmp_path / "dets.json"
    f.write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [1, 2, 30, 40], "score": 0.9},
                             {"image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 20], "score": 0.8},
                             {"image_id": 12, "category_id": 1, "bbox": [5, 5, 20, 20], "score": 0.8}]))
    return f


@pytest.mark.parametrize("ids,says", [
    ("12", r"^image_ids: expected a list of integer image ids, one per image, got str '12'"),
    (5, r"^image_ids: expected a list of integer image ids, one per image, got int 5"),
    ([1.7, 2.2], r"^image_ids\[0\]: expected an integer image id, got 1.7"),
    (["a", "b"], r"^image_ids\[0\]: expected an integer image id, got 'a'"),
    ([2, float("nan")], r"^image_ids\[1\]: expected an integer image id, got nan"),
    ([True, 2], r"^image_ids\[0\]: expected an integer image id, got True"),
    ([1], r"^image_ids: 1 ids for 2 images \(give one per image\)"),
])
def test_image_ids_are_integers_one_per_image(dets, ids, says):
    with pytest.raises(AdaAnchorError, match=says):
        _fake()[0].predict([IMG, IMG], boxes=dets, image_ids=ids)


def test_image_ids_match_and_one_int_for_one_image(dets):
    p, _ = _fake()
    assert [len(x) for x in p.predict([IMG, IMG, IMG], boxes=dets, image_ids=[2, np.int64(7), 12])] == [1, 0, 1]
    assert len(p.predict(IMG, boxes=dets, image_ids=12)) == 1


def test_image_ids_without_a_detections_file_are_refused_not_ignored():
    p, _ = _fake()
    with pytest.raises(AdaAnchorError, match=r"^image_ids: only used to match a detections file \(boxes=PATH\) to "
                                             r"the images, got boxes=None"):
        p.predict([IMG, IMG], image_ids=[1, 2])
    with pytest.raises(AdaAnchorError, match="got boxes=list"):
        p.predict([IMG, IMG], boxes=[None, None], image_ids=[1, 2])


# ---------------------------------------------------------------------------------------------- 7: draw_prediction
def _whole() -> Prediction:
    return _fake()[0].predict(IMG)


def test_draw_takes_the_images_predict_takes(tmp_path):
    pred, sk = _whole(), [(0, 1), (1, 2)]
    want = draw_prediction(IMG, pred, sk, stride=4)
    f = tmp_path / "a.png"
    Image.fromarray(IMG).save(f)
    for same in (IMG / 255.0, np.dstack([IMG, np.full(IMG.shape[:2], 255, np.uint8)]), Image.fromarray(IMG), f, str(f),
                 IMG.astype(np.uint16) * 257):
        np.testing.assert_array_equal(draw_prediction(same, pred, sk, stride=4), want)
    gray = draw_prediction(GRAY, pred, sk, stride=4)
    np.testing.assert_array_equal(gray, draw_prediction(np.repeat(GRAY[..., None], 3, 2), pred, sk, stride=4))


def test_draw_a_nan_score_in_its_own_colour():
    """Not the red end of the confidence bar (a confidence of 0), nor the white of a strategy without confidence."""
    assert confidence_rgb(float("nan")) == NAN_SCORE_RGB and confidence_rgb(float("inf")) == NAN_SCORE_RGB
    assert NAN_SCORE_RGB not in (NO_SCORE_RGB, confidence_rgb(0.0))
    pred = _whole()
    pred.scores[0, 0] = np.nan
    assert draw_prediction(IMG, pred, [(0, 1)]).shape == (384, 288, 3)


@pytest.mark.parametrize("skeleton,err,says", [
    ([(0, 99)], ValueError, r"skeleton\[0\]: \(0, 99\) names a keypoint out of range: the prediction has 17 keypoints \(0..16\)"),
    ([(0, 1), (-1, 2)], ValueError, r"skeleton\[1\]: \(-1, 2\) names a keypoint out of range"),
    ([("nose", "left_eye")], TypeError, r"skeleton\[0\]: expected a pair of keypoint indices, got \('nose', 'left_eye'\)"),
    ([(0, 1, 2)], TypeError, r"skeleton\[0\]: expected a pair"),
])
def test_draw_refuses_a_skeleton_of_no_keypoints(skeleton, err, says):
    with pytest.raises(err, match=says):
        draw_prediction(IMG, _whole(), skeleton)


@pytest.mark.parametrize("pred,err,says", [
    ("list", TypeError, r"^pred: expected the Prediction of one image, got list: predict on a list returns a list, "
                        r"draw each one: draw_prediction\(images\[i\], preds\[i\], \.\.\.\)$"),
    (None, TypeError, r"^pred: expected the Prediction of one image, got NoneType$"),
])
def test_draw_refuses_what_is_not_one_prediction(pred, err, says):
    """A list of predictions (``predict`` of a list) raised ``AttributeError: 'list' object has no attribute 'meta'``."""
    with pytest.raises(err, match=says):
        draw_prediction(IMG, [_whole()] if pred == "list" else pred)


@pytest.mark.parametrize("stride", [-1, 0, 4.5, True, "4"])
def test_draw_refuses_a_stride_that_is_no_models(stride):
    """-1 and 4.5 drew anchor cells of those sizes; 0 drew none."""
    with pytest.raises(ValueError, match=r"^stride: expected the model's output stride, an integer >= 1 "
                                         r"\(Predictor.stride\), or None \(no cells\), got "):
        draw_prediction(IMG, _whole(), stride=stride)
    assert draw_prediction(IMG, _whole(), stride=np.int64(4)).shape == (384, 288, 3)


def test_draw_refuses_an_image_of_another_size_or_none():
    pred = _whole()
    with pytest.raises(ValueError, match=r"^image: size \(H, W\) = \(20, 30\) is not the prediction's image_hw \(96, 72\)"):
        draw_prediction(np.zeros((20, 30, 3), np.uint8), pred)
    with pytest.raises(ValueError, match=r"^image: an empty image \(height x width 0 x 0\)"):
        draw_prediction(np.zeros((0, 0, 3), np.uint8), pred)
    with pytest.raises(ValueError, match=r"^image: an empty image \(height x width 0 x 5\)"):  # not 'of shape'
        draw_prediction(np.zeros((0, 5), np.uint8), pred)


def test_a_detection_outside_its_image_is_refused_in_the_api(tmp_path):
    """A detections file's box beyond its image (ids matched to the wrong images) was predicted: keypoints at x, y
    of about 500 on a 72x96 image, where the array form and adaanchor predict refuse or leave it out."""
    import json

    from PIL import Image

    img = tmp_path / "872.png"
    Image.fromarray(np.zeros((96, 72, 3), np.uint8)).save(img)
    dets = tmp_path / "dets.json"
    dets.write_text(json.dumps([{"image_id": 872, "category_id": 1, "bbox": [500, 500, 50, 70], "score": 0.8}]))
    # The message names the file and the image id (it said "the detections file").
    with pytest.raises(AdaAnchorError, match=rf"^boxes \(from {re.escape(str(dets))}, image id 872\)\[0\]: \[500.0, .* lies "
                                             r"outside the 72x96"):
        _fake()[0].predict(str(img), boxes=str(dets))


def test_a_closed_pil_image_is_named():
    """A bare AssertionError from inside Pillow (closed before loading) or "Operation on closed image"."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(IMG).save(buf, "PNG")
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        pass
    loaded = Image.open(io.BytesIO(buf.getvalue()))
    loaded.load()
    loaded.close()
    for closed in (im, loaded):
        with pytest.raises(AdaAnchorError, match=r"the PIL image cannot be read \(.*; closed\? use it inside its"):
            _fake()[0].predict(closed)


def test_a_stream_gives_the_items_before_a_bad_one():
    """With batch_size 4, items [ok, ok, "nope.png", ok] raised before anything was yielded: the two read before it
    were lost."""
    from adaanchor.errors import DataError

    p, _ = _fake(batch_size=4)
    got = []
    with pytest.raises(DataError, match="nope.png: image file not found"):
        for tag, _pred in p.predict_stream([(IMG, None, "a"), (IMG, None, "b"), ("nope.png", None, "c"), (IMG, None, "d")]):
            got.append(tag)
    assert got == ["a", "b"]


@pytest.mark.parametrize("kw,says", [({"run": None}, "run must be a run directory"), ({"run": 3}, "got 3"),
                                     ({"run": "x", "ckpt": 3}, "ckpt must be a checkpoint file, or None, got 3")])
def test_from_run_names_an_argument_that_is_no_path(kw, says):
    """pathlib's TypeError ("expected str, bytes or os.PathLike object, not NoneType") named no argument."""
    with pytest.raises(TypeError, match=rf"Predictor.from_run: .*{says}"):
        Predictor.from_run(**kw)


def test_a_2d_array_of_thresholds_is_named():
    from adaanchor.metrics.keypoint import single_keypoint_metrics

    with pytest.raises(ValueError, match=r"pck_thresholds: expected positive finite numbers, got ndarray of shape \(2,\)"):
        single_keypoint_metrics(np.zeros((1, 2, 2)), None, np.zeros((1, 2, 2)), np.ones((1, 2)), np.ones(1),
                                np.array([[0.05, 0.1]]))
