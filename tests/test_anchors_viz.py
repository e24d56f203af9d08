"""Predictions and anchors on arbitrary image files: the fit-to-input affine, the mapping back to the original
image, the PNGs, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adaanchor.anchors_viz import (
    fit_image_affine,
    grid_to_image,
    predict_image,
    select_keypoints,
    split_image_args,
    visualize_command,
)
from adaanchor.config import build_config
from adaanchor.data.dataset import TopDownDataset
from adaanchor.data.spec import load_spec
from adaanchor.data.transforms import apply_affine, invert_affine, warp_image
from adaanchor.data.types import to_tensor_image
from adaanchor.engine.run import load_for_eval, resolve_run
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError

# Same generator options as conftest.TINY_SYNTH, so the session's tiny benchmark cache is reused.
SYNTH = {"n_train": 48, "n_val": 12, "seed": 0}


@pytest.fixture(scope="module")
def runs(tiny_bench, tmp_path_factory):
    """strategy -> run directory of a 2-step tiny run."""
    root = tmp_path_factory.mktemp("viz_runs")
    out = {}
    for name in ("adaanchor", "heatmap", "regression"):
        run = root / name
        train(build_config(None, [
            f"data.root={tiny_bench}", *(f"data.synth.{k}={v}" for k, v in SYNTH.items()), f"out_dir={run}",
            "model.tiny_width=8", "train.batch_size=8", "train.progress=false", "eval.batch_size=12",
            f"strategy.name={name}", "train.max_steps=2",
        ]))
        out[name] = run
    return out


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    """A wide RGB JPEG, a tall grayscale PNG and an RGBA PNG, none of the model's aspect ratio."""
    root = tmp_path_factory.mktemp("viz_images")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:120, 0:200]
    rgb = np.stack([xx * 1.2, yy * 2.0, 128 + 60 * np.sin(xx / 9.0)], axis=-1) + rng.normal(0, 10, (120, 200, 3))
    rgb = np.clip(rgb, 0, 255).astype(np.uint8)
    paths = {"rgb": root / "wide.jpg", "gray": root / "tall_gray.png", "rgba": root / "alpha.png"}
    Image.fromarray(rgb).save(paths["rgb"], quality=90)
    Image.fromarray(rgb[:, :60].mean(axis=2).astype(np.uint8).T.copy(), mode="L").save(paths["gray"])
    Image.fromarray(np.dstack([rgb[:50, :50], np.full((50, 50), 200, np.uint8)]), mode="RGBA").save(paths["rgba"])
    return paths


def test_fit_affine_is_the_datasets_whole_image_crop():
    ds = TopDownDataset([], load_spec("coco"), (72, 96), crop="image")
    for hw in [(96, 72), (120, 200), (300, 40), (7, 5)]:
        a = fit_image_affine(hw, (72, 96))
        np.testing.assert_allclose(a, ds.affine_for(None, hw)[0], atol=1e-12)
        h, w = hw
        corners = apply_affine(a, np.array([[-0.5, -0.5], [w - 0.5, -0.5], [-0.5, h - 0.5], [w - 0.5, h - 0.5]]))
        assert corners.min() >= -0.5 - 1e-9 and corners[:, 0].max() <= 71.5 + 1e-9 and corners[:, 1].max() <= 95.5 + 1e-9
        assert np.isclose(corners[:, 0].max() - corners[:, 0].min(), 72) or np.isclose(corners[:, 1].max() - corners[:, 1].min(), 96)


