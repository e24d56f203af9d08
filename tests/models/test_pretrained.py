"""``model.weights=timm:NAME``: ImageNet weights through timm's pretrained mechanism and the Hugging Face cache.

Nothing can be downloaded here, so the real path is exercised offline: the test writes a cache in the layout
the hub client uses (``models--timm--NAME/refs/main`` + ``snapshots/REV/model.safetensors``), runs a fresh
interpreter with ``HF_HUB_OFFLINE=1`` and ``HF_HUB_CACHE`` pointing at it (the hub client reads both when it is
imported), and checks that exactly those tensors arrive in the backbone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adaanchor.errors import AdaAnchorError

SRC = Path(__file__).resolve().parents[2] / "src"
NAME = "resnet18.a1_in1k"
REV = "4f5e6d7c8b9a0f1e2d3c4b5a69788796a5b4c3d2"

CHILD = r"""
import json, sys, torch
from adaanchor.config import build_config
from adaanchor.engine.run import build_system
from adaanchor.errors import AdaAnchorError
from adaanchor.models.pretrained import timm_state_dict

ref = torch.load(sys.argv[1])
cfg = build_config(None, ["model.backbone=resnet18", "model.weights=timm:resnet18.a1_in1k", "data.input_size=[64,64]"])
model, _ = build_system(cfg)
body = model.backbone.body.state_dict()
out = {"equal": {k: bool(torch.equal(body[k], ref[k])) for k in ("conv1.weight", "layer4.1.bn2.running_var")}}
try:
    timm_state_dict("timm:resnet34.a1_in1k")  # a real timm name that is not in the cache
except AdaAnchorError as e:
    out["missing"] = str(e)
print(json.dumps(out))
"""


def _write_hub_cache(cache: Path, name: str, state: dict[str, torch.Tensor]) -> None:
    """A Hugging Face hub cache holding ``timm/<name>`` at revision REV, as the hub client lays it out."""
    from safetensors.torch import save_file

    repo = cache / f"models--timm--{name}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(REV)
    snap = repo / "snapshots" / REV
    snap.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in state.items()}, str(snap / "model.safetensors"))


@pytest.mark.slow
@pytest.mark.parametrize("offline", [True, False])
def test_timm_weights_arrive_from_the_offline_hub_cache(tmp_path, offline):
    """Offline (``HF_HUB_OFFLINE=1``), and also without it on a machine whose hub cannot be reached (an endpoint
    that refuses connections): the cached weights are read without asking the hub, and weights that are not cached
    are an error at once (it took about 45 s of the client's retries)."""
    import timm

    torch.manual_seed(3)
    state = timm.create_model(NAME, pretrained=False).state_dict()
    # Distinctive values: a freshly built model could not have them by chance.
    state["conv1.weight"] = torch.randn_like(state["conv1.weight"])
    state["layer4.1.bn2.running_var"] = torch.rand_like(state["layer4.1.bn2.running_var"]) + 0.5
    cache = tmp_path / "hub"
    _write_hub_cache(cache, NAME, state)
    torch.save({k: state[k] for k in ("conv1.weight", "layer4.1.bn2.running_var")}, tmp_path / "ref.pt")
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    for key in ("HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.pop(key, None)
    env.update({"HF_HUB_OFFLINE": "1"} if offline else {"HF_ENDPOINT": "http://127.0.0.1:9"})  # port 9: refused
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "ref.pt")], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["equal"] == {"conv1.weight": True, "layer4.1.bn2.running_var": True}
    assert "Retrying" not in proc.stderr
    # Not cached: the message names the model, the cache folder, why nothing came and the way out.
    msg = out["missing"]
    why = "HF_HUB_OFFLINE" if offline else "the hub cannot be reached (http://127.0.0.1:9: "
    assert "resnet34.a1_in1k" in msg and str(cache) in msg and why in msg and "model.weights=PATH" in msg


def test_timm_name_errors_before_any_download():
    from adaanchor.models.pretrained import timm_state_dict

    with pytest.raises(AdaAnchorError, match="not a timm model"):
        timm_state_dict("timm:no_such_net.in1k")
    with pytest.raises(AdaAnchorError, match="no pretrained weights 'resnet18.nope'.*resnet18.a1_in1k"):
        timm_state_dict("timm:resnet18.nope")
    with pytest.raises(AdaAnchorError, match="needs a timm model name"):
        timm_state_dict("timm:")


def test_weights_of_another_architecture_are_refused(monkeypatch):
    """timm:NAME must be the architecture of model.backbone: ResNet-18 weights do not go into a ResNet-50."""
    import timm

    from adaanchor.models import pretrained
    from adaanchor.models.backbones import build_backbone
    from adaanchor.models.net import KeypointNet, load_weights

    r18 = timm.create_model("resnet18", pretrained=False).state_dict()
    monkeypatch.setattr(pretrained, "timm_state_dict", lambda name: r18)
    net = KeypointNet(build_backbone("resnet50"), {"heatmap": 3})
    with pytest.raises(AdaAnchorError, match=r"model.weights=timm:resnet18.a1_in1k: \d+ of \d+ tensors of the backbone are not in these weights"):
        load_weights(net, "timm:resnet18.a1_in1k")
    net18 = KeypointNet(build_backbone("resnet18"), {"heatmap": 3})
    counts = load_weights(net18, "timm:resnet18.a1_in1k")
    assert counts["skipped"] == 2  # the classifier (fc.weight, fc.bias)
    assert torch.equal(net18.backbone.body.conv1.weight, r18["conv1.weight"])


@pytest.mark.parametrize("backbone,fix", [("tiny", r"give model.weights=null \(random weights\)"),
                                          ("resnet18", r"give model.weights=timm:resnet18.<tag>")])
def test_timm_weights_of_another_backbone_are_refused_before_any_download(backbone, fix):
    """`adaanchor train data.format=dlc ... model.backbone=tiny` kept the custom config's ResNet-50 weights: the
    message spoke of the Hugging Face cache, and after a download of a coverage error."""
    from adaanchor.config import build_config
    from adaanchor.engine.run import build_system

    cfg = build_config(None, [f"model.backbone={backbone}", "model.weights=timm:resnet50.tv_in1k",
                              "data.input_size=[64,64]"])
    with pytest.raises(AdaAnchorError, match=rf"^model.weights=timm:resnet50.tv_in1k are weights of a resnet50, and "
                                             rf"model.backbone={backbone}: {fix}"):
        build_system(cfg)
