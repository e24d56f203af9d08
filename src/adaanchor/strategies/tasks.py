"""Tasks of the generic pipeline, chosen by the top-level config key ``task``.

:data:`TASKS` is the registry: name -> :class:`Task`. A task says which config section holds its own options
(derived from its defaults table, range-checked from its ranges table), how its strategy is built from the
``strategy`` section and that one, and whether it works on whole images with every person in them
(multi-person: whole-image data, evaluation by AP/recall of grouped poses, prediction of every person).

- ``topdown`` (default): one instance per item (a box crop or the whole image), any strategy of
  :data:`adaanchor.strategies.STRATEGIES`;
- ``bottomup``: a dense strategy plus the associative-embedding tag head
  (:func:`adaanchor.strategies.tags.build_bottomup`, options in the ``bottomup`` section);
- ``centre``: DEKR-style single-stage pose, the person centre located by the dense strategy and the pose
  regressed from it (:func:`adaanchor.strategies.centre.build_centre`, options in the ``centre`` section).

A multi-person task's strategy decodes with ``decode_poses(outputs, gamma) -> list[Poses]`` (input pixels, one
:class:`~adaanchor.strategies.grouping.Poses` per image) and keeps its default threshold in
``options["gamma"]``; everything downstream (training-time evaluation, ``adaanchor eval``, ``predict``) reads
only that. A new task is one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import unknown_name_error
from ..ranges import Checker, choice
from .base import Strategy
from .centre import CENTRE_DEFAULTS, CENTRE_RANGES, build_centre
from .tags import BOTTOMUP_DEFAULTS, BOTTOMUP_RANGES, build_bottomup

#: ``(strategy section, task section, num_keypoints, stride, input_size (W, H), sigmas=spec's OKS sigmas) -> Strategy``.
TaskBuilder = Callable[..., Strategy]


@dataclass(frozen=True)
class Task:
    """One task of the pipeline.

    Attributes:
        section: the config section of the task's own options (None: it has none).
        defaults: that section's defaults (the config derives the section from it).
        ranges: that section's valid ranges (dotted keys below the section).
        build: builds the strategy; None: :func:`adaanchor.strategies.build_strategy` on the ``strategy`` section.
        multi_person: whole images with every person (see the module docstring).
    """

    section: str | None = None
    defaults: Mapping[str, Any] = field(default_factory=dict)
    ranges: Mapping[str, Checker] = field(default_factory=dict)
    build: TaskBuilder | None = None
    multi_person: bool = False


#: task name -> :class:`Task` (``task`` in a config).
TASKS: dict[str, Task] = {
    "topdown": Task(),
    "bottomup": Task("bottomup", BOTTOMUP_DEFAULTS, BOTTOMUP_RANGES, build_bottomup, multi_person=True),
    "centre": Task("centre", CENTRE_DEFAULTS, CENTRE_RANGES, build_centre, multi_person=True),
}
DEFAULT_TASK = "topdown"


def get_task(name: str) -> Task:
    """The task called ``name``; an unknown name is an error listing the valid ones."""
    if name not in TASKS:
        raise unknown_name_error("task", str(name), TASKS)
    return TASKS[name]


def task_sections() -> dict[str, dict[str, Any]]:
    """Section name -> a copy of its defaults, for every task that has a section."""
    return {t.section: dict(t.defaults) for t in TASKS.values() if t.section}


def task_ranges() -> dict[str, Checker]:
    """Dotted key -> range for ``task`` itself and every task section's options."""
    out: dict[str, Checker] = {"task": choice(tuple(TASKS), kind="task")}
    for t in TASKS.values():
        if t.section:
            out.update({f"{t.section}.{k}": v for k, v in t.ranges.items()})
    return out


__all__ = ["DEFAULT_TASK", "TASKS", "Task", "TaskBuilder", "get_task", "task_ranges", "task_sections"]
