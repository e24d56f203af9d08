"""One run of a multi-person paper table (benchmarks/multi_tables.py): build, train (resumable), evaluate, and on
the dev split the convergence snapshots.

A run is a method, a seed and a task on one benchmark's data (the dict ``multi_tables.bench_data`` returns). Its
folder holds ``model.pt`` and ``run.json`` (settings, training summary, metrics); a finished run with the same
settings is evaluated again, not retrained (a finished run of other settings is refused, not trained over), and a
run stopped midway resumes from ``partial.pt``. ``run.json`` is
written (atomically) as soon as the training ends, so a run stopped during its evaluation is evaluated, not
trained again; its convergence snapshots go only once the full record is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from protocol import convergence
from script_exit import Refused

from adaanchor.atomic import write_text_atomic
from adaanchor.engine import bottomup as eb
from adaanchor.engine import centre as ec
from adaanchor.engine.checkpoint import atomic_save
from adaanchor.engine.run import seed_everything
from adaanchor.metrics.coco import crowdpose_ap
from adaanchor.models.backbones import build_backbone
from adaanchor.models.net import KeypointNet
from adaanchor.safe_torch import safe_load
from adaanchor.strategies.centre import build_centre
from adaanchor.strategies.tags import build_bottomup
from adaanchor.versions import source_commit

SAVE_EVERY = 200  # steps between saved training states: a run stopped midway resumes from the last one
SNAPSHOTS = (0.8, 0.9)  # dev runs: fractions of the steps whose weights are evaluated too (convergence check)
TRAIN = {"batch_size": 16, "lr": 1e-3, "tiny_width": 24}


class Task(NamedTuple):
    """How one multi-person task is built, trained and evaluated (``evaluate`` returns evaluate_bottomup's keys)."""

    build: Callable[..., Any]  # (strategy_cfg, task_cfg, num_keypoints, stride, input_size) -> strategy
    model: Callable[[Any, Any], torch.nn.Module]  # (backbone, strategy) -> model
    train: Callable[..., Any]  # train_steps(model, strategy, dataset, steps, batch_size, seed=...)
    evaluate: Callable[..., dict[str, Any]]  # (model, strategy, dataset, gt_path, sigmas=...) -> metrics
    eval_kwargs: dict[str, Any]


def dense_strategy(strategy: Any) -> Any:
    """The one-person dense strategy an AE (``inner``) or centre (``centre``) strategy wraps: it holds the strategy
    section's ``focal_gamma`` and ``conf_prior`` (anchor strategies; the heatmap has neither)."""
    return getattr(strategy, "inner", None) or getattr(strategy, "centre", None)


def _ae_model(backbone: torch.nn.Module, strategy: Any) -> KeypointNet:
    """The AE task's model; the confidence head's prior from ``strategy.conf_prior``, as ``engine.run`` builds it
    (``--strategy-option conf_prior=...`` had no effect)."""
    prior = getattr(dense_strategy(strategy), "conf_prior", None)
    return KeypointNet(backbone, strategy.heads, **({"conf_prior": prior} if prior is not None else {}))


def loss_options(strategy: Any) -> dict[str, float]:
    """``train_steps``' keyword for the strategy section's ``focal_gamma`` (``--strategy-option focal_gamma=...`` had
    no effect: the runs trained with train_steps' own 2.0)."""
    gamma = getattr(dense_strategy(strategy), "focal_gamma", None)
    return {"focal_gamma": float(gamma)} if gamma is not None else {}


TASKS: dict[str, Task] = {
    "ae": Task(build_bottomup, _ae_model, eb.train_steps, eb.evaluate_bottomup, {"oracle_tags": True}),
}
TASKS["centre"] = Task(build_centre, ec.build_centre_model, eb.train_steps, eb.evaluate_bottomup, {})


def crowdpose_metrics(model: torch.nn.Module, strategy: Any, data: dict[str, Any], gamma: float,
                      oracle: bool) -> dict[str, Any]:
    """CrowdPose-style AP (xtcocotools, crowd-index bands) of the poses at ``gamma``; with ``oracle`` also for the
    oracle-tag grouping (under ``oracle_tags``)."""
    cached = eb.predict_outputs(model, data["val"])
    keys = {"AP": "cp_ap", "AP50": "cp_ap50", "AP75": "cp_ap75", "AP_easy": "ap_easy", "AP_medium": "ap_medium",
            "AP_hard": "ap_hard"}

    def score(results: list[dict]) -> dict[str, Any]:
        cp = crowdpose_ap(data["gt"], results, sigmas=data["sigmas"])
        return {v: cp[k] for k, v in keys.items()}

    out = score(eb.results_at(strategy, cached, gamma))
    if oracle:
        out["oracle_tags"] = score(eb.results_at(strategy, cached, gamma, eb.ground_truth(data["val"])))
    return out


def build_run(task_name: str, method: str, seed: int, width: int, data: dict[str, Any]) -> tuple[torch.nn.Module, Any]:
    """The untrained model and strategy of one run (seeded: the same initial backbone for every method of a seed)."""
    task = TASKS[task_name]
    seed_everything(seed)  # the backbone is built first: the same initial weights for every method of a seed
    backbone = build_backbone("tiny", tiny_width=width)
    strategy = task.build({**data.get("strategy_cfg", {}), "name": method}, data["task_cfg"].get(task_name, {}), data["spec"].num_keypoints,
                          int(backbone.stride), data["size"])
    return task.model(backbone, strategy), strategy


def progress_printer(label: str, steps: int, parts: int = 10) -> Callable[[int, dict[str, float]], None]:
    """A ``log`` callback of ``train_steps`` that prints one line each time the run passes another ``1/parts`` of its
    steps: the step, the training time so far and an estimate of the time left (at the rate so far). A run of a
    table takes minutes to hours, and with ``--jobs`` several print at once, so each line names its run."""
    passed = [0]

    def log(step: int, row: dict[str, float]) -> None:
        part = step * parts // steps
        if part <= passed[0]:
            return
        passed[0] = part
        spent = float(row.get("time_s", 0.0))
        left = spent / step * (steps - step)
        print(f"  {label}: step {step}/{steps} ({100 * step // steps}%), {spent / 60:.1f} min, about "
              f"{left / 60:.1f} min left", flush=True)

    return log


def run_one(task_name: str, method: str, seed: int, steps: int, data: dict[str, Any], run_dir: Path,
            width: int) -> dict[str, Any]:
    """Train (unless ``run_dir`` holds a finished run with the same settings) and evaluate one method and seed;
    on the dev split also the weights at :data:`SNAPSHOTS` of the steps (the convergence check)."""
    task = TASKS[task_name]
    task_cfg = data["task_cfg"].get(task_name, {})
    settings = {"method": method, "seed": seed, "steps": steps, **TRAIN, "tiny_width": width, "bench": data["options"],
                "task": task_name, "task_cfg": task_cfg}
    if data.get("strategy_cfg"):  # only when given: the settings of the runs with the defaults stay as they were
        settings["strategy_cfg"] = data["strategy_cfg"]
    settings = json.loads(json.dumps(settings))
    record_path, weights = run_dir / "run.json", run_dir / "model.pt"
    old = _record(record_path, weights)
    if old.get("settings") not in (None, settings) and weights.is_file():
        # The folder is named by table, method and seed only: another --steps or option would train over it.
        other = [f"{k} {old['settings'].get(k)!r}, not {v!r}" for k, v in settings.items() if old["settings"].get(k) != v]
        raise Refused(f"{run_dir} holds a finished run of other settings ({'; '.join(other)}): give this table "
                         "its own --out, or remove that folder to train it again")

    model, strategy = build_run(task_name, method, seed, width, data)
    marks = {max(1, round(f * steps)) for f in SNAPSHOTS} if data["split"] == "dev" else set()
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    label = f"{run_dir.parent.name}/{run_dir.name}"
    if old.get("settings") == settings and weights.is_file():
        print(f"  {label}: trained before, evaluating it again", flush=True)
        model.load_state_dict(safe_load(weights))
        train = old["train"]
        # Stopped during its evaluation: the snapshots kept for the convergence check are still there.
        snapshots.update({m: safe_load(f) for m in marks if (f := run_dir / f"partial_snapshot_{m}.pt").is_file()})
    else:
        partial = _partial_files(run_dir, settings, marks)
        if partial["state"].is_file():
            print(f"  {label}: resuming from its saved training state ({partial['state']})", flush=True)
        snapshots.update({m: safe_load(f) for m, f in partial["snapshots"].items() if f.is_file()})

        def keep(step: int) -> None:
            if step in marks:
                snapshots[step] = {k: v.detach().clone() for k, v in model.state_dict().items()}
                atomic_save(snapshots[step], partial["snapshots"][step])  # a resumed run needs it too

        t0 = time.time()
        rows = task.train(model, strategy, data["train"], steps, TRAIN["batch_size"], lr=TRAIN["lr"], seed=seed,
                          **loss_options(strategy), on_step=keep, state_path=partial["state"], save_every=SAVE_EVERY,
                          log=progress_printer(label, steps))
        train = {"train_s": round(time.time() - t0, 1), "loss_first": rows[0]["loss"], "loss_last": rows[-1]["loss"],
                 "commit": source_commit() or "unknown"}  # the code that trained it (a reused record keeps it)
        atomic_save(model.state_dict(), weights)
        # Trained: recorded before the evaluation (minutes on a large table), which a stop would otherwise send
        # back to step 0, as the training state goes now.
        _write_json(record_path, {"settings": settings, "train": train})
        for f in [partial["state"], partial["settings"]]:
            f.unlink(missing_ok=True)
    metrics = evaluate_run(task, model, strategy, data)
    record = {"settings": settings, "train": train, "metrics": metrics}
    if marks:
        def fresh() -> torch.nn.Module:  # a model to load each snapshot into
            return build_run(task_name, method, seed, width, data)[0]

        record["convergence"] = snapshot_convergence(task, fresh, strategy, data, snapshots, metrics, steps, run_dir)
    _write_json(record_path, record)
    for f in run_dir.glob("partial_snapshot_*.pt"):
        f.unlink(missing_ok=True)
    return {"seed": seed, **train, **metrics, **({"convergence": record["convergence"]} if marks else {})}


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    """``path`` replaced whole or not at all: a run stopped while writing must not leave a record that cannot be read."""
    write_text_atomic(path, json.dumps(doc, indent=1))


def _record(record_path: Path, weights: Path) -> dict[str, Any]:
    """The ``run.json`` of a run folder (``{}`` when there is none). Beside finished weights, a record that does not
    read (cut short, edited by hand: no ``settings`` or ``train``) is refused: the run was trained again from step 0
    over the weights, or the table stopped with a traceback."""
    if not record_path.is_file():
        return {}
    try:
        old = json.loads(record_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        old, why = None, f"does not read ({type(e).__name__})"
    else:
        why = "holds no settings and training record" if not isinstance(old, dict) else \
            "holds no 'settings'" if "settings" not in old else "holds no 'train' record" if "train" not in old else None
    if why is not None and weights.is_file():
        raise Refused(f"{record_path} {why}, beside the finished weights {weights.name}: restore it, or remove the "
                      "folder to train the run again")
    return old if isinstance(old, dict) and why is None else {}


def _partial_files(run_dir: Path, settings: dict[str, Any], marks: set[int]) -> dict[str, Any]:
    """The files of a partly trained run (its training state, its settings, its convergence snapshots). A
    partial run of other settings is removed, so that training starts afresh; one of these settings resumes."""
    run_dir.mkdir(parents=True, exist_ok=True)
    files = {"state": run_dir / "partial.pt", "settings": run_dir / "partial.json",
             "snapshots": {m: run_dir / f"partial_snapshot_{m}.pt" for m in sorted(marks)}}
    same = files["settings"].is_file() and json.loads(files["settings"].read_text()) == settings
    if not same:
        for f in [files["state"], *run_dir.glob("partial_snapshot_*.pt")]:
            f.unlink(missing_ok=True)
        _write_json(files["settings"], settings)
    return files


def evaluate_run(task: Task, model: torch.nn.Module, strategy: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The task's evaluation of ``model`` on the held-out images, plus CrowdPose AP where the benchmark has it."""
    metrics = task.evaluate(model, strategy, data["val"], data["gt"], sigmas=data["sigmas"], **task.eval_kwargs)
    if data["crowdpose"]:
        cp = crowdpose_metrics(model, strategy, data, metrics["gamma"], "oracle_tags" in metrics)
        if "oracle_tags" in cp:
            metrics["oracle_tags"].update(cp.pop("oracle_tags"))
        metrics.update(cp)
    return metrics


EVAL_LOG_KEYS = ("ap", "oracle_ap", "recall")


def snapshot_convergence(task: Task, build: Callable[[], torch.nn.Module], strategy: Any, data: dict[str, Any],
                         snapshots: dict[int, dict[str, torch.Tensor]], final: dict[str, Any], steps: int,
                         run_dir: Path) -> dict[str, Any]:
    """Evaluate the snapshot weights, write ``eval_log.csv`` (step, AP, oracle-tag AP, recall; a run evaluated
    again keeps the rows it has) and return the convergence check of the AP the table leads with."""
    log = run_dir / "eval_log.csv"

    def row(step: int, m: dict[str, Any]) -> str:
        vals = (m["ap"], m.get("oracle_tags", {}).get("ap", ""), m["recall"])
        return ",".join([str(step), *(str(v) for v in vals)])

    rows = log.read_text().strip().splitlines()[1:-1] if log.is_file() and not snapshots else []
    for step, state in sorted(snapshots.items()):
        snap = build()
        snap.load_state_dict(state)
        rows.append(row(step, evaluate_run(task, snap, strategy, data)))
    log.write_text("\n".join(["step," + ",".join(EVAL_LOG_KEYS), *rows, row(steps, final)]) + "\n")
    key = "oracle_ap" if "oracle_tags" in final else "ap"
    return {"key": key, **convergence(log, steps, key)}


def options_problem(task: str, strategy_items: list[str] | None, task_items: list[str] | None) -> str | None:
    """Why ``--strategy-option`` / ``--task-option`` items are no options of the config's ``strategy`` section and the
    task's section (``bottomup`` for ae, ``centre``), checked as a config checks them (key names, value ranges), or
    None. The runs' strategy builders pass over a key they do not know."""
    from adaanchor.config import build_config
    from adaanchor.errors import AdaAnchorError

    section = {"ae": "bottomup", "centre": "centre"}[task]
    over = [f"task={section}", *(f"strategy.{i}" for i in strategy_items or []),
            *(f"{section}.{i}" for i in task_items or [])]
    try:
        build_config("demo", over)
    except AdaAnchorError as e:
        return str(e)
    return None


if __name__ == "__main__":
    import sys

    from script_exit import not_a_script

    sys.exit(not_a_script(__file__, "multi_tables.py"))
