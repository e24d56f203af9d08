"""The shipped paper configs load, and train and evaluate end to end on the real sample files."""

from __future__ import annotations

from pathlib import Path

import pytest

from adaanchor.config import build_config
from adaanchor.configs import PACKAGED_CONFIGS, packaged_names
from adaanchor.engine.train import train

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / ".." / "shared" / "data" / "mmpose-testdata"
CONFIGS = [name for name in packaged_names() if "/" in name]  # the paper configs, by name (coco/adaanchor_...)

# config folder -> (sample folder, annotation file, data.format override)
SAMPLE_DATA = {
    "coco": ("coco", "test_coco.json", "coco"),
    "mpii": ("mpii", "test_mpii.json", "mpii"),
    "wflw": ("wflw", "test_wflw.json", "wflw"),  # the COCO-style WFLW JSON
    "crowdpose": ("crowdpose", "test_crowdpose.json", "crowdpose"),
}


@pytest.mark.parametrize("path", CONFIGS)
def test_config_loads(path):
    cfg = build_config(path)
    assert cfg.strategy.name in ("heatmap", "adaanchor")


@pytest.mark.slow
@pytest.mark.parametrize("folder", sorted(SAMPLE_DATA))
def test_paper_config_trains_on_real_samples(folder, tmp_path):
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not available: {SAMPLES} is absent")
    sub, ann, fmt = SAMPLE_DATA[folder]
    cfg_path = next(p for p in CONFIGS if p.startswith(f"{folder}/adaanchor"))
    cfg = build_config(cfg_path, [
        f"data.root={SAMPLES / sub}", f"data.train={ann}", f"data.val={ann}", "data.images=.", f"data.format={fmt}",
        "data.input_size=[64,64]", "model.backbone=tiny", "model.weights=null", "model.tiny_width=8", "train.batch_size=2",
        "train.max_steps=2", "train.workers=0", "train.eval_every=1", "train.progress=false", f"out_dir={tmp_path}",
        "eval.batch_size=4",
    ])
    summary = train(cfg)
    assert summary["steps"] == 2
    m = summary["metrics"]
    assert m["vis_error"] is not None and m["vis_error"] > 0
    if folder in ("coco", "crowdpose"):
        assert m["ap"] is not None and 0.0 <= m["ap"] <= 1.0


@pytest.mark.slow
def test_coco_evaluation_on_detected_boxes(tmp_path):
    """Top-down protocol with a person-detection results file: crops from detections, AP against the GT."""
    if not SAMPLES.is_dir():
        pytest.skip(f"real samples not available: {SAMPLES} is absent")
    from adaanchor.data.build import build_dataset
    from adaanchor.engine.evaluate import evaluate_dataset
    from adaanchor.engine.run import build_system

    cfg = build_config(PACKAGED_CONFIGS / "coco/adaanchor_res50_256x192.yaml", [
        f"data.root={SAMPLES / 'coco'}", "data.train=test_coco.json", "data.val=test_coco.json", "data.images=.",
        "data.detections=test_coco_det_AP_H_56.json", "data.det_score_thr=0.3", "data.input_size=[48,64]",
        "model.backbone=tiny", "model.weights=null", "model.tiny_width=8", "eval.batch_size=8"])
    ds = build_dataset(cfg.data, "val")
    assert len(ds) > 4 and all(int(ds[i]["visibility"].sum()) == 0 for i in range(3))  # boxes only
    model, strategy = build_system(cfg)
    m, preds = evaluate_dataset(model.eval(), strategy, cfg, ds)
    assert m["ap"] is not None and 0.0 <= m["ap"] <= 1.0
    assert preds["det_score"].min() >= 0.3
