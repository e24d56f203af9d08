"""``adaanchor predict --boxes`` and ``--gt`` on input that gave wrong numbers with exit code 0: boxes that miss
their image or overflow the crop, one detections file for several videos, images of another size than the
ground truth says."""

from __future__ import annotations

import json

from PIL import Image

from adaanchor.cli import main


def _predict(*args: str) -> int:
    return main(["predict", *args, "--quiet", "--device", "cpu", "--no-overlays"])


def _images(val_images, folder, n=2):
    folder.mkdir()
    for i, p in enumerate(val_images[:n]):
        (folder / f"{i + 1}.png").write_bytes(p.read_bytes())
    return folder


def test_detections_outside_their_image_are_left_out_and_counted(pred_runs, val_images, tmp_path, capsys):
    """A box that misses its 72x96 image altogether (another image's pixels, or the wrong image id) gave
    keypoints at (506, 503) and exit code 0; boxes given as arrays were already refused."""
    folder = _images(val_images, tmp_path / "imgs")
    dets = [{"image_id": 1, "category_id": 1, "bbox": [500, 500, 40, 60], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 60], "score": 0.8},
            {"image_id": 2, "category_id": 1, "bbox": [-90, 0, 80, 50], "score": 0.7}]
    (tmp_path / "d.json").write_text(json.dumps(dets))
    capsys.readouterr()
    assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o"), "--boxes",
                    str(tmp_path / "d.json")) == 3
    res = json.loads((tmp_path / "o" / "predictions.json").read_text())
    assert [r["bbox"] for r in res] == [[10, 10, 40, 60]]
    out = capsys.readouterr().out
    assert (f"{tmp_path / 'd.json'}: 2 detection(s) lie outside their image and were left out (the first: image id 1 "
            "(1.png, 72x96), box [500.0, 500.0, 40.0, 60.0])") in out


def test_detection_boxes_past_the_largest_image_and_boolean_categories_are_refused(pred_runs, val_images, tmp_path,
                                                                                     capsys):
    """x = 1e308 overflowed the crop and wrote keypoints at 1e+308 (exit 0); ``category_id: true`` read as 1."""
    folder = _images(val_images, tmp_path / "imgs", 1)
    for i, (det, says) in enumerate([
            ({"bbox": [1e308, 5, 40, 60]}, "[record 0] field 'bbox': box coordinates must lie within +-2^31 px"),
            ({"bbox": [5, 5, 40, 60], "category_id": True}, "[record 0] field 'category_id': expected an integer "
                                                            "category id, got True")]):
        path = tmp_path / f"d{i}.json"
        path.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 0.9, **det}]))
        capsys.readouterr()
        assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / f"o{i}"), "--boxes",
                        str(path)) == 2
        assert capsys.readouterr().err.strip().startswith(f"error: {path} {says}")
        assert not (tmp_path / f"o{i}").exists()


def test_one_detections_file_goes_with_one_video_alone(pred_runs, val_images, tmp_path, capsys):
    """A frame's image id is its index: every video given, and an image of that id, took the same boxes."""
    from root_helpers import write_video

    a, b = write_video(tmp_path / "a.mp4", 3, size=(72, 96)), write_video(tmp_path / "b.mp4", 3, size=(72, 96))
    folder = _images(val_images, tmp_path / "imgs", 1)
    (tmp_path / "d.json").write_text(json.dumps([{"image_id": i, "category_id": 1, "bbox": [5, 5, 40, 60]}
                                                 for i in range(3)]))
    for inputs, what in (([a, b], "2 videos"), ([a, folder / "1.png"], "a video and images")):
        capsys.readouterr()
        assert _predict(str(pred_runs["adaanchor"]), *map(str, inputs), "--out", str(tmp_path / "o"), "--boxes",
                        str(tmp_path / "d.json")) == 2
        assert f"so one detections file goes with one video alone, and these inputs are {what}" in capsys.readouterr().err
    assert _predict(str(pred_runs["adaanchor"]), str(a), "--out", str(tmp_path / "o"), "--boxes",
                    str(tmp_path / "d.json")) == 0


