"""Ultralytics YOLO pose datasets (``data.format=yolo``): a ``data.yaml`` and one label file per image.

The layout Ultralytics documents::

    dataset/
      data.yaml         path: .  train: images/train  val: images/val  kpt_shape: [K, 3]  flip_idx: [...]
      images/train/a.jpg ...    labels/train/a.txt ...   (the label of .../images/.../a.jpg is .../labels/.../a.txt)

Each label line is one instance: ``class cx cy w h`` then ``x y v`` (``kpt_shape [K, 3]``) or ``x y``
(``[K, 2]``) per keypoint, every coordinate divided by the image's width or height.

- **Coordinates**: ``x * W`` and ``y * H``, the numbers of the COCO annotation a YOLO label is usually converted
  from (the COCO reader reads those as given), so both readings of one dataset agree.
- **Visibility** is kept as written: 0 not labelled, 1 labelled but occluded, 2 visible; with ``[K, 2]``, a
  point at ``(0, 0)`` is unlabelled and every other one visible. sleap-io's Ultralytics reader marks 1 as
  visible, which would erase the occluded keypoints this project measures, so this reader is its own.
- **Keypoint spec** (``data.spec`` = the dataset): names from ``kpt_names`` (a list, or per class
  ``{0: [...]}``); without names, 17 keypoints are COCO's (Ultralytics' ``coco-pose.yaml``) unless a
  ``flip_idx`` other than COCO's says they are not, and any other count is ``kp0 .. kpK-1``. Flip pairs from
  ``flip_idx``; no skeleton unless the names are COCO's.
- **EXIF orientation**: Ultralytics reads a photo turned as its orientation tag says and normalises its labels
  by that displayed size; so does this reader. Such images need ``data.exif=apply`` (the stored pixels would not
  match the labels): with ``ignore`` the split is refused, naming the image.
- **Which images**: ``data.root`` (the folder of ``data.yaml``, or the file) with ``data.train`` and
  ``data.val`` = ``.`` reads every image of the yaml's ``train`` and ``val`` entries (then split them with
  ``data.split``, as the packaged custom config does); a split folder of images (``images/train``) or an image
  list (``train.txt``) reads that split only. An image without a label file has no instance (a background
  image in Ultralytics' terms).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import DataError
from ..records import Instance
from ..spec import KeypointSpec, load_spec
from . import Collector, ReadResult, spec_by_name
from .pts import IMAGE_SUFFIXES, image_ids
from .sleap_labels import make_spec
from .yolo_labels import class_ids, label_instances, shown_path


def is_yolo_yaml(path: Path) -> bool:
    """``path`` is a YAML file with a ``kpt_shape`` (an Ultralytics pose dataset's description)."""
    if path.suffix.lower() not in (".yaml", ".yml") or not path.is_file():
        return False
    try:
        return "kpt_shape" in (_yaml(path) or {})
    except DataError:
        return False


def yaml_without_kpt_shape(path: Path) -> Path | None:
    """A YAML at ``path`` (or in the folder ``path``) that describes an Ultralytics dataset (``train`` as a path or
    a list of paths, and ``names`` or ``nc``) but has no ``kpt_shape``: a detection dataset, or a pose dataset's
    YAML with the key left out. Found so that the error names it and the key, not another format's files."""
    cands = [path] if path.is_file() else sorted(path.glob("*.y*ml")) if path.is_dir() else []
    for cand in cands:
        if cand.suffix.lower() not in (".yaml", ".yml"):
            continue
        try:
            cfg = _yaml(cand)
        except DataError:
            continue
        train = cfg.get("train")
        paths = isinstance(train, str) or (isinstance(train, list) and all(isinstance(t, str) for t in train))
        if "kpt_shape" not in cfg and paths and ("names" in cfg or "nc" in cfg):
            return cand
    return None


def find_yolo_yaml(path: Path) -> Path | None:
    """The dataset YAML of ``path``: itself, one in the folder, or one in up to three folders above it."""
    if is_yolo_yaml(path):
        return path
    for folder in [path, *list(path.parents)[:3]] if path.is_dir() else list(path.parents)[:4]:
        for cand in sorted(folder.glob("*.y*ml")) if folder.is_dir() else []:
            if is_yolo_yaml(cand):
                return cand
    return None


def _yaml(path: Path) -> dict[str, Any]:
    import yaml

    from ...safe_yaml import YamlFault, load_yaml_text

    try:
        data = load_yaml_text(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YamlFault, ValueError, yaml.YAMLError) as e:  # a broken spec.yaml too
        raise DataError(path, f"cannot read the dataset YAML ({e})") from None
    return data if isinstance(data, dict) else {}


def _whole_numbers(value: Any) -> list[int] | None:
    """``value`` when it is a list of YAML integers; None for anything else, floats, booleans and strings included
    (``int()`` read ``[5.7, 3]`` and ``["5", "3"]`` as 5 keypoints, and ``true`` as 1)."""
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return None
    return value


def _shape(cfg: dict[str, Any], path: Path) -> tuple[int, int]:
    shape = _whole_numbers(cfg["kpt_shape"])
    if shape is None or len(shape) != 2 or shape[0] < 1 or shape[1] not in (2, 3):
        raise DataError(path, f"expected [K, 2] or [K, 3] (whole numbers, K >= 1), got {cfg.get('kpt_shape')!r}",
                        field="kpt_shape")
    return shape[0], shape[1]


def _dataset(path: Path) -> tuple[Path, dict[str, Any], int, int]:
    """The dataset YAML of ``path``, its contents and its ``kpt_shape`` ``(K, 2 or 3)``."""
    yml = find_yolo_yaml(path)
    if yml is None:
        near = yaml_without_kpt_shape(path)
        if near is not None:
            raise DataError(near, "missing: a YOLO pose dataset's YAML gives kpt_shape: [K, 2] or [K, 3] (K keypoints "
                                  "of x, y or x, y, visibility); without it this is a detection dataset", field="kpt_shape")
        raise DataError(path, "no YOLO dataset YAML (a .yaml with kpt_shape) here or in the folders above")
    cfg = _yaml(yml)
    return yml, cfg, *_shape(cfg, yml)


def yolo_spec(path: str | Path) -> KeypointSpec:
    """The keypoint spec of a YOLO pose dataset (its folder, ``data.yaml``, or a split inside it)."""
    yml, cfg, k, _ = _dataset(Path(path).expanduser())
    names = cfg.get("kpt_names")
    if isinstance(names, dict) and names:
        lists = list(names.values())
        if any(list(v) != list(lists[0]) if isinstance(v, (list, tuple)) else True for v in lists[1:]):
            # Read under the first class's names: a dog's tail trained as a cat's nose, without a word.
            raise DataError(yml, "per-class keypoint names differ (" + "; ".join(
                f"{c}: {v}" for c, v in list(names.items())[:3]) + "): one model reads one keypoint set; give the "
                "classes one list of names (kpt_names: [...]), or train each class on its own", field="kpt_names")
        names = lists[0]
    flip = cfg.get("flip_idx")
    if flip is not None:
        flip = _whole_numbers(flip)  # 2.6 or true was truncated by int() into a valid permutation
        if flip is None or sorted(flip) != list(range(k)) or any(flip[flip[i]] != i for i in range(k)):
            raise DataError(yml, f"expected a self-inverse permutation of 0..{k - 1} (whole numbers), got "
                                 f"{cfg.get('flip_idx')!r}", field="flip_idx")
    if names is None and k == 17 and (flip is None or flip == load_spec("coco").flip_index.tolist()):
        # Ultralytics' coco-pose.yaml names no keypoint; a flip_idx other than COCO's says the 17 are not COCO's.
        coco = load_spec("coco")
        return KeypointSpec(name=yml.stem, keypoints=coco.keypoints, flip_pairs=coco.flip_pairs, skeleton=coco.skeleton,
                            sigmas=coco.sigmas, upper_body=coco.upper_body, source=str(yml))
    names = [str(n) for n in names] if isinstance(names, (list, tuple)) else [f"kp{i}" for i in range(k)]
    if len(names) != k or len(set(names)) != k:
        raise DataError(yml, f"expected {k} distinct names (kpt_shape), got {names}", field="kpt_names")
    pairs = [(names[i], names[j]) for i, j in enumerate(flip or []) if i < j]
    return make_spec(yml.stem, names, [], pairs if flip is not None else None, str(yml))


def _entries(cfg: dict[str, Any], yml: Path, keys: tuple[str, ...] = ("train", "val")) -> list[Path]:
    """The yaml's ``keys`` entries (``train`` and ``val``) as paths, relative to the dataset root: its ``path`` where that
    folder exists (absolute, beside the yaml, or from the working directory), else the yaml's folder (a copied
    dataset whose ``path`` still names the machine it was made on)."""
    given = Path(str(cfg.get("path") or "."))
    roots = [given] if given.is_absolute() else [yml.parent / given, given]
    base = next((r for r in roots if r.is_dir()), yml.parent)
    out = []
    for key in keys:
        val = cfg.get(key)
        for v in val if isinstance(val, list) else [val] if val else []:
            out.append((base / str(v)).resolve())
    return out


def split_entry(path: str | Path, split: str) -> Path | None:
    """The dataset's own ``split`` (``train`` or ``val``) when ``path`` is the whole dataset (its folder or YAML)
    and the YAML names both splits, each as one folder or list: its path; else None."""
    p = Path(path).expanduser()
    yml = find_yolo_yaml(p)
    if yml is None or not (p == yml or (p.is_dir() and p.resolve() == yml.parent.resolve())):
        return None
    cfg = _yaml(yml)
    if not all(isinstance(cfg.get(k), str) and cfg.get(k) for k in ("train", "val")):
        return None
    return _entries(cfg, yml, (split,))[0]


def _images(path: Path) -> list[Path]:
    """The images of one entry: a folder (searched recursively), a list file, or one image."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if path.suffix.lower() == ".txt" and path.is_file():
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            raise DataError(path, f"cannot read the image list ({type(e).__name__}: a text file of image paths, "
                                  "one a line, in UTF-8)") from None
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        return [(path.parent / ln).resolve() if not Path(ln).is_absolute() else Path(ln) for ln in lines]
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return [path]
    raise DataError(path, "no such image folder, image list or image")


def label_path(image: Path) -> Path:
    """Ultralytics' rule: the last ``images`` folder of the path becomes ``labels``, the suffix ``.txt``."""
    parts = list(image.parts)
    i = max((j for j, q in enumerate(parts[:-1]) if q == "images"), default=None)
    if i is None:
        return image.with_suffix(".txt")
    parts[i] = "labels"
    return Path(*parts).with_suffix(".txt")


@spec_by_name
def read_yolo(path: str | Path, spec: KeypointSpec, images_dir: Any = None, skip_invalid: bool = False) -> ReadResult:
    """Instances of a YOLO pose dataset or one of its splits (see the module docstring)."""
    p = Path(path).expanduser()
    yml, cfg, k, d = _dataset(p)
    if spec.num_keypoints != k:
        raise DataError(yml, f"kpt_shape has {k} keypoints, spec '{spec.name}' {spec.num_keypoints}; data.spec=<the "
                             "dataset> derives the spec from it", field="kpt_shape")
    whole = p == yml or (p.is_dir() and p.resolve() == yml.parent.resolve())
    images = [im for e in (_entries(cfg, yml) if whole else [p]) for im in _images(e)]
    col = Collector(str(yml if whole else p), skip_invalid)
    classes = class_ids(cfg, yml)
    out: list[Instance] = []
    ids = image_ids(str(im) for im in images)  # as the other formats number images (docs/datasets.md)
    by_label: dict[Path, list[Path]] = {}
    for image in dict.fromkeys(images):
        by_label.setdefault(label_path(image), []).append(image)
    for lbl, shared in by_label.items():
        if not lbl.is_file():
            continue
        if len(shared) > 1:  # a.png and a.jpg: Ultralytics gives both a.txt's labels, right for one image at most
            names = ", ".join(shown_path(im, yml.parent) for im in shared)
            col.fail(f"the label file of {len(shared)} images ({names}): a label is found by the image's name without "
                     "its suffix, so each would take these labels; keep one image of each name",
                     record=shown_path(lbl, yml.parent), field="image")
            continue
        out += label_instances(shared[0], ids[str(shared[0])], lbl, (k, d), classes, col, len(out), yml.parent)
    return col.result(out)


__all__ = ["find_yolo_yaml", "is_yolo_yaml", "label_path", "read_yolo", "yolo_spec"]
