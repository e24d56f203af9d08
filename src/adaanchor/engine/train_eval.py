"""Evaluation inside a training run: every metric its config calls for on the val set, the ``eval_log.csv`` row,
and ``best.pt`` kept when the selection metric improved (PCK at the first threshold top-down, AP multi-person)."""

from __future__ import annotations

import math
import time
from typing import Any

import torch
from omegaconf import DictConfig

from .dist import barrier
from .evaluate import evaluate_dataset
from .multi import evaluate_multi, warn_nonfinite_poses
from .run import is_multi_person
from .saving import save_checkpoint
from .state import Run


def evaluate_model(model: torch.nn.Module, strategy: Any, cfg: DictConfig, dataset: Any, device: torch.device,
                   progress: bool = False) -> dict[str, Any]:
    """Every metric the config calls for on ``dataset``: top-down see
    :func:`adaanchor.engine.evaluate.evaluate_dataset`; a multi-person task AP and recall at its gamma
    (:func:`adaanchor.engine.multi.evaluate_multi`)."""
    if is_multi_person(cfg):
        m = evaluate_multi(model, strategy, cfg, dataset, device, progress)[0]
        warn_nonfinite_poses(m)
        return m
    return evaluate_dataset(model, strategy, cfg, dataset, device, progress)[0]


def _select_metric(m: dict[str, Any]) -> float:
    """Higher is better: PCK at the first threshold (top-down), AP (multi-person)."""
    v = next(iter(m["pck"].values()), None) if "pck" in m else m.get("ap")
    return float(v) if v is not None else -math.inf


def _eval_row(m: dict[str, Any], metric: float) -> dict[str, Any]:
    """The ``eval_log.csv`` columns after ``step, epoch``: top-down ``pck, vis_error, inv_error``; multi-person
    ``ap, ap50, recall``."""
    if "pck" in m:
        return {"pck": metric, "vis_error": m["vis_error"], "inv_error": m["inv_error"]}
    return {"ap": metric, "ap50": m.get("ap50"), "recall": m.get("recall")}


def evaluate_during_training(run: Run, epoch: int, batch_idx: int) -> None:
    """Evaluate (rank 0), log the row, and keep ``best.pt`` when the metric improved."""
    t_eval = time.time()
    if run.info.is_main:  # rank 0 evaluates alone; the others wait at the barrier below
        run.final_metrics = m = evaluate_model(run.model, run.strategy, run.cfg, run.val_ds, run.device)
        run.final_metrics_step = run.step
        metric = _select_metric(m)
        assert run.eval_log is not None
        run.eval_log.write({"step": run.step, "epoch": epoch, **_eval_row(m, metric)})
        if metric > run.best:
            run.best = metric
            save_checkpoint(run, "best.pt", epoch, batch_idx, force=True)
            save_checkpoint(run, "last.pt", epoch, batch_idx, force=True)  # so that a resume knows the new best
    barrier(run.info)
    run.t0 += time.time() - t_eval  # evaluation time does not count as training time


def finished(run: Run) -> bool:
    """Whether the checkpoint resumed from is at the end of training (steps or epochs)."""
    return run.step >= run.total or (not run.cfg.train.max_steps and run.start_epoch >= run.epochs)


def missed_evaluation(run: Run) -> bool:
    """Resumed where an evaluation was due but not run (a Ctrl-C or SIGTERM just before it or during it: the
    checkpoint was saved, the evaluation skipped): at the end of an epoch, where resuming went on to the next
    epoch without it, or at the end of training, where the run had no final metrics."""
    tc = run.cfg.train
    if run.resume is None or run.val_ds is None:
        return False
    if not finished(run):
        if run.start_batch != 0 or run.start_epoch == 0 or not tc.eval_every:
            return False
        if run.start_epoch % int(tc.eval_every) != 0:
            return False
    rows = run.eval_log.rows() if run.eval_log is not None else []
    return not any(r.get("step") == str(run.step) for r in rows)


__all__ = ["evaluate_during_training", "evaluate_model", "finished", "missed_evaluation"]