@pytest.mark.parametrize("name", ["adaanchor", "heatmap", "regression"])
def test_predictions_return_through_the_inverse_affine(runs, images, name):
    cfg, ckpt = resolve_run(runs[name])
    model, strategy, _ = load_for_eval(cfg, ckpt)
    img = np.asarray(Image.open(images["rgb"]).convert("RGB"))
    pred = predict_image(model, strategy, img, (72, 96))

    a = fit_image_affine(img.shape[:2], (72, 96))
    x = to_tensor_image(warp_image(img, a, (72, 96)))[None]
    with torch.no_grad():
        dec = strategy.decode(model(x))
    inv = invert_affine(a)
    np.testing.assert_allclose(pred["affine"], a)
    np.testing.assert_allclose(pred["keypoints"], apply_affine(inv, dec.xy[0].numpy()), atol=1e-4)
    np.testing.assert_allclose(apply_affine(a, pred["keypoints"]), pred["crop_keypoints"], atol=1e-6)
    assert pred["keypoints"].shape == (17, 2) and pred["image_hw"] == (120, 200)
    if name == "regression":
        assert pred["scores"] is None and pred["anchors"] is None and pred["conf_map"] is None
    else:
        np.testing.assert_allclose(pred["scores"], dec.score[0].numpy(), atol=1e-6)
        np.testing.assert_allclose(pred["anchors"], apply_affine(inv, dec.anchor[0].numpy()), atol=1e-4)
        assert pred["conf_map"].shape == (17, 24, 18) and 0 <= pred["conf_map"].min() <= pred["conf_map"].max() <= 1
    # A path and a grayscale array give the same prediction as the RGB array they stand for.
    again = predict_image(model, strategy, images["rgb"], (72, 96))
    np.testing.assert_allclose(again["keypoints"], pred["keypoints"])
    gray = img.mean(axis=2).astype(np.uint8)
    np.testing.assert_allclose(predict_image(model, strategy, gray, (72, 96))["keypoints"],
                               predict_image(model, strategy, np.repeat(gray[..., None], 3, 2), (72, 96))["keypoints"])


@pytest.mark.parametrize("size", [72, (72,), (72, 96, 3), (72.0, 96), ("72", "96"), (0, 96), None])
def test_predict_image_refuses_an_input_size_that_is_not_w_h(runs, size):
    """``input_size=72`` raised ``TypeError: 'int' object is not subscriptable`` from inside; (72.0, 96) was
    truncated, (72, 96, 3) read as (72, 96)."""
    cfg, ckpt = resolve_run(runs["adaanchor"])
    model, strategy, _ = load_for_eval(cfg, ckpt)
    with pytest.raises(TypeError, match=r"^input_size: expected \(W, H\) of the model input in pixels, two integers "
                                        r"\(the run's data.input_size\), got "):
        predict_image(model, strategy, np.zeros((20, 30, 3), np.uint8), size)
    assert predict_image(model, strategy, np.zeros((20, 30, 3), np.uint8), cfg.data.input_size)["input_size"] == (72, 96)


def test_grid_to_image_puts_cell_centres_where_they_belong():
    a = fit_image_affine((120, 200), (72, 96))
    grid = np.zeros((24, 18), np.float32)
    grid[10, 7] = 1.0
    full = grid_to_image(grid, a, 4, (120, 200))
    assert full.shape == (120, 200)
    centre = apply_affine(invert_affine(a), np.array([4 * 7 + 1.5, 4 * 10 + 1.5]))
    y, x = np.unravel_index(full.argmax(), full.shape)
    assert abs(x - centre[0]) <= 1 and abs(y - centre[1]) <= 1


def test_the_map_panel_reaches_as_far_as_the_keypoint_panel():
    """The map was drawn on the image alone: for a 1-pixel-tall image, or anchors in a letterboxed crop beyond the
    image, the panel beside the keypoints showed a line or nothing where they were. It now covers the keypoint
    panel's region, as far as the model's input reached, and is transparent (NaN) beyond it."""
    from adaanchor.anchors_draw import grid_to_view

    a = fit_image_affine((40, 60), (72, 96))  # a wide image letterboxed into a tall input: crop rows above and below
    grid = np.random.default_rng(0).random((24, 18)).astype(np.float32)
    # The image's own region at one raster pixel per image pixel is grid_to_image's raster.
    raster, extent = grid_to_view(grid, a, 4, (-0.5, 59.5, 39.5, -0.5), longest=60)
    np.testing.assert_array_equal(raster, grid_to_image(grid, a, 4, (40, 60)))
    assert extent == (-0.5, 59.5, 39.5, -0.5)
    raster, extent = grid_to_view(grid, a, 4, (-30.0, 90.0, 100.0, -60.0), longest=160)  # 1 raster px per px
    x0, y0 = extent[0], extent[3]
    rows, cols = raster.shape
    for r in range(0, rows, 7):
        for c in range(0, cols, 7):
            x, y = apply_affine(a, np.array([[x0 + c + 0.5, y0 + r + 0.5]]))[0]  # input pixels
            inside = -0.5 <= x <= 71.5 and -0.5 <= y <= 95.5
            assert np.isnan(raster[r, c]) != inside, (r, c, x, y)
    above_image = raster[: int(-0.5 - y0) - 1]  # raster rows above the image's top edge
    assert np.isfinite(above_image).any()  # the crop's letterbox above the image is drawn