def test_an_image_of_another_size_than_the_ground_truth_says_is_skipped(pred_runs, val_images, tiny_bench, tmp_path,
                                                                        capsys):
    """--gt matches images by file name: a resized copy took the original's id, and its predictions (in its own
    pixels) scored AP 0 against the original's people, exit code 0."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    big, same = val_images[0], val_images[1]
    with Image.open(big) as im:
        w, h = im.size
        im.resize((2 * w, 2 * h)).save(folder / big.name)
    (folder / same.name).write_bytes(same.read_bytes())
    capsys.readouterr()
    assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o"), "--gt",
                    str(tiny_bench / "val.json")) == 3
    out = capsys.readouterr().out
    assert f"{folder / big.name}: the image is {2 * w}x{2 * h} and {tiny_bench / 'val.json'} says {w}x{h} for it" in out
    assert len(json.loads((tmp_path / "o" / "predictions.json").read_text())) == 1


def test_the_images_files_are_predictions_whatever_the_order_of_the_inputs(pred_runs, val_images, tmp_path):
    """A video named predictions.mp4 given before the images took predictions.json, and the images' results went
    to predictions_1.json."""
    from root_helpers import write_video

    video = write_video(tmp_path / "predictions.mp4", 2, size=(72, 96))
    folder = _images(val_images, tmp_path / "imgs", 1)
    for order, out in (((video, folder), tmp_path / "o1"), ((folder, video), tmp_path / "o2")):
        assert _predict(str(pred_runs["adaanchor"]), *map(str, order), "--out", str(out), "--format", "coco") == 0
        assert [r.get("frame") for r in json.loads((out / "predictions.json").read_text())] == [None]
        assert [r["frame"] for r in json.loads((out / "predictions_1.json").read_text())] == [0, 1]


def test_an_empty_output_folder_is_refused(pred_runs, val_images, tmp_path, capsys):
    """``--out ''`` wrote the files into the working folder."""
    folder = _images(val_images, tmp_path / "imgs", 1)
    capsys.readouterr()
    assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", "") == 2
    assert capsys.readouterr().err.strip() == "error: --out is empty: give the output folder (default predictions)"


def test_detections_without_a_score_and_an_empty_file_are_noted(pred_runs, val_images, tmp_path, capsys):
    """A detection without a score was taken as 1.0 without a word, and an empty detections file predicted nothing
    with exit 0 and no message."""
    folder = _images(val_images, tmp_path / "imgs")
    (tmp_path / "d.json").write_text(json.dumps([{"image_id": 1, "category_id": 1, "bbox": [10, 10, 40, 60]},
                                                 {"image_id": 2, "category_id": 1, "bbox": [5, 5, 40, 60], "score": 0.5}]))
    (tmp_path / "e.json").write_text("[]")
    capsys.readouterr()
    assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o"), "--boxes",
                    str(tmp_path / "d.json")) == 0
    assert f"note: {tmp_path / 'd.json'}: 1 of 2 detections have no score, taken as 1.0" in capsys.readouterr().err
    assert _predict(str(pred_runs["adaanchor"]), str(folder), "--out", str(tmp_path / "o2"), "--boxes",
                    str(tmp_path / "e.json")) == 0
    assert (f"note: {tmp_path / 'e.json'}: holds no detection (an empty list): no instance is predicted"
            in capsys.readouterr().err)


def test_a_file_named_again_through_a_link_is_noted(pred_runs, val_images, tmp_path, capsys):
    """The target named after its link was read once, under the link's name, and its own name had no results
    without a word."""
    folder = _images(val_images, tmp_path / "imgs", n=1)
    link = tmp_path / "link.png"
    link.symlink_to(folder / "1.png")
    capsys.readouterr()
    assert _predict(str(pred_runs["adaanchor"]), str(link), str(folder / "1.png"), str(link), "--out",
                    str(tmp_path / "o")) == 0
    err = capsys.readouterr().err
    assert err.count(f"note: {folder / '1.png'}: the same file as {link}, read once under that name") == 1
    assert [r["file_name"] for r in json.loads((tmp_path / "o" / "predictions.json").read_text())] == [str(link)]
