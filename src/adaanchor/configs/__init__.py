"""The configs that ship with the package (the demo, custom data, crowd figures), usable by name anywhere.

Kept free of heavy imports: the command line reads these paths before it needs torch."""

from __future__ import annotations

from pathlib import Path

#: The folder of the packaged config files.
PACKAGED_CONFIGS = Path(__file__).resolve().parent


def config_file(path: str | Path) -> Path:
    """``path``, or, where no such file exists and it is a bare name (``demo``, ``demo.yaml``), the packaged
    config of that name: an installed package's configs are not in the working directory."""
    p = Path(path)
    if p.exists() or "/" in str(path) or p.suffix.lower() not in ("", ".yaml", ".yml"):
        return p
    packaged = PACKAGED_CONFIGS / f"{p.stem}.yaml"
    return packaged if packaged.is_file() else p


def packaged_names() -> list[str]:
    """The names of the packaged configs."""
    return sorted(q.stem for q in PACKAGED_CONFIGS.glob("*.yaml"))
