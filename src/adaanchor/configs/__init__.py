"""The configs that ship with the package, usable by name anywhere: the demo, custom data and crowd figures
(``demo``, ``custom``, ``bottomup_crowd``), and the paper's settings per data set (``coco/adaanchor_res50_256x192``,
``mpii/...``, ``wflw/...``, ``crowdpose/...``, ``faces/occluded_ytfaces68``, ``faces/truncated_ytfaces68``).

Kept free of heavy imports: the command line reads these paths before it needs torch."""

from __future__ import annotations

from pathlib import Path

#: The folder of the packaged config files.
PACKAGED_CONFIGS = Path(__file__).resolve().parent
_SUFFIXES = ("", ".yaml", ".yml")


def config_file(path: str | Path) -> Path:
    """``path`` when it is a file; otherwise, for a relative name of a YAML file, the packaged config of that name:
    ``demo``, ``demo.yaml``, ``coco/adaanchor_res50_256x192``, and the repository path the paper configs had
    before they were packaged (``configs/coco/adaanchor_res50_256x192.yaml``). Anything else is returned as
    given (its error names it). A folder of the same name does not hide a packaged config: ``adaanchor demo --out
    demo`` writes one, and ``adaanchor train demo`` run beside it means the config."""
    p = Path(path)
    # "./demo" is a path on purpose (pathlib drops the "./"): only bare names are looked up.
    if p.is_file() or p.is_absolute() or p.suffix.lower() not in _SUFFIXES or str(path).startswith((".", "~")):
        return p
    parts = p.parts[1:] if p.parts[:1] == ("configs",) else p.parts
    if not 1 <= len(parts) <= 2 or any(part in ("..", ".") for part in parts):
        return p
    packaged = PACKAGED_CONFIGS.joinpath(*parts[:-1], f"{Path(parts[-1]).stem}.yaml")
    return packaged if packaged.is_file() else p


def packaged_names() -> list[str]:
    """The names of the packaged configs: ``demo``, ..., then ``coco/adaanchor_res50_256x192``, ..."""
    top = sorted(q.stem for q in PACKAGED_CONFIGS.glob("*.yaml"))
    return top + sorted(f"{q.parent.name}/{q.stem}" for q in PACKAGED_CONFIGS.glob("*/*.yaml"))