def test_both_panels_show_the_same_region(tmp_path, monkeypatch):
    """A keypoint 40 px above a 40x60 image: the keypoint panel's view reaches it, and the map panel's now does too
    (it stopped at the image's edges)."""
    import adaanchor.anchors_draw as draw

    limits = {}

    def recorded(name, real):
        def panel(fig, ax, *args):
            real(fig, ax, *args)
            limits[name] = (ax.get_xlim(), ax.get_ylim())
        return panel

    monkeypatch.setattr(draw, "_keypoint_panel", recorded("keypoints", draw._keypoint_panel))
    monkeypatch.setattr(draw, "_map_panel", recorded("map", draw._map_panel))
    a = fit_image_affine((40, 60), (72, 96))
    pred = {"method": "heatmap", "keypoints": np.array([[10.0, -40.0], [20.0, 30.0]]), "scores": np.array([0.9, 0.5]),
            "anchors": None, "crop_anchors": None, "affine": a, "stride": 4,
            "conf_map": np.random.default_rng(0).random((2, 24, 18)).astype(np.float32)}
    draw.render_prediction(np.zeros((40, 60, 3), np.uint8), pred, tmp_path / "p.png", keypoint_names=["a", "b"])
    assert limits["map"] == limits["keypoints"] and limits["map"][1][1] < -40


@pytest.mark.parametrize("name", ["adaanchor", "heatmap", "regression"])
def test_pngs_are_written(runs, images, tmp_path, name):
    paths = visualize_command(str(runs[name]), [str(p) for p in images.values()], str(tmp_path / "viz"), [], None, None)
    assert [p.name for p in paths] == [f"wide_{name}.png", f"tall_gray_{name}.png", f"alpha_{name}.png"]
    for p in paths:
        assert p.is_file() and p.stat().st_size > 5000
        assert Image.open(p).format == "PNG"


def test_selected_keypoints_and_duplicate_names(runs, images, tmp_path):
    other = tmp_path / "b"
    other.mkdir()
    dup = other / images["rgb"].name
    dup.write_bytes(images["rgb"].read_bytes())
    paths = visualize_command(str(runs["adaanchor"]), [str(images["rgb"]), str(dup)], str(tmp_path / "v"), [], None,
                              ["left_wrist", "right_wrist"])
    assert len({p.name for p in paths}) == 2 and all(p.stat().st_size > 5000 for p in paths)


def test_one_image_and_one_keypoint_given_alone(runs, images, tmp_path):
    """A path or a keypoint name not in a list: iterated, "a.png" was the files "a", ".", "p", ... and "nose"
    the keypoints "n", "o", ..."""
    paths = visualize_command(str(runs["adaanchor"]), images["rgb"], str(tmp_path / "v"), keypoints="nose")
    assert len(paths) == 1 and paths[0].stat().st_size > 5000


def test_unknown_keypoint_lists_valid_names(runs, images, tmp_path):
    with pytest.raises(AdaAnchorError, match="^--keypoints: unknown keypoint 'left_wirst'") as e:
        visualize_command(str(runs["adaanchor"]), [str(images["rgb"])], str(tmp_path), [], None, ["left_wirst"])
    msg = str(e.value)
    assert "Did you mean 'left_wrist'" in msg and "nose" in msg and "right_ankle" in msg
    assert select_keypoints(None, ("a", "b")) == [0, 1] and select_keypoints(["b"], ("a", "b")) == [1]


def test_missing_or_corrupt_image_is_one_line(runs, tmp_path):
    with pytest.raises(AdaAnchorError, match="image file not found"):
        visualize_command(str(runs["adaanchor"]), [str(tmp_path / "nope.png")], str(tmp_path / "o"), [], None, None)
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    with pytest.raises(AdaAnchorError, match="cannot decode image") as e:
        visualize_command(str(runs["adaanchor"]), [str(bad)], str(tmp_path / "o"), [], None, None)
    assert len(str(e.value).splitlines()) == 1
    with pytest.raises(AdaAnchorError, match="checkpoint not found"):
        visualize_command(str(runs["adaanchor"]), [str(bad)], str(tmp_path / "o"), [], str(tmp_path / "x.pt"), None)


