"""The file suffixes of the image and video files that ``predict`` and ``viz`` read from a folder
(:mod:`adaanchor.predict.sources`), here in the data layer so that the engine can tell such a file from a run or a
config file (:func:`adaanchor.engine.run.resolve_run`)."""

from __future__ import annotations

from pathlib import Path

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm",
                            ".ico"})
#: Video files by suffix; .ts / .m2ts / .mts: MPEG transport streams (camera recordings, HLS segments).
VIDEO_SUFFIXES = frozenset({".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv", ".mts",
                            ".ts", ".m2ts"})
MEDIA_SUFFIXES = IMAGE_SUFFIXES | VIDEO_SUFFIXES


def media_kind(path: str | Path) -> str | None:
    """``"image"`` or ``"video"`` by the suffix of ``path``, None for another file."""
    suffix = Path(path).suffix.lower()
    return "image" if suffix in IMAGE_SUFFIXES else "video" if suffix in VIDEO_SUFFIXES else None


__all__ = ["IMAGE_SUFFIXES", "MEDIA_SUFFIXES", "VIDEO_SUFFIXES", "media_kind"]
