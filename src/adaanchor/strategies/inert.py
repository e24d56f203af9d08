"""Options of the ``strategy`` section that the named strategy does not read.

The section is one flat key space for every strategy (:func:`adaanchor.strategies.strategy_defaults`), so a
config may set ``strategy.topk`` for the heatmap or ``strategy.select`` for FixAnchor, and the run trains as if
it had not. :func:`inert_options` lists such keys, set to a value other than their default, and
:func:`inert_sections` the options of another task's section (``bottomup.*`` under ``task=centre``), so that
``train`` can say so at its start rather than leave the user to find out from the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any

from .anchor import AnchorStrategy
from .assigners import ASSIGNER_DEFAULTS, PRESETS

#: Options that only the adaptive assignment reads (FixAnchor ranks the cells by their distance alone).
ADAPTIVE_ONLY = ("sigma", "fusion", "refine_in_score", "candidate_radius", "warmup_steps", *ASSIGNER_DEFAULTS)
#: Options that only the local refinement branch reads.
REFINE_ONLY = ("refine_in_score", "local_radius", "local_about", "lambda_local")


def inert_options(section: Mapping[str, Any]) -> dict[str, str]:
    """``{key: why}`` for every key of a ``strategy`` section set to another value than its default (a preset's
    value, for a named assigner) that the strategy ``section["name"]`` does not read."""
    from . import DEFAULT_STRATEGY, STRATEGIES, strategy_defaults

    name = str(section.get("name", DEFAULT_STRATEGY))
    cls = STRATEGIES.get(name)
    if cls is None:
        return {}
    defaults = {**strategy_defaults(), **PRESETS.get(name, {})}
    changed = [k for k, v in section.items() if k != "name" and k in defaults and v != defaults[k]]
    out = {k: f"an option of other strategies than {name}" for k in changed if k not in cls.DEFAULTS}
    if cls is AnchorStrategy:
        if AnchorStrategy.ASSIGN[name] == "fixed":
            out.update({k: "it is read by the adaptive assignment, and fixanchor assigns the nearest cells"
                        for k in changed if k in ADAPTIVE_ONLY})
        if not section.get("refine", defaults["refine"]):
            out.update({k: "it is read by the local refinement, which strategy.refine=false turns off"
                        for k in changed if k in REFINE_ONLY})
        if AnchorStrategy.ASSIGN[name] == "adaptive":
            out.update({k: why for k, why in _assigner_inert({**defaults, **section}).items() if k in changed})
    return out


def _assigner_inert(opts: Mapping[str, Any]) -> dict[str, str]:
    """``{key: why}`` for the adaptive assigner's options that its other options (``opts``, the effective values)
    leave unread: ``fusion`` under the aligned metric, ``topk`` under another selection, ``sigma`` under the OKS
    quality, and the options of a metric, selection, quality or prior not chosen."""
    rules = [
        (opts["select"] != "topk" and not opts.get("warmup_steps"), ("topk",),
         f"strategy.select={opts['select']} sets the number of positives itself"),
        (opts["select"] != "dynamic", ("dynamic_q",), "it is read only with strategy.select=dynamic"),
        (opts["metric"] == "aligned", ("fusion",), "strategy.metric=aligned ranks by c^align_alpha * r^align_beta"),
        (opts["metric"] != "aligned", ("align_alpha", "align_beta"), "it is read only with strategy.metric=aligned"),
        (opts["quality"] == "oks", ("sigma",), "strategy.quality=oks scales r by the instance's area and OKS sigmas"),
        (opts["quality"] != "oks", ("oks_sigmas",), "it is read only with strategy.quality=oks"),
        (opts["prior"] != "instance", ("prior_scale", "prior_min_cells"), "it is read only with strategy.prior=instance"),
    ]
    return {k: why for on, keys, why in rules if on for k in keys}


def inert_sections(cfg: Mapping[str, Any]) -> list[str]:
    """``section.key`` for every option of another task's section (``bottomup``, ``centre``) set to another value
    than its default: the task ``cfg["task"]`` does not read them (``task=centre bottomup.gamma=0.5``)."""
    from .tasks import DEFAULT_TASK, TASKS

    task = str(cfg.get("task", DEFAULT_TASK))
    own = TASKS[task].section if task in TASKS else None
    out = []
    for t in TASKS.values():
        if t.section and t.section != own:
            given = cfg.get(t.section) or {}
            out += [f"{t.section}.{k}" for k, v in given.items() if k in t.defaults and v != t.defaults[k]]
    return out


def inert_data_options(cfg: Mapping[str, Any]) -> dict[str, str]:
    """``{data.section.key: why}`` for the options of a ``data`` section that this task or data format does not
    read, set to another value than the default: ``data.aug`` under a multi-person task (which augments with
    ``data.multi_aug``) and the reverse, the generators' ``data.synth`` / ``data.crowd`` for other data."""
    from ..data.data_config import DATA_DEFAULTS
    from .tasks import DEFAULT_TASK

    data = cfg.get("data") or {}
    topdown = str(cfg.get("task", DEFAULT_TASK)) == DEFAULT_TASK
    fmt = str(data.get("format", DATA_DEFAULTS["format"]))
    unread = {"aug": (not topdown, f"task={cfg.get('task')} augments whole images with data.multi_aug"),
              "multi_aug": (topdown, "the multi-person tasks read it; task=topdown augments with data.aug"),
              "synth": (fmt != "synth", f"the generated benchmark's (data.format=synth); data.format is {fmt}"),
              "crowd": (fmt != "crowd", f"the generated crowd benchmark's (data.format=crowd); data.format is {fmt}")}
    out = {}
    for section, (on, why) in unread.items():
        given, default = data.get(section) or {}, DATA_DEFAULTS[section]
        if on and isinstance(given, Mapping):
            out.update({f"data.{section}.{k}": why for k, v in given.items() if k in default and v != default[k]})
    for gen in ("synth", "crowd"):  # the generators' size comes from data.input_size (documented; set silently)
        given, default = data.get(gen) or {}, DATA_DEFAULTS[gen]
        if isinstance(given, Mapping) and fmt == gen:
            out.update({f"data.{gen}.{k}": "data.input_size sets the generated images' size"
                        for k in ("width", "height") if k in given and k in default and given[k] != default[k]})
    aug = data.get("aug") or {}
    if topdown and str(data.get("crop", DATA_DEFAULTS["crop"])) == "image" and isinstance(aug, Mapping) \
            and aug.get("half_body"):
        # The half-body crop replaces a person's box by the box of half its keypoints; with the whole image as the
        # crop there is no box to replace (the crops were identical with and without it).
        out["data.aug.half_body"] = "data.crop=image takes the whole image; the half-body crop needs data.crop=box"
    return out