def test_viz_skips_unreadable_inputs_counts_them_and_exits_3(runs, images, tmp_path, capsys):
    from adaanchor.cli import main

    bad, video = tmp_path / "bad.png", tmp_path / "bad.mp4"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    video.write_bytes(b"\x00" * 100)
    rc = main(["viz", str(runs["adaanchor"]), str(bad), str(images["rgb"]), str(video), "--out", str(tmp_path / "o")])
    out = capsys.readouterr().out
    assert rc == 3  # as predict: the readable input was drawn
    assert [p.name for p in (tmp_path / "o").iterdir()] == [f"{images['rgb'].stem}_adaanchor.png"]
    assert "skipped 2 input(s):" in out and f"  {bad}: " in out and f"  {video}: cannot open the video" in out
    # Nothing readable at all: an error, exit 2.
    assert main(["viz", str(runs["adaanchor"]), str(bad), "--out", str(tmp_path / "p")]) == 2
    assert "no input could be read" in capsys.readouterr().err


def test_frame_options_out_of_range_are_refused(runs, images, tmp_path):
    """Not clamped: every=0 used to draw every frame and max_frames=-3 none, both without a word; not truncated:
    every=2.5 drew every 2nd frame, and "a" raised a bare ValueError from int()."""
    for every, most in ((0, 100), (1, -3), (1, 0), (2.5, 100), ("a", 100), (True, 100), (1, 7.0), (1, "10")):
        with pytest.raises(AdaAnchorError, match="every must be an integer >= 1 and max_frames an integer >= 1 or None"):
            visualize_command(str(runs["adaanchor"]), [str(images["rgb"])], str(tmp_path / "o"), [], None, None,
                              every=every, max_frames=most)
    assert not (tmp_path / "o").exists()


def test_devices_are_read_as_the_predictor_reads_them(runs, images, tmp_path):
    """``device`` went to torch as it was: "auto" (the predictor's default) raised torch's list of twenty device
    types, "cuda" without CUDA "Found no NVIDIA driver" from inside torch, "mps" a RuntimeError from the model."""
    args = (str(runs["adaanchor"]), [str(images["rgb"])])
    assert len(visualize_command(*args, str(tmp_path / "a"), device="auto")) == 1
    assert len(visualize_command(*args, str(tmp_path / "b"), device=torch.device("cpu"))) == 1
    for bad in ("mps", "gpu", None):
        with pytest.raises(AdaAnchorError, match="expected auto, cpu, cuda or cuda:N"):
            visualize_command(*args, str(tmp_path / "o"), device=bad)
    if not torch.cuda.is_available():
        with pytest.raises(AdaAnchorError, match="CUDA is not available on this machine"):
            visualize_command(*args, str(tmp_path / "o"), device="cuda")
    assert not (tmp_path / "o").exists()


def test_split_image_args(tmp_path):
    odd = tmp_path / "a=b.png"
    odd.write_bytes(b"x")
    imgs, ckpt, over = split_image_args(["x.jpg", str(odd), "ckpt=/c.pt", "data.input_size=[72,96]", "y.png"])
    assert imgs == ["x.jpg", str(odd), "y.png"] and ckpt == "/c.pt" and over == ["data.input_size=[72,96]"]
    # A missing path or a URL with "=" is a source, not an override (it was dropped: "no input given").
    missing, url = str(tmp_path / "c=d.png"), "http://host/v.mp4?t=1"
    imgs, _, over = split_image_args([missing, url, "eval.max_images=2"])
    assert imgs == [missing, url] and over == ["eval.max_images=2"]


def _video(path: Path, frames: int) -> Path:
    from fractions import Fraction

    import av

    with av.open(str(path), mode="w") as c:
        s = c.add_stream("mpeg4", rate=Fraction(5))
        s.width, s.height, s.pix_fmt = 80, 60, "yuv420p"
        for i in range(frames):
            img = np.full((60, 80, 3), (i * 20) % 256, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def test_folders_globs_and_videos(runs, images, tmp_path):
    video = _video(tmp_path / "clip.mp4", 7)
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "a.png").write_bytes(images["gray"].read_bytes())
    (folder / "b.jpg").write_bytes(images["rgb"].read_bytes())
    paths = visualize_command(str(runs["adaanchor"]), [str(folder), str(video)], str(tmp_path / "o"), [], None, None,
                              every=2, max_frames=3)
    assert [p.name for p in paths] == ["a_adaanchor.png", "b_adaanchor.png", "clip_f000000_adaanchor.png",
                                       "clip_f000002_adaanchor.png", "clip_f000004_adaanchor.png"]
    assert all(p.stat().st_size > 5000 for p in paths)
    globbed = visualize_command(str(runs["heatmap"]), [str(folder / "*.png")], str(tmp_path / "g"), [], None, None)
    assert [p.name for p in globbed] == ["a_heatmap.png"]
    with pytest.raises(AdaAnchorError, match="pattern matches no file"):
        visualize_command(str(runs["heatmap"]), [str(folder / "*.tif")], str(tmp_path / "g"), [], None, None)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(AdaAnchorError, match="bad.mp4: cannot open the video"):
        visualize_command(str(runs["heatmap"]), [str(bad)], str(tmp_path / "g"), [], None, None)


