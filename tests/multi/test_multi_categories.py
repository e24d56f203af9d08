"""A multi-person evaluation on a file whose categories are not the single id 1: its poses are scored under the
file's category, or class-agnostic over several (metrics.checked.scoring_categories)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from adaanchor.config import build_config
from adaanchor.data.build import build_image_dataset
from adaanchor.engine.multi import evaluate_multi
from adaanchor.strategies.grouping import Poses


def _recategorised(crowd: Path, tmp_path: Path, ids: list[int]) -> Path:
    root = tmp_path / "crowd"
    root.mkdir()
    (root / "images").symlink_to(crowd / "images")
    for name in ("train.json", "val.json"):
        data = json.loads((crowd / name).read_text())
        data["categories"] = [{**data["categories"][0], "id": c, "name": f"kind{c}"} for c in ids]
        for i, ann in enumerate(data["annotations"]):
            ann["category_id"] = ids[i % len(ids)]
        (root / name).write_text(json.dumps(data))
    return root


class _GroundTruthPoses:
    """Decodes each image's people as they are labelled (given in input pixels)."""

    options = {"gamma": 0.1}

    def __init__(self, people: list[np.ndarray]):
        self.people = iter(people)

    def decode_poses(self, outputs, gamma):
        kp = next(self.people)
        return [Poses(kp, np.ones(len(kp)), np.zeros(len(kp)))]


def _perfect_evaluation(cfg, ds) -> tuple[dict, list]:
    """``evaluate_multi`` of ``ds`` with every person decoded where it is labelled (AP 1 when scored right)."""
    people = []
    for i, group in enumerate(ds.images):  # each person where it is labelled, in the input's pixels
        a = np.asarray(ds[i]["meta"]["affine"], np.float64)  # (2, 3): image -> input
        xy = np.stack([inst.keypoints for inst in group]) @ a[:, :2].T + a[:, 2]
        seen = np.stack([inst.visibility for inst in group]) > 0
        people.append(np.concatenate([xy, seen[..., None].astype(np.float64)], -1))
    model = torch.nn.Identity()
    model.forward = lambda x: {"x": x}  # type: ignore[method-assign]
    return evaluate_multi(model, _GroundTruthPoses(people), cfg, ds)


@pytest.mark.parametrize("ids", [[2], [2, 5]], ids=["one-category-2", "two-categories"])
def test_multi_person_poses_score_under_the_files_categories(crowd, tmp_path, ids):
    """Every pose was labelled category 1: the evaluation stopped ('category_id 1 is not in ...val.json')."""
    root = _recategorised(crowd, tmp_path, ids)
    cfg = build_config("bottomup_crowd", ["data.format=coco", f"data.root={root}"])
    ds = build_image_dataset(cfg.data, "val", train=False)
    m, res = _perfect_evaluation(cfg, ds)
    assert {r["category_id"] for r in res} == {ids[0]}
    assert m["poses"] == sum(len(g) for g in ds.images) and m["ap"] == pytest.approx(1.0)


def test_a_multi_person_training_split_is_scored_against_its_own_annotations(crowd):
    cfg = build_config("bottomup_crowd", ["data.format=coco", f"data.root={crowd}"])
    m, _ = _perfect_evaluation(cfg, build_image_dataset(cfg.data, "train", train=False))
    assert m["ap"] == pytest.approx(1.0)  # scored against val.json it was far lower, or refused an image id
