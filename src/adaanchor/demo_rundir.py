"""The multi-person demos' models as run directories, so that ``predict``, ``viz``, ``eval`` and ``export`` take them
as they take a model ``adaanchor train`` wrote: ``runs/demo_bottomup/adaanchor`` holds

- ``config.yaml``: the packaged ``bottomup_crowd`` config with the demo's settings (task, method, seed, backbone
  width, the benchmark's options and folder, batch size, steps, learning rate and its schedule), which builds the
  same model and strategy and reads the same held-out images;
- ``spec.yaml`` and ``config_history.yaml``, as training writes them;
- ``checkpoints/last.pt``: the weights after the last step (a model checkpoint: it does not resume training; the
  demo's own training loop, :func:`adaanchor.engine.bottomup.train_steps`, is not the engine's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from .config import build_config
from .engine.bottomup import LR_FACTOR, lr_milestones
from .engine.checkpoint import atomic_save
from .engine.rundir import write_run_files
from .errors import AdaAnchorError

#: The packaged config the demo's run directories start from (its data, model and task settings are the demo's).
DEMO_CONFIG = "bottomup_crowd"
#: The learning rate of :func:`adaanchor.engine.bottomup.train_steps` as the demos call it.
DEMO_LR = 1e-3


def demo_run_config(task: str, name: str, run_dir: Path, bench: dict[str, Any], data_root: str | Path, steps: int,
                    seed: int, batch_size: int, tiny_width: int) -> DictConfig:
    """The config that describes one demo method's model, data and training.

    Args:
        task: ``bottomup`` or ``centre``; name: the strategy (``adaanchor``, ...).
        bench: the crowd-figures options the demo generated its benchmark with (``width`` and ``height`` are the
            input size, the rest ``data.crowd``).
    """
    crowd = {k: list(v) if isinstance(v, tuple) else v for k, v in bench.items() if k not in ("width", "height")}
    return build_config(DEMO_CONFIG, {
        "task": task, "seed": int(seed), "out_dir": str(run_dir),
        "strategy": {"name": name},
        "data": {"root": str(Path(data_root).expanduser().resolve()), "crowd": crowd,
                 "input_size": [int(bench["width"]), int(bench["height"])]},
        "model": {"backbone": "tiny", "tiny_width": int(tiny_width)},
        "train": {"max_steps": int(steps), "batch_size": int(batch_size), "lr": DEMO_LR, "lr_factor": LR_FACTOR,
                  "lr_steps": lr_milestones(int(steps))},
    })


def write_demo_run(run_dir: Path, cfg: DictConfig, model: torch.nn.Module, steps: int) -> Path:
    """Write ``run_dir`` (config, spec, history and ``checkpoints/last.pt`` with ``model``'s weights); returns the
    checkpoint's path."""
    try:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    except OSError as e:  # a file of that name in the demo's folder
        raise AdaAnchorError(f"{run_dir}: cannot create the run directory of this model ({e.strerror or e})") from None
    write_run_files(cfg, run_dir, None, 0, {})  # its history entry: a training from step 0
    path = run_dir / "checkpoints" / "last.pt"
    atomic_save({"model": model.state_dict(), "step": int(steps),
                 "config": OmegaConf.to_container(cfg, resolve=True)}, path)
    return path


__all__ = ["DEMO_CONFIG", "DEMO_LR", "demo_run_config", "write_demo_run"]