@pytest.mark.parametrize("method,cells", [("localanchor", 2), ("alignanchor", 2), ("adaanchor", 2), ("heatmap", 0)])
def test_every_anchor_strategy_draws_its_anchor_cells(method, cells):
    """The anchor cells (Fig. 4's squares) are drawn for every strategy that predicts from an anchor, presets
    included, and not for the heatmap (whose decoding also returns the peak cell)."""
    import matplotlib.pyplot as plt

    from adaanchor.anchors_draw import _keypoint_panel

    img = np.zeros((40, 60, 3), np.uint8)
    a = fit_image_affine((40, 60), (72, 96))
    crop_an = np.array([[9.5, 13.5], [21.5, 33.5], [1.5, 1.5]])
    pred = {"method": method, "keypoints": np.array([[10.0, 12.0], [20.0, 30.0], [5.0, 5.0]]),
            "scores": np.array([0.9, 0.5, 0.1]), "anchors": apply_affine(invert_affine(a), crop_an),
            "crop_anchors": crop_an, "affine": a, "stride": 4}
    fig, ax = plt.subplots()
    try:
        _keypoint_panel(fig, ax, img, pred, (), [0, 1])
        assert len(ax.patches) == cells
        assert ("anchor cell" in ax.get_title()) == bool(cells)
    finally:
        plt.close(fig)


def test_a_map_of_another_channel_count_is_drawn_whole(tmp_path):
    """A centre run's confidence map has one channel (person centres), not one per keypoint type: viz indexed it
    by keypoint and failed with an IndexError on every centre run."""
    from adaanchor.anchors_draw import render_prediction

    img = np.zeros((40, 60, 3), np.uint8)
    a = fit_image_affine((40, 60), (72, 96))
    pred = {"method": "adaanchor", "keypoints": np.array([[10.0, 12.0], [20.0, 30.0], [5.0, 5.0]]),
            "scores": np.array([0.9, 0.5, 0.1]), "anchors": None, "crop_anchors": None, "affine": a, "stride": 4,
            "conf_map": np.random.default_rng(0).random((1, 24, 18)).astype(np.float32)}
    path = render_prediction(img, pred, tmp_path / "c.png", keypoint_names=["a", "b", "c"])
    assert path.stat().st_size > 1000


@pytest.mark.parametrize("task", ["bottomup", "centre"])
def test_a_multi_person_run_is_drawn_unlinked_with_a_note(tmp_path, monkeypatch, task):
    """The most confident cell of each type may each be another person's: viz linked them with the skeleton as
    one pose, and titled a centre run's one map 'max over 17 keypoints'. It now draws them unlinked and says
    where the grouped poses are."""
    import matplotlib.pyplot as plt
    from PIL import Image

    import adaanchor.anchors_draw as draw
    from adaanchor.config import build_config, save_config
    from adaanchor.engine.run import build_system

    cfg = build_config(None, [f"task={task}", "data.format=crowd", "model.tiny_width=8", "model.weights=null",
                              "data.input_size=[64,64]"])
    cfg_path = tmp_path / "run.yaml"
    save_config(cfg, cfg_path)
    model, _ = build_system(cfg, load_pretrained=False)
    torch.save({"model": model.state_dict()}, tmp_path / "w.pt")
    Image.new("RGB", (80, 60), (90, 120, 40)).save(tmp_path / "people.png")
    titles, links = [], []
    real_map, real_kp = draw._map_panel, draw._keypoint_panel

    def map_panel(fig, ax, *args):
        real_map(fig, ax, *args)
        titles.append(ax.get_title())

    def keypoint_panel(fig, ax, img, pred, skeleton, sel):
        links.append(tuple(skeleton))
        real_kp(fig, ax, img, pred, skeleton, sel)

    monkeypatch.setattr(draw, "_map_panel", map_panel)
    monkeypatch.setattr(draw, "_keypoint_panel", keypoint_panel)
    import adaanchor.anchors_viz as viz

    sizes, real_predict = [], viz.predict_image

    def predict_image(*args, **kwargs):
        out = real_predict(*args, **kwargs)
        sizes.append(out["input_size"])
        return out

    monkeypatch.setattr(viz, "predict_image", predict_image)
    notes: list[str] = []
    written = visualize_command(str(cfg_path), [str(tmp_path / "people.png")], str(tmp_path / "out"), [],
                                str(tmp_path / "w.pt"), None, notes=notes)
    plt.close("all")
    assert len(written) == 1 and links == [()]
    # Prepared as predict prepares it: the short side (60) to the input's (64), aspect kept (85.3 wide), padded
    # to the run's input multiple; it was fitted into 64x64 with borders.
    from adaanchor.data.bottomup import eval_affine
    from adaanchor.engine.run import image_multiple

    multiple = image_multiple(cfg, 4)
    assert sizes == [eval_affine((60, 80), 64, multiple)[1]] and sizes[0][0] >= 86 and sizes[0][0] % multiple == 0
    assert len(notes) == 1 and f"multi-person run (task={task})" in notes[0] and "adaanchor predict" in notes[0]
    assert titles == (["person-centre confidence map"] if task == "centre"
                      else ["confidence map, max over 17 keypoints"])


