"""Annotation formats by name: ``data.format`` in a config picks one. Every reader has the signature
``reader(path, spec, images_dir=None, skip_invalid=False) -> ReadResult``.
"""

from __future__ import annotations

from collections.abc import Callable

from .coco import read_coco

#: format name -> reader. ``synth`` is the built-in benchmark, written as COCO JSON.
FORMATS: dict[str, Callable] = {
    "coco": read_coco,
    "synth": read_coco,
}
