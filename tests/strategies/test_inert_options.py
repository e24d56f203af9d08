"""Options of the flat ``strategy`` section that the named strategy does not read: ``train`` warns of each one set
to another value than its default (``strategy.select=atss`` with fixanchor, ``strategy.topk`` with the heatmap, a
refinement option with ``refine=false`` trained as if unset, without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import OmegaConf

from adaanchor.config import build_config
from adaanchor.strategies.inert import inert_options, inert_sections, inert_warnings


def _section(*over: str) -> dict:
    return OmegaConf.to_container(build_config(None, list(over)).strategy, resolve=True)


@pytest.mark.parametrize("over, keys", [
    (["strategy.name=heatmap", "strategy.topk=5", "strategy.heatmap_sigma=3"], ["topk"]),
    (["strategy.name=adaanchor", "strategy.heatmap_sigma=3"], ["heatmap_sigma"]),
    (["strategy.name=fixanchor", "strategy.select=atss", "strategy.sigma=8", "strategy.topk=5"], ["select", "sigma"]),
    (["strategy.name=fixanchor", "strategy.warmup_steps=10"], ["warmup_steps"]),
    (["strategy.refine=false", "strategy.local_radius=3", "strategy.lambda_local=2"], ["local_radius", "lambda_local"]),
    (["strategy.name=regression", "strategy.focal_gamma=1"], ["focal_gamma"]),
    # The adaptive assigner's options that its other options leave unread (training was bit-identical without them).
    (["strategy.name=alignanchor", "strategy.fusion=add"], ["fusion"]),
    (["strategy.select=dynamic", "strategy.topk=1"], ["topk"]),
    (["strategy.select=atss", "strategy.topk=1", "strategy.dynamic_q=3"], ["topk", "dynamic_q"]),
    (["strategy.select=dynamic", "strategy.topk=1", "strategy.warmup_steps=5"], []),  # the warm-up's FixAnchor reads topk
    (["strategy.quality=oks", "strategy.sigma=100"], ["sigma"]),
    (["strategy.align_alpha=3", "strategy.align_beta=1", "strategy.prior_scale=5", "strategy.prior_min_cells=9",
      "strategy.oks_sigmas=[0.1]"], ["align_alpha", "align_beta", "prior_scale", "prior_min_cells", "oks_sigmas"]),
    (["strategy.name=localanchor", "strategy.prior_scale=0.5"], []),  # its preset sets prior=instance
])
def test_options_the_strategy_does_not_read_are_named(over, keys):
    assert sorted(inert_options(_section(*over))) == sorted(keys)
    lines = inert_warnings({"strategy": _section(*over)})
    assert len(lines) == len(keys) and all(line.startswith("warning: strategy.") for line in lines)


@pytest.mark.parametrize("name", ["adaanchor", "fixanchor", "heatmap", "regression", "localanchor", "alignanchor"])
def test_defaults_and_presets_warn_of_nothing(name):
    assert inert_options(_section(f"strategy.name={name}")) == {}
    if name not in ("heatmap", "regression"):  # every anchor strategy reads topk
        assert inert_options(_section(f"strategy.name={name}", "strategy.topk=5")) == {}


def test_no_packaged_config_sets_an_option_its_strategy_does_not_read():
    configs = Path(__file__).resolve().parents[2] / "src" / "adaanchor" / "configs"
    for path in sorted(configs.rglob("*.yaml")):
        section = OmegaConf.to_container(build_config(path, ["model.weights=null"]).strategy, resolve=True)
        assert inert_options(section) == {}, path


def test_options_of_another_task_are_named():
    def plain(*over: str) -> dict:
        return OmegaConf.to_container(build_config(None, list(over)), resolve=True)

    cfg = plain("task=centre", "data.format=crowd", "bottomup.gamma=0.5", "centre.gamma=0.2")
    assert inert_sections(cfg) == ["bottomup.gamma"]
    assert inert_warnings(cfg) == ["warning: bottomup.gamma has no effect: an option of another task than task=centre"]
    assert inert_sections(plain("bottomup.gamma=0.5")) == ["bottomup.gamma"]  # top-down reads neither
    assert inert_sections(plain("task=bottomup", "data.format=crowd", "bottomup.gamma=0.5")) == []
    for path in sorted((Path(__file__).resolve().parents[2] / "src" / "adaanchor" / "configs").rglob("*.yaml")):
        assert inert_sections(OmegaConf.to_container(build_config(path, ["model.weights=null"]), resolve=True)) == []


def test_data_options_of_another_task_or_data_format_are_named():
    """Bottom-up training reads data.multi_aug and not data.aug, the crowd data never reads data.synth, and the
    reverse: each was accepted and ignored without a word."""
    from adaanchor.strategies.inert import inert_data_options

    def plain(*over: str) -> dict:
        return OmegaConf.to_container(build_config(*over), resolve=True)

    assert inert_data_options(plain("bottomup_crowd", ["data.aug.rotation=90", "data.synth.n_train=5"])) == {
        "data.aug.rotation": "task=bottomup augments whole images with data.multi_aug",
        "data.synth.n_train": "the generated benchmark's (data.format=synth); data.format is crowd"}
    assert sorted(inert_data_options(plain("demo", ["data.multi_aug.rotation=90", "data.crowd.n_train=5"]))) == [
        "data.crowd.n_train", "data.multi_aug.rotation"]
    assert inert_data_options(plain("demo", ["data.aug.rotation=30", "data.synth.n_train=100"])) == {}
    lines = inert_warnings(plain("demo", ["data.multi_aug.rotation=90"]))
    assert lines == ["warning: data.multi_aug.rotation has no effect: the multi-person tasks read it; task=topdown "
                     "augments with data.aug"]
    for path in sorted((Path(__file__).resolve().parents[2] / "src" / "adaanchor" / "configs").rglob("*.yaml")):
        assert inert_data_options(plain(path, ["model.weights=null"])) == {}, path


def test_the_half_body_crop_under_whole_image_crops_is_named():
    """data.aug.half_body did nothing with data.crop=image (the default of the demo and of custom data): the crops
    were identical with and without it, and nothing said so."""
    plain = lambda over: OmegaConf.to_container(build_config("demo", over), resolve=True)  # noqa: E731
    assert inert_warnings(plain(["data.aug.half_body=0.5"])) == [
        "warning: data.aug.half_body has no effect: data.crop=image takes the whole image; the half-body crop needs "
        "data.crop=box"]
    assert inert_warnings(plain(["data.aug.half_body=0.5", "data.crop=box"])) == []


def test_overrides_nothing_reads_are_named_by_the_commands_that_load_a_run(tmp_path, capsys):
    """``eval``, ``predict``, ``viz`` and ``export`` dropped ``bottomup.gamma=0.9`` on a top-down or person-centre run
    without a word, where ``train`` warns; the run's own config is not warned of again."""
    from adaanchor.engine.run import resolve_run
    from adaanchor.strategies.inert import inert_overrides
    from root_helpers import one_step_demo_run

    cfg = OmegaConf.to_container(build_config(None, ["task=centre", "bottomup.gamma=0.9", "centre.gamma=0.2",
                                                     "data.aug.flip=0.1"]), resolve=True)
    assert inert_overrides(cfg, ["bottomup.gamma", "centre.gamma"]) == [
        "warning: bottomup.gamma has no effect: an option of another task than task=centre"]
    assert inert_overrides(cfg, ["bottomup"]) == inert_overrides(cfg, ["bottomup.gamma"])  # a section given whole
    assert inert_overrides(cfg, ["data.aug.flip"])[0].startswith("warning: data.aug.flip has no effect: task=centre")
    assert inert_overrides(cfg, ["seed"]) == []
    run = one_step_demo_run(tmp_path)
    capsys.readouterr()
    resolve_run(run, overrides=["bottomup.gamma=0.9"], need_data=False)
    assert "warning: bottomup.gamma has no effect: an option of another task than task=topdown" in capsys.readouterr().err
    resolve_run(run, need_data=False)
    assert "has no effect" not in capsys.readouterr().err


def test_the_generated_images_size_set_in_the_generators_section_is_named():
    """``data.synth.width=100`` trained on the 72x96 benchmark without a word, where other unread data options warn;
    and the strategy options' reason read as if setting them turned the other option on ("it sets ...")."""
    from omegaconf import OmegaConf

    from adaanchor.config import build_config
    from adaanchor.strategies.inert import inert_warnings

    cfg = OmegaConf.to_container(build_config("demo", ["data.synth.width=100", "strategy.oks_sigmas=[0.1]"]),
                                 resolve=True)
    said = inert_warnings(cfg)
    assert "warning: data.synth.width has no effect: data.input_size sets the generated images' size" in said
    assert "warning: strategy.oks_sigmas=[0.1] has no effect: it is read only with strategy.quality=oks" in said
    assert not any("it sets" in w for w in said)
