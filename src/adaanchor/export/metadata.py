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


__all__ = ["DOC_DECODED", "DOC_HEADS", "add_metadata", "graph_metadata"]
