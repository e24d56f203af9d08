"""Build a model and its strategy from a config, and find a run's config and checkpoint again."""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from ..config import build_config
from ..config_overrides import override_list
from ..configs import config_file
from ..data.build import data_spec
from ..data.paths import GENERATED_FORMATS
from ..errors import AdaAnchorError
from ..models.backbones import backbone_from_config, input_multiple
from ..models.net import KeypointNet, load_weights
from ..strategies import Strategy, build_strategy
from ..strategies.flip_test import set_flip_rules
from ..strategies.tasks import get_task
from .run_checks import check_config_complete, check_run_config


def build_system(cfg: DictConfig, load_pretrained: bool = True) -> tuple[KeypointNet, Strategy]:
    """The model and the strategy of ``cfg``: the strategy's heads decide the model's output heads, and the
    backbone's stride decides the strategy's anchor grid. The task (``cfg.task``) builds the strategy: top-down
    any strategy, ``bottomup`` the ``strategy`` section's dense strategy plus the tag head, ``centre`` that strategy
    locating person centres plus the pose branches."""
    spec = data_spec(cfg.data)
    m = cfg.model
    backbone = backbone_from_config(m)  # build_config checked the input size against its input multiple
    task = get_task(str(cfg.get("task", "topdown")))
    size, stride = tuple(cfg.data.input_size), int(backbone.stride)
    if task.build is None:
        strategy = build_strategy(OmegaConf.to_container(cfg.strategy), spec.num_keypoints, stride, size,
                                  sigmas=spec.sigmas)
    else:
        section = OmegaConf.to_container(cfg[task.section]) if task.section else {}
        strategy = task.build(OmegaConf.to_container(cfg.strategy), section, spec.num_keypoints, stride, size,
                              sigmas=spec.sigmas)
    # read by the multi-person flip test
    set_flip_rules(strategy, str(cfg.eval.get("flip_offsets", "mean")), str(cfg.eval.get("flip_conf", "mean")))
    # A strategy with per-group branch heads (DEKR-style centres) says so in ``branches``.
    extra = {"branches": strategy.branches} if getattr(strategy, "branches", None) else {}
    model = KeypointNet(backbone, strategy.heads, conf_prior=float(cfg.strategy.conf_prior), **extra)
    if load_pretrained and m.weights:
        check_weights_arch(str(m.weights), str(m.backbone))
        try:
            load_weights(model, m.weights)
        except AdaAnchorError as e:
            if str(e).startswith("model.weights"):
                raise
            raise AdaAnchorError(f"model.weights: {e}") from None  # "foo.pt: checkpoint not found" named no key
    return model, strategy


def check_weights_arch(weights: str, backbone: str) -> None:
    """``timm:NAME`` weights are of the architecture ``NAME`` (before its tag): another ``model.backbone`` is an
    error before any download (``model.backbone=tiny`` with the custom config's ResNet-50 weights was a message
    about the Hugging Face cache, and after a download a coverage error)."""
    from ..models.pretrained import is_timm_name

    if not is_timm_name(weights):
        return
    arch = weights.removeprefix("timm:").split(".")[0]
    if arch and arch != backbone:
        fix = "model.weights=null (random weights)" if backbone == "tiny" else \
            f"model.weights=timm:{backbone}.<tag> (timm.list_pretrained('{backbone}.*')) or model.weights=null"
        raise AdaAnchorError(f"model.weights={weights} are weights of a {arch}, and model.backbone={backbone}: "
                             f"give {fix}")


def is_multi_person(cfg: DictConfig) -> bool:
    """Whether ``cfg``'s task works on whole images with every person (``task=bottomup`` or ``centre``)."""
    return get_task(str(cfg.get("task", "topdown"))).multi_person


def image_multiple(cfg: DictConfig, stride: int) -> int:
    """The multiple a multi-person test-time input is padded to: the backbone's input multiple and its stride."""
    return math.lcm(input_multiple(str(cfg.model.backbone)), int(stride))


