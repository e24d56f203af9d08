"""Instance slots' names in the CSV and NWB files: one width from ten slots on, so that sorting keeps their order."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from adaanchor.predict.result import Prediction
from adaanchor.predict.sources import Frame
from adaanchor.predict.write_common import individual_names
from adaanchor.predict.writers import DlcCsvWriter, NwbWriter


def test_names_sort_in_slot_order():
    assert individual_names(2) == ["individual1", "individual2"]  # under ten: as before
    names = individual_names(12)
    assert names[0] == "individual01" and names[-1] == "individual12" and sorted(names) == names
    assert sorted(individual_names(100)) == individual_names(100)


def _frame_of(n: int) -> tuple[Frame, Prediction]:
    """One image with ``n`` poses of 2 keypoints, pose i at (i, i) and (i, i + 1)."""
    kp = np.array([[[i, i], [i, i + 1]] for i in range(n)], float)
    pred = Prediction(kp, np.full((n, 2), 0.5, np.float32), None, np.tile([0, 0, 64, 48.0], (n, 1)), np.ones(n),
                      np.zeros((n, 2, 2)), (48, 64))
    return Frame(np.zeros((48, 64, 3), np.uint8), None, 0, None, "image"), pred


def test_nwb_read_back_by_sleap_io_keeps_twelve_instances_in_order(tmp_path):
    """sleap-io's load_nwb returns a frame's instances sorted by their PoseEstimation's name: with individual1 ...
    individual12, instance 1 of the file was slot 9 (individual10), 116 px from the slot the CSV and JSON put there."""
    import sleap_io as sio

    frame, pred = _frame_of(12)
    img = tmp_path / "a.png"
    img.write_bytes(b"")  # named only: the writers record the path
    frame = Frame(frame.image, img, 0, None, "image")
    nwb = NwbWriter(tmp_path / "p.nwb", ("a", "b"), ((0, 1),), max_instances=12)
    csv = DlcCsvWriter(tmp_path / "p.csv", ("a", "b"), "s", max_instances=12)
    for w in (nwb, csv):
        w.write(frame, pred, 0)
        w.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = sio.load_nwb(str(tmp_path / "p.nwb"))
    got = [inst.numpy()[0] for inst in labels.labeled_frames[0].instances]
    np.testing.assert_allclose(got, [[i, i] for i in range(12)])
    table = pd.read_csv(tmp_path / "p.csv", header=[0, 1, 2, 3], index_col=0)
    assert list(table.columns.get_level_values(1).unique()) == individual_names(12)
