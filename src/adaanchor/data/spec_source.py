"""Keypoint specs from anywhere a config may name one: a built-in name, a YAML file, or the data itself.

:func:`adaanchor.data.spec.load_spec` (bottom layer) knows built-in names and YAML files. This module, in the
data layer, adds the sources that need a reader: a DeepLabCut project or table, a SLEAP file and an NWB file's
pose training data carry their keypoint names and skeleton, so ``data.spec`` may point at them. Every caller
above the data layer loads specs through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import AdaAnchorError, DataError, unknown_name_error
from .readers.sleap_labels import is_data_source, spec_from_data
from .spec import SPEC_DIR, KeypointSpec, available_specs
from .spec import load_spec as load_file_spec

#: What a path given as a keypoint spec (or as custom data's data.root) may be.
EXPECTED = ("a keypoint spec YAML file, a DeepLabCut project (its folder, config.yaml or a CollectedData table), "
            "a SLEAP .slp file, a YOLO pose dataset (its folder or data.yaml), an NWB .nwb file with pose training data "
            "or a COCO-format .json file")


def read_from_data(spec: KeypointSpec) -> bool:
    """Whether ``spec`` was derived from pose data (a DeepLabCut project, a ``.slp`` or ``.nwb``, a YOLO dataset, a
    COCO file's categories) rather than read from a spec YAML or a built-in name: such a spec has no file of its own to copy."""
    return bool(spec.source) and is_data_source(Path(spec.source))


def is_builtin_name(value: Any) -> bool:
    """Whether ``value`` names a built-in spec (``coco``, ``mpii``, ...): such a name wins over a file or folder of
    that name in the working directory (a data folder named ``coco``)."""
    text = str(value)
    return isinstance(value, (str, Path)) and "/" not in text and (SPEC_DIR / f"{text}.yaml").is_file()


def load_spec(name_or_path: str | Path | KeypointSpec | Mapping[str, Any]) -> KeypointSpec:
    """A built-in spec name, a YAML file, a mapping, or a pose-data source (DeepLabCut project/table, .slp, .nwb)."""
    if isinstance(name_or_path, (str, Path)):
        text = str(name_or_path)
        builtin = is_builtin_name(name_or_path)
        path = Path(text).expanduser()
        if not builtin and is_data_source(path):
            return spec_from_data(path)
        if not builtin and path.suffix.lower() not in (".yaml", ".yml"):
            # Not a spec YAML by its name: most often data.root (which custom data's config names as its spec)
            # with a typo or a file of another kind, so say what would have been read, not only "spec".
            if not path.exists():
                if "/" in text or path.suffix:
                    raise DataError(path, f"no such file or folder; expected {EXPECTED}")
                name_err = unknown_name_error("keypoint spec", text, available_specs())
                raise AdaAnchorError(f"{name_err}; nor is '{text}' a file or folder here ({EXPECTED})")
            if path.is_file():
                try:
                    return load_file_spec(path)
                except DataError as e:
                    if not str(e.reason).startswith(("invalid YAML", "a keypoint spec must be")):
                        raise  # a YAML spec with a bad entry: that error is the useful one
                    raise DataError(path, f"not a keypoint spec YAML file; expected {EXPECTED}") from None
    return load_file_spec(name_or_path)
