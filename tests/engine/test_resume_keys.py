"""What a resume does with the keys of a run's start: ``model.weights`` is not used (the checkpoint replaces it) and
the run keeps the value it started with; ``overwrite=true`` beside a resume is refused; a missing file names its key."""

from __future__ import annotations

import pytest
import yaml

from adaanchor.config import build_config
from adaanchor.engine.train import train
from adaanchor.errors import AdaAnchorError


def _over(tiny_overrides: list[str], steps: int, *extra: str) -> list[str]:
    return [*tiny_overrides, "train.eval_every=0", f"train.max_steps={steps}", *extra]


def test_a_resume_keeps_the_weights_its_run_started_from(tiny_overrides, tmp_path, capsys):
    """A missing model.weights stopped the resume ("foo.pt: checkpoint not found"); another run's checkpoint was
    recorded in config.yaml as the weights this run started from."""
    first = train(build_config(None, _over(tiny_overrides, 2)))
    run = first["run_dir"]
    capsys.readouterr()
    out = train(build_config(None, _over(tiny_overrides, 4, "resume=auto", f"model.weights={tmp_path / 'foo.pt'}")))
    assert out["steps"] == 4
    assert f"note: model.weights={tmp_path / 'foo.pt'} is not used by a resume" in capsys.readouterr().err
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["model"]["weights"] is None
    assert str(run) == str(out["run_dir"])


def test_overwrite_beside_a_resume_is_refused(tiny_overrides, tmp_path):
    """Refused before the first checkpoint too: the same command, requeued once one exists, failed only then."""
    both = _over(tiny_overrides, 4, "resume=auto", "overwrite=true")
    with pytest.raises(AdaAnchorError, match=r"resume=auto and overwrite=true: one continues the training in .*, the "
                       r"other starts it again over its checkpoints; give one"):
        train(build_config(None, both))
    train(build_config(None, _over(tiny_overrides, 2)))
    with pytest.raises(AdaAnchorError, match=r"resume=auto and overwrite=true"):
        train(build_config(None, both))


def test_missing_files_name_their_key(tiny_overrides, tmp_path):
    with pytest.raises(AdaAnchorError, match=r"nope.pt: checkpoint not found \(given as resume\)$"):
        train(build_config(None, _over(tiny_overrides, 2, f"resume={tmp_path / 'nope.pt'}")))
    with pytest.raises(AdaAnchorError, match=r"^model.weights: .*nope.pt: checkpoint not found"):
        train(build_config(None, _over(tiny_overrides, 2, f"model.weights={tmp_path / 'nope.pt'}")))
