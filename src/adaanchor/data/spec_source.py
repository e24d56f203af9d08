"""Keypoint specs from anywhere a config may name one: a built-in name, a YAML file, or the data itself.

:func:`adaanchor.data.spec.load_spec` (bottom layer) knows built-in names and YAML files. This module, in the
data layer, adds the sources that need a reader: a DeepLabCut project or table and a SLEAP file carry their
keypoint names and skeleton, so ``data.spec`` may point at them. Every caller above the data layer loads specs
through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .readers.sleap_labels import is_data_source, spec_from_data
from .spec import SPEC_DIR, KeypointSpec
from .spec import load_spec as load_file_spec


def load_spec(name_or_path: str | Path | KeypointSpec | Mapping[str, Any]) -> KeypointSpec:
    """A built-in spec name, a YAML file, a mapping, or a pose-data source (DeepLabCut project/table, .slp)."""
    if isinstance(name_or_path, (str, Path)):
        text = str(name_or_path)
        builtin = "/" not in text and (SPEC_DIR / f"{text}.yaml").is_file()
        if not builtin and is_data_source(Path(text).expanduser()):
            return spec_from_data(Path(text).expanduser())
    return load_file_spec(name_or_path)