@pytest.mark.parametrize("task,strategy,label", [("bottomup", "heatmap", "heatmap"), ("centre", "heatmap", "heatmap"),
                                                 ("centre", "adaanchor", "sigmoid(conf)")])
def test_the_map_is_named_by_what_it_is(tmp_path, task, strategy, label):
    """A multi-person heatmap run's method is heatmap_ae / heatmap_centre: its heatmap was labelled sigmoid(conf)."""
    import matplotlib.pyplot as plt

    import adaanchor.anchors_draw as draw
    from adaanchor.anchors_viz import predict_image
    from adaanchor.config import build_config
    from adaanchor.engine.run import build_system

    cfg = build_config(None, [f"task={task}", f"strategy.name={strategy}", "data.format=crowd", "model.tiny_width=8",
                              "model.weights=null", "data.input_size=[64,64]"])
    model, strat = build_system(cfg, load_pretrained=False)
    pred = predict_image(model.eval(), strat, np.zeros((60, 80, 3), np.uint8), (64, 64), multiple=8)
    assert pred["method"] == f"{strategy}_{'ae' if task == 'bottomup' else 'centre'}" and pred["map_label"] == label
    fig, ax = plt.subplots()
    draw._map_panel(fig, ax, np.zeros((60, 80, 3), np.uint8), pred, [], [0, 1])
    assert fig.axes[-1].get_ylabel() == label
    plt.close(fig)


def test_a_box_trained_run_gets_a_note_on_the_whole_image(runs, images, tmp_path):
    notes: list[str] = []
    visualize_command(str(runs["adaanchor"]), [images["rgb"]], str(tmp_path / "a"), notes=notes)
    assert not any("data.crop=box" in n for n in notes)
    visualize_command(str(runs["adaanchor"]), [images["rgb"]], str(tmp_path / "b"), overrides=["data.crop=box"],
                      notes=notes)
    assert sum("data.crop=box" in n for n in notes) == 1


def test_viz_draws_the_flip_test_as_predict_writes_it(runs, images, tmp_path, monkeypatch):
    """With eval.flip_test=true viz drew the plain pass without a word, up to 11.6 px from predict's keypoints."""
    from adaanchor import anchors_viz
    from adaanchor.predict import Predictor

    drawn: list[dict] = []
    monkeypatch.setattr(anchors_viz, "render_prediction", lambda img, pred, target, *a, **k: drawn.append(pred) or target)
    run = str(runs["adaanchor"])
    for i, flip in enumerate(("false", "true")):
        notes: list[str] = []
        visualize_command(run, [images["rgb"]], str(tmp_path / str(i)), overrides=[f"eval.flip_test={flip}"],
                          notes=notes)
        assert any("eval.flip_test is true" in n for n in notes) == (flip == "true")
        want = Predictor.from_run(run, device="cpu", overrides=f"eval.flip_test={flip}").predict(images["rgb"])
        np.testing.assert_allclose(drawn[-1]["keypoints"], want.keypoints[0], atol=1e-3)
        np.testing.assert_allclose(drawn[-1]["scores"], want.scores[0], atol=1e-5)
    assert np.abs(drawn[0]["keypoints"] - drawn[1]["keypoints"]).max() > 1e-2  # the two differ: the test can fail
    np.testing.assert_array_equal(drawn[0]["anchors"], drawn[1]["anchors"])  # the unmirrored pass's, as predict's
