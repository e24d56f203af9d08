"""Metrics: single-keypoint error/score by visibility, and the official AP/PCKh/NME through maintained tools.

The functions most used are importable from here, each loaded on first use (the COCO tools take a tenth of a second
to import)::

    from adaanchor.metrics import single_keypoint_metrics, nme_metrics, coco_keypoint_ap, keypoint_recall

Two share their module's name, so ``adaanchor.metrics.pckh`` and ``adaanchor.metrics.score`` are the modules:
import those functions from them (``from adaanchor.metrics.pckh import pckh``, ``from adaanchor.metrics.score
import score``).
"""

from __future__ import annotations

import importlib
from typing import Any

#: name -> the module of this package that defines it.
_EXPORTS = {
    "single_keypoint_metrics": "keypoint", "errors_by_visibility": "keypoint", "errors_by_keypoint": "keypoint",
    "nme_metrics": "nme", "failure_rate": "nme", "ced_auc": "nme",
    "coco_keypoint_ap": "coco", "crowdpose_ap": "coco",
    "keypoint_recall": "recall",
    "predictions_to_coco_results": "results", "write_results": "results", "load_results": "results",
    "multi_person_metrics": "sweep", "gamma_sweep": "sweep",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


__all__ = sorted(_EXPORTS)
