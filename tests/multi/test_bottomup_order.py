"""``bottomup.order``, the joint order of the grouping, is null or every keypoint index once: a type left out
was never grouped (dropped from every pose), a repeated type made a second pose of each of its detections, and
an index out of range or a bare number was a traceback at the first evaluation, after the training."""

from __future__ import annotations

import numpy as np
import pytest

from adaanchor.cli import main
from adaanchor.errors import AdaAnchorError
from adaanchor.strategies.tags import build_bottomup

STRATEGY = {"name": "heatmap"}


@pytest.mark.parametrize("order", [[0, 1, 2, 99], [0, 0, 1, 2], [1, 2], 5, [0, 1, 2, 3.0], [True, 0, 2, 3]])
def test_an_order_that_is_not_every_type_once_is_refused(order):
    with pytest.raises(AdaAnchorError, match=r"'bottomup.order'.*every keypoint index 0\.\.3 once"):
        build_bottomup(STRATEGY, {"order": order}, 4, 4, (32, 32))


def test_a_permutation_groups_every_type():
    s = build_bottomup(STRATEGY, {"order": [3, 1, 0, 2]}, 4, 4, (32, 32))
    xy = np.arange(4 * 2 * 2, dtype=float).reshape(4, 2, 2)
    valid = np.ones((4, 2), bool)
    valid[:, 1] = False
    tag = np.zeros((4, 2))
    from adaanchor.strategies.grouping import group_poses
    poses = group_poses(xy, np.full((4, 2), 0.5), valid, tag, order=s.options["order"])
    assert len(poses.score) == 1 and (poses.keypoints[0, :, 2] == 0.5).all()


def test_the_command_line_refuses_it_in_one_line(crowd, tmp_path, capsys):
    rc = main(["train", "bottomup_crowd", "data.format=coco", f"data.root={crowd}", "data.input_size=[64,48]",
               "model.tiny_width=8", "train.max_steps=1", "train.progress=false", f"out_dir={tmp_path / 'r'}",
               "bottomup.order=[0,1,99]"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and err[-1].startswith("error: config key 'bottomup.order'") and "Traceback" not in "".join(err)
    assert not (tmp_path / "r" / "checkpoints" / "last.pt").exists()


@pytest.mark.parametrize("task", ["bottomup", "centre"])
def test_regression_with_a_multi_person_task_is_a_config_error(task):
    """strategy.name=regression with task=bottomup or centre was a ValueError traceback from the wrapper's
    constructor (exit 1)."""
    from adaanchor.errors import AdaAnchorError
    from adaanchor.strategies.centre import build_centre
    from adaanchor.strategies.tags import build_bottomup

    build = build_bottomup if task == "bottomup" else build_centre
    with pytest.raises(AdaAnchorError, match=r"^config key 'strategy.name': regression regresses coordinates and has "
                                             rf"no dense confidence map; task={task} "):
        build({"name": "regression"}, None, 17, 4, (64, 64))
