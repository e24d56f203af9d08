"""The metadata stored in an exported file (``metadata_props`` and the doc string)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .runtime import model_opset, need_onnx

#: The doc string of a graph with decoding, and of a multi-person run's graph (its head maps).
DOC_DECODED = ("adaanchor keypoint model with decoding: image (B,3,H,W) ImageNet-normalised -> keypoints (B,K,2) "
               "input pixels (pixel centres at integers), scores (B,K), anchors (B,K,2)")
DOC_HEADS = ("adaanchor multi-person network: image (B,3,H,W) ImageNet-normalised, H and W multiples of "
             "adaanchor.spatial_multiple -> its head maps (B,C,H/stride,W/stride); the poses are grouped from them "
             "after the graph (adaanchor's decode_poses)")


def add_metadata(path: Path, meta: dict[str, str], doc: str = DOC_DECODED) -> int:
    """Write ``meta`` into the model's metadata_props; returns the model's default-domain opset."""
    onnx = need_onnx()
    m = onnx.load(str(path))
    del m.metadata_props[:]
    for k, v in meta.items():
        p = m.metadata_props.add()
        p.key, p.value = k, v
    m.doc_string = doc
    onnx.save(m, str(path))
    return model_opset(m)


def graph_metadata(strategy: Any, input_size: tuple[int, int], names: list[str],
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    """The ``adaanchor.*`` metadata of a graph: strategy, input size ``(W, H)``, stride, outputs, conventions."""
    w, h = input_size
    return {
        "adaanchor.strategy": str(getattr(strategy, "name", "")),
        "adaanchor.input_size": f"{w},{h}",
        "adaanchor.stride": str(int(getattr(strategy, "stride", 0))),
        "adaanchor.outputs": ",".join(names),
        "adaanchor.normalization": "imagenet mean/std on RGB in [0, 1]",
        "adaanchor.coordinates": "input pixels, pixel centres at integer coordinates",
        **(extra or {}),
    }


#: The metadata key of the SHA-256 (first 16 hex digits) of the checkpoint a graph was exported from.
CHECKPOINT_DIGEST = "adaanchor.checkpoint_sha256"


def checkpoint_digest(path: str | Path | None) -> str | None:
    """The first 16 hex digits of the SHA-256 of a checkpoint (or weights) file, or None when ``path`` is not a
    file (no checkpoint, a ``timm:`` name). What a graph was exported from, whatever the file's name or time."""
    import hashlib

    if path is None or not Path(str(path)).is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


def read_metadata(path: str | Path) -> dict[str, str]:
    """The ``metadata_props`` of an ONNX file ({} when it cannot be read: the caller exports it again)."""
    onnx = need_onnx()
    try:
        m = onnx.load(str(path), load_external_data=False)
    except Exception:  # noqa: BLE001 - a damaged file is written again, not an error here
        return {}
    return {p.key: p.value for p in m.metadata_props}


def checkpoint_label(path: str | Path | None, step: Any = None) -> str:
    """``adaanchor.checkpoint``: the file name and step (not the local folder layout)."""
    if path is None:
        return ""
    return f"{Path(str(path)).name} (step {step})" if step is not None else Path(str(path)).name


__all__ = ["CHECKPOINT_DIGEST", "DOC_DECODED", "DOC_HEADS", "add_metadata", "checkpoint_digest", "checkpoint_label",
           "graph_metadata", "read_metadata"]