def _inert_lines(cfg: Mapping[str, Any]) -> dict[str, str]:
    """``{dotted key: warning line}`` for every option of a plain config ``cfg`` that its strategy
    (:func:`inert_options`), its task (:func:`inert_sections`) or its data (:func:`inert_data_options`) does not read."""
    section = cfg.get("strategy") or {}
    lines = {f"strategy.{k}": f"warning: strategy.{k}={section[k]!r} has no effect: {why}"
             for k, why in inert_options(section).items()}
    lines.update({key: f"warning: {key} has no effect: an option of another task than task={cfg.get('task')}"
                  for key in inert_sections(cfg)})
    lines.update({key: f"warning: {key} has no effect: {why}" for key, why in inert_data_options(cfg).items()})
    return lines


#: Dotted keys whose values a packaged config set, not the user (``adaanchor train task=bottomup ...`` on the packaged
#: ``custom.yaml`` warned that its ``data.aug.scale`` has no effect): :func:`inert_warnings` leaves them out. The
#: command line sets it around a training (:func:`adaanchor.config_files.packaged_keys`).
PACKAGED_KEYS: ContextVar[frozenset[str]] = ContextVar("packaged_keys", default=frozenset())


def inert_warnings(cfg: Mapping[str, Any]) -> list[str]:
    """One warning line per option of a plain config ``cfg`` that nothing reads (``train`` says them at its start),
    but those of :data:`PACKAGED_KEYS`."""
    quiet = PACKAGED_KEYS.get()
    return [line for key, line in _inert_lines(cfg).items() if key not in quiet]


def inert_overrides(cfg: Mapping[str, Any], keys: list[str]) -> list[str]:
    """The lines of :func:`inert_warnings` for the options among ``keys`` (dotted override keys, or a section given
    whole): what ``eval``, ``predict``, ``viz`` and ``export`` say of an override nothing reads (``bottomup.gamma=0.9``
    on a person-centre run was dropped without a word, where ``train`` warns)."""
    given = [k.strip() for k in keys if k.strip()]
    return [line for key, line in _inert_lines(cfg).items() if any(key == k or key.startswith(k + ".") for k in given)]


__all__ = ["ADAPTIVE_ONLY", "REFINE_ONLY", "inert_options", "inert_overrides", "inert_sections", "inert_warnings"]
