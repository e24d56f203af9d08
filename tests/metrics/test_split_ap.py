"""OKS AP when one COCO-format file is split into train and val (``data.split``): the ground truth is the
evaluated side only. With the whole file, the people of the training side counted as missed and perfect
predictions scored about the val share of AP."""

from __future__ import annotations

import json

import pytest
import torch

from adaanchor.config import build_config
from adaanchor.data.build import build_dataset
from adaanchor.engine import evaluate as ev
from adaanchor.engine.run import build_system
from adaanchor.metrics.results import gt_of_images


@pytest.mark.parametrize("split", [None, "random"])
def test_perfect_predictions_score_ap_1_on_a_split_file(tiny_bench, perfect_predictions, split):
    over = ["data.format=coco", f"data.root={tiny_bench}", "data.spec=coco", "model.tiny_width=8", "eval.batch_size=12"]
    if split:
        over += ["data.train=val.json", "data.val=val.json", f"data.split.by={split}", "data.split.val_fraction=0.5"]
    cfg = build_config(None, over)
    model, strategy = build_system(cfg)
    ds = build_dataset(cfg.data, "val")
    m, preds = ev.evaluate_dataset(model, strategy, cfg, ds)
    n_images = len(json.loads((tiny_bench / "val.json").read_text())["images"])
    assert len(set(preds["image_id"])) == (n_images // 2 if split else n_images)
    assert m["ap"] == pytest.approx(1.0)


def test_gt_of_images_keeps_those_images_and_their_people():
    data = {"images": [{"id": 1}, {"id": 2}, {"id": 3}], "categories": [{"id": 1}],
            "annotations": [{"id": 10, "image_id": 1}, {"id": 11, "image_id": 2}, {"id": 12, "image_id": 2}]}
    out = gt_of_images(data, {2, 3})
    assert [im["id"] for im in out["images"]] == [2, 3] and [a["id"] for a in out["annotations"]] == [11, 12]
    assert len(data["images"]) == 3  # the input is left as it was


def test_a_training_split_is_scored_against_its_own_annotations(tiny_bench, perfect_predictions):
    """Any dataset given to evaluate_dataset was scored against the val file: the training split's perfect
    predictions scored AP near 0 (the two files share image ids, not people)."""
    cfg = build_config(None, ["data.format=coco", f"data.root={tiny_bench}", "data.spec=coco", "model.tiny_width=8",
                              "eval.batch_size=12"])
    model, strategy = build_system(cfg)
    m, preds = ev.evaluate_dataset(model, strategy, cfg, build_dataset(cfg.data, "train", train=False))
    assert len(preds["image_id"]) == len(json.loads((tiny_bench / "train.json").read_text())["annotations"])
    assert m["ap"] == pytest.approx(1.0)


def test_evaluate_dataset_names_an_empty_dataset_and_a_missing_cuda(tiny_bench):
    from torch.utils.data import Subset

    from adaanchor.errors import AdaAnchorError

    cfg = build_config(None, ["data.format=coco", f"data.root={tiny_bench}", "data.spec=coco", "model.tiny_width=8"])
    model, strategy = build_system(cfg)
    ds = build_dataset(cfg.data, "val", train=False)
    with pytest.raises(AdaAnchorError, match="the dataset holds no instance to evaluate"):  # was a numpy ValueError
        ev.evaluate_dataset(model, strategy, cfg, Subset(ds, []))
    if not torch.cuda.is_available():  # was torch's AssertionError
        with pytest.raises(AdaAnchorError, match="CUDA is not available on this machine"):
            ev.evaluate_dataset(model, strategy, cfg, ds, "cuda")


def test_a_part_of_a_split_has_no_ap(tiny_bench, perfect_predictions):
    """A Subset of the training split was scored against the whole val file (AP near 0, or an image id refused); a
    part of a split is scored as eval.max_images is: without AP, its other errors kept."""
    from torch.utils.data import Subset

    cfg = build_config(None, ["data.format=coco", f"data.root={tiny_bench}", "data.spec=coco", "model.tiny_width=8"])
    model, strategy = build_system(cfg)
    m, _ = ev.evaluate_dataset(model, strategy, cfg, Subset(build_dataset(cfg.data, "train", train=False), range(5)))
    assert m["ap"] is None and m["vis_error"] == pytest.approx(0.0)
