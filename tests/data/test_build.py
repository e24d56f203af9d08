"""Dataset building from the config: identity-disjoint splits, the occlusion transform, data.csv evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from omegaconf import OmegaConf

from adaanchor.config import build_config
from adaanchor.data.build import build_dataset, read_split
from adaanchor.data.splits import identity_of, split_instances
from adaanchor.engine.evaluate import evaluate_predictions
from adaanchor.errors import AdaAnchorError
from root_helpers import write_face_csv

YTFACES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ytfaces-68"


def _face_overrides(folder: Path) -> list[str]:
    return [f"data.root={folder}", "data.format=csv", "data.train=faces.csv", "data.val=faces.csv", "data.images=img",
            "data.spec=face68", "data.crop=box", "data.input_size=[48,48]", "data.split.by=identity"]


def test_identity_of():
    assert identity_of("/x/Luis_Fonsi_21.jpg") == "Luis_Fonsi"
    assert identity_of("Abdel_Aziz_Al-Hakim_00.jpg") == "Abdel_Aziz_Al-Hakim"


def test_identity_split_is_disjoint_and_complete(tmp_path):
    people = {f"Person_{chr(65 + i)}": 1 + i % 4 for i in range(12)}
    write_face_csv(tmp_path, people)
    cfg = build_config(None, _face_overrides(tmp_path))
    tr, va = read_split(cfg.data, "train").instances, read_split(cfg.data, "val").instances
    ids_tr, ids_va = {identity_of(i.image_path) for i in tr}, {identity_of(i.image_path) for i in va}
    assert not ids_tr & ids_va
    assert ids_tr | ids_va == set(people)
    assert len(tr) + len(va) == sum(people.values())
    assert len(ids_va) == round(0.2 * len(people))
    # the same seed gives the same split; another seed a different one
    again = read_split(cfg.data, "val").instances
    assert [i.image_path for i in again] == [i.image_path for i in va]
    other = split_instances(tr + va, "val", "identity", 0.2, seed=1)
    assert {identity_of(i.image_path) for i in other} != ids_va


def test_dev_split_holds_out_training_identities_and_never_reads_the_evaluation_ones(tmp_path):
    people = {f"Person_{chr(65 + i)}": 1 + i % 3 for i in range(20)}
    write_face_csv(tmp_path, people)
    ids = lambda insts: {identity_of(i.image_path) for i in insts}  # noqa: E731
    cfg = build_config(None, _face_overrides(tmp_path))
    ev_tr, ev_va = ids(read_split(cfg.data, "train").instances), ids(read_split(cfg.data, "val").instances)
    dev = build_config(None, [*_face_overrides(tmp_path), "data.split.dev_fraction=0.25"])
    dv_tr, dv_va = ids(read_split(dev.data, "train").instances), ids(read_split(dev.data, "val").instances)
    assert not (dv_tr | dv_va) & ev_va  # the evaluation identities are never read
    assert dv_tr | dv_va == ev_tr and not dv_tr & dv_va  # the training identities, split in two
    assert len(dv_va) == round(0.25 * len(ev_tr))
    assert dv_va == ids(read_split(dev.data, "val").instances)  # deterministic
    with pytest.raises(AdaAnchorError, match="dev_fraction"):
        build_config(None, [*_face_overrides(tmp_path), "data.split.dev_fraction=1"])
    with pytest.raises(AdaAnchorError, match="needs data.split.by"):  # refused by the config, before any data is read
        build_config(None, [*_face_overrides(tmp_path), "data.split.by=null", "data.split.dev_fraction=0.2"])
    unsplit = OmegaConf.to_container(build_config(None, [*_face_overrides(tmp_path), "data.split.by=null"]))
    unsplit["data"]["split"]["dev_fraction"] = 0.2  # a resolved config read without build_config: refused again
    with pytest.raises(AdaAnchorError, match="needs data.split.by"):
        read_split(unsplit["data"], "val")


@pytest.mark.skipif(not YTFACES.is_dir(), reason=f"real samples not available: {YTFACES} is absent")
def test_ytfaces_split_has_no_identity_on_both_sides():
    cfg = build_config("faces/occluded_ytfaces68",
                       [f"data.root={YTFACES}"])
    tr, va = read_split(cfg.data, "train").instances, read_split(cfg.data, "val").instances
    assert not {identity_of(i.image_path) for i in tr} & {identity_of(i.image_path) for i in va}
    assert len(tr) + len(va) == 3462


def test_seeded_occlusion_on_val_and_data_csv(tmp_path):
    write_face_csv(tmp_path, {f"P_{i}": 2 for i in range(10)})
    over = [*_face_overrides(tmp_path), "data.occlusion.val=true", "data.occlusion.coverage=0.4"]
    cfg = build_config(None, over)
    a, b = build_dataset(cfg.data, "val"), build_dataset(cfg.data, "val")
    # evaluation occlusion is seeded: identical twice, and it hides some landmarks (v=1)
    assert all((a[i]["image"] == b[i]["image"]).all() for i in range(len(a)))
    assert sum(int((a[i]["visibility"] == 1).sum()) for i in range(len(a))) > 0
    clean = build_dataset(build_config(None, _face_overrides(tmp_path)).data, "val")
    assert sum(int((clean[i]["visibility"] == 1).sum()) for i in range(len(clean))) == 0
    # data.csv evaluates a whole other CSV (no identity split) with the same seeded occlusion
    other = tmp_path / "other"
    write_face_csv(other, {"Q_0": 3}, seed=5)
    ds = build_dataset(build_config(None, [*over, f"data.csv={other / 'faces.csv'}", f"data.images={other / 'img'}"]).data, "val")
    assert len(ds) == 3


def test_nme_by_visibility():
    gt = np.zeros((1, 68, 2))
    gt[0, 36], gt[0, 45] = (0, 0), (40, 0)
    pred = gt.copy()
    pred[0, :10, 0] += 4.0  # 10 points 4 px off: 0.1 of the inter-ocular distance
    vis = np.full((1, 68), 2)
    vis[0, :5] = 1  # five of the shifted points are occluded
    preds = {"pred": pred, "gt": gt, "pred_orig": pred, "gt_orig": gt, "score": None, "vis": vis,
             "bbox_size": np.array([50.0]), "image_id": [1]}
    m = evaluate_predictions(preds, nme_pair=(36, 45))
    assert m["nme"] == pytest.approx(10 * 0.1 / 68)
    assert m["nme_inv"] == pytest.approx(0.1)
    assert m["nme_vis"] == pytest.approx(5 * 0.1 / 63)
    assert m["fr"] == 0.0


def test_an_occluded_dataset_pickles_for_spawned_workers(tmp_path):
    """Data-loader workers started by spawn (macOS, Windows) pickle the dataset: the patch occluders' image source
    was a local function ("Can't pickle local object"). The copy gives the same seeded occluders."""
    import pickle

    write_face_csv(tmp_path, {f"P_{i}": 2 for i in range(10)})
    over = [*_face_overrides(tmp_path), "data.occlusion.val=true", "data.occlusion.kinds=[patch]",
            "data.occlusion.coverage=0.4"]
    ds = build_dataset(build_config(None, over).data, "val")
    first = ds[0]["image"]  # fills the decoded-image cache, which the copy leaves behind
    copy = pickle.loads(pickle.dumps(ds))
    assert (copy[0]["image"] == first).all()
    assert not (copy[0]["image"] == build_dataset(build_config(None, _face_overrides(tmp_path)).data, "val")[0]["image"]).all()