def build_split(cfg: DictConfig, split: str, stride: int, train: bool | None = None, verbose: bool = True) -> Any:
    """The dataset of ``split`` for ``cfg``'s task: a top-down dataset, or the whole-image dataset of a
    multi-person task (test-time inputs padded to :func:`image_multiple`)."""
    from ..data.build import build_dataset, build_image_dataset

    if is_multi_person(cfg):
        return build_image_dataset(cfg.data, split, train, image_multiple(cfg, stride), verbose)
    return build_dataset(cfg.data, split, train=train, verbose=verbose)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices)."""
    import random

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_run(target: str | Path, ckpt: str | Path | None = None, overrides: str | Sequence[str] = (),
                need_data: bool = True, need_weights: bool = False) -> tuple[DictConfig, Path | None]:
    """``target`` is a run directory (with ``config.yaml``), a checkpoint inside one (``RUN/checkpoints/x.pt``:
    that run, that checkpoint) or a config file. Returns the config (with ``overrides`` applied) and the
    checkpoint to use: ``ckpt`` if given, else the run's ``best.pt`` or ``last.pt``, else None.

    A run directory is self-contained: its own ``spec.yaml`` (the keypoint spec it was trained with) is used
    unless ``data.spec`` is overridden, and, with ``need_data`` (evaluation), a data path of its config that does
    not exist here (the data moved, another machine) is named with the override that fixes it; prediction,
    export and drawing need no data and say nothing of it. A bare name that is neither is a packaged config
    (``demo``). ``overrides``: ``key=value`` strings, or one such string
    (:func:`adaanchor.config_overrides.override_list`; ``predict``, ``export`` and ``viz`` pass them on as given).
    ``need_weights``: a run or config with neither a checkpoint nor ``model.weights`` is an error
    (:func:`no_checkpoint_error`) rather than a model of random weights."""
    overrides = override_list(overrides)
    given = target
    target, ckpt = split_checkpoint(Path(target), ckpt)
    # A folder of that name is the run (``out_dir=custom``), not the packaged config config_file would name.
    p = Path(target) if Path(target).is_dir() else config_file(target)
    if p.is_dir():
        cfg_path = p / "config.yaml"
        if not cfg_path.is_file():
            raise AdaAnchorError(f"{p}: not a run directory (no config.yaml){_runs_near(p)}")
        raw = check_run_config(cfg_path)
        cfg = build_config(cfg_path, overrides)
        own_spec = p / "spec.yaml"
        if own_spec.is_file() and not any(o.split("=", 1)[0].strip() == "data.spec" for o in overrides):
            cfg.data.spec = str(own_spec.resolve())
        if need_data:
            _warn_missing_data(cfg, cfg_path)
        if ckpt is None:
            for name in ("best.pt", "last.pt"):
                if (p / "checkpoints" / name).is_file():
                    ckpt = p / "checkpoints" / name
                    break
        check_config_complete(cfg_path, raw, ckpt)
    elif p.is_file():
        _refuse_media_file(p)
        cfg = build_config(p, overrides)
    else:
        raise AdaAnchorError(f"{p}: no such run directory or config file")
    if need_weights and ckpt is None and not cfg.model.weights:
        raise no_checkpoint_error(given)
    if overrides:  # an option nothing reads (another task's section): train warns of it, and so do these commands
        from ..strategies.inert import inert_overrides

        keys = [o.split("=", 1)[0] for o in overrides]
        for line in inert_overrides(OmegaConf.to_container(cfg, resolve=True), keys):
            print(line, file=sys.stderr)
    return cfg, (Path(ckpt) if ckpt is not None else None)


def _refuse_media_file(path: Path) -> None:
    """An image or video file given where the run goes (``predict photo.jpg other.jpg``: the run left out) was read
    as a config file: 'not UTF-8 text (invalid start byte at byte 0)'."""
    from ..data.media_suffixes import media_kind

    if path.suffix.lower() == ".onnx":  # read as a config: "config file is 2064920 bytes, more than ..."
        raise AdaAnchorError(f"{path}: an exported ONNX file, not a run: the first argument is the run directory "
                             "(predict takes the file as --onnx FILE)")
    kind = media_kind(path)
    if kind:
        raise AdaAnchorError(f"{path}: {'an' if kind == 'image' else 'a'} {kind} file, not a run: the first argument is the run, a run directory (or a "
                             "checkpoint in one, or a config file); was it left out?")


def _runs_near(folder: Path) -> str:
    """Where the run is when ``folder`` is not one: its parent (a run's ``checkpoints/`` given), or its subfolders
    (``adaanchor demo --out runs/demo`` writes one run per method under it)."""
    from ..data.media_suffixes import media_kind

    if (folder.parent / "config.yaml").is_file():
        return f": the run is its parent, {folder.parent}"
    try:
        runs = sorted(d.name for d in folder.iterdir() if (d / "config.yaml").is_file())
        media = not runs and any(media_kind(f) for f in folder.iterdir())
    except OSError:
        return ""
    if media:  # `predict imgs RUN`: the inputs given first
        return ": it holds images or videos, an input; the first argument is the run, then the inputs"
    if not runs:
        return ""
    more = f" and {len(runs) - 5} more" if len(runs) > 5 else ""
    return f": it holds the runs {', '.join(runs[:5])}{more}; give one, e.g. {folder / runs[0]}"


def no_checkpoint_error(run: str | Path) -> AdaAnchorError:
    """The error of a run or config without a checkpoint (and without ``model.weights``). A run's own
    ``config.yaml`` given in place of its folder is read as a config file, whose checkpoints are not looked for:
    the message names the folder, which holds them."""
    msg = f"{run}: no checkpoint found (checkpoints/best.pt or last.pt); pass ckpt=PATH"
    folder = Path(run).parent
    there = sorted(p.name for p in (folder / "checkpoints").glob("*.pt")) if Path(run).is_file() else []
    if there:
        msg += f", or the run directory {folder} (its checkpoints/ holds {', '.join(there)}) in place of its config file"
    return AdaAnchorError(msg)


def split_checkpoint(run: Path, ckpt: str | Path | None) -> tuple[Path, str | Path | None]:
    """A checkpoint file stands for its run: ``RUN/checkpoints/x.pt`` -> (``RUN``, the file); with another ``ckpt`` as
    well it is refused (which of the two was meant?)."""
    if not run.exists() and run.suffix in (".pt", ".pth", ".ckpt"):  # was "no such run directory or config file"
        there = sorted(p.name for p in run.parent.glob("*.pt")) if run.parent.is_dir() else []
        raise AdaAnchorError(f"{run}: no such checkpoint file" + (f" ({run.parent} holds {', '.join(there)})" if there
                                                                 else ""))
    if run.is_file() and run.suffix in (".pt", ".pth", ".ckpt"):
        folder = run.parent.parent if run.parent.name == "checkpoints" else run.parent
        if not (folder / "config.yaml").is_file():
            raise AdaAnchorError(f"{run}: a checkpoint outside a run directory (no config.yaml in {folder}); give "
                                 f"the config it was trained with in its place, and the checkpoint as ckpt={run}")
        if ckpt is not None and run.resolve() != Path(ckpt).resolve():
            # the second one was loaded without a word, while the run's name (info["run"]) was the first's
            raise AdaAnchorError(f"two checkpoints given: {run} (as the run) and ckpt={ckpt}: give one of them")
        return folder, run if ckpt is None else ckpt
    return run, ckpt


def _warn_missing_data(cfg: DictConfig, cfg_path: Path) -> None:
    """A line naming the first data path of a run's config that is missing here (the built-in benchmark
    benchmarks regenerate their cache, so their root may be absent)."""
    root = Path(str(cfg.data.root)).expanduser()
    if cfg.data.format in GENERATED_FORMATS:
        return
    if not root.exists():
        print(f"warning: {cfg_path}: data.root={root} does not exist here (the data moved?): give "
              "data.root=NEW_ROOT to use the data at its new place", file=sys.stderr)
        return
    for split in ("train", "val"):
        rel = cfg.data.get(split)
        f = Path(str(rel)).expanduser() if rel else None
        f = f if f is None or f.is_absolute() else root / f
        if f is not None and not f.exists():
            print(f"warning: {cfg_path}: {f} (data.{split}) does not exist here: give data.root=... or "
                  f"data.{split}=... for its new place", file=sys.stderr)


def _check_trained_as(cfg: DictConfig, state: Mapping[str, Any], ckpt: Path) -> None:
    """A checkpoint whose own config fixes another model than ``cfg`` (another strategy or task: the options a
    resume refuses, :func:`~.resume_config.frozen`) is refused; another input size is said. ``eval RUN ckpt=OTHER``
    scored a FixAnchor checkpoint as AdaAnchor (the same head shapes load) in a row labelled with the run's
    strategy. Checkpoints without a config (other tools' weights) are not checked."""
    from .resume_config import config_changes, frozen

    old = state.get("config")
    if not isinstance(old, Mapping):
        return
    changes = config_changes(old, OmegaConf.to_container(cfg, resolve=True))
    fixed = {k: v for k, v in changes.items() if frozen(k) and k != "data.input_size"}
    if fixed:
        diff = "; ".join(f"{k} {a!r} there, {b!r} here" for k, (a, b) in list(fixed.items())[:4])
        raise AdaAnchorError(f"{ckpt}: trained as another model than this config ({diff}): evaluate it with its own "
                             "run directory (or a config that matches it)")
    if "data.input_size" in changes:
        a, b = changes["data.input_size"]
        print(f"note: {ckpt} was trained at data.input_size={a}; it is run at {b} here", file=sys.stderr)


def load_for_eval(cfg: DictConfig, ckpt: Path | None, device: torch.device | str = "cpu") -> tuple[KeypointNet, Strategy, dict[str, Any]]:
    """Model in eval mode with the checkpoint's weights (strictly: the architecture must match); without a
    checkpoint, the config's ``model.weights`` or random weights."""
    from .checkpoint import load_checkpoint, load_model_state

    model, strategy = build_system(cfg, load_pretrained=ckpt is None)
    info: dict[str, Any] = {"checkpoint": str(ckpt) if ckpt else None}
    if ckpt is not None:
        state = load_checkpoint(ckpt)
        _check_trained_as(cfg, state, ckpt)
        load_model_state(model, state, ckpt, f"backbone {cfg.model.backbone}, strategy {cfg.strategy.name}")
        step = state.get("step", -1)
        info["step"] = step if isinstance(step, int) else -1
    return model.to(device).eval(), strategy, info
