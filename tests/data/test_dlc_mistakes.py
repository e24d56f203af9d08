"""What a DeepLabCut user gets wrong about the project itself: a config.yaml that is not valid YAML, the project
given where a run goes."""

from __future__ import annotations

from test_dlc import make_dlc_project

from adaanchor.cli import main


def test_a_yaml_error_in_the_project_config_says_where(tmp_path, capsys):
    """It was 'unreadable DeepLabCut config (ScannerError)': no line, no cause."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    cfg = root / "config.yaml"
    lines = cfg.read_text().splitlines()
    lines[1] = lines[1].replace(": ", ":\t", 1)  # a tab after the key, as an editor may put it
    cfg.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}: unreadable DeepLabCut config: invalid YAML at line 2 column " in err
    assert "found character '\\t' that cannot start any token" in err


def test_a_project_given_as_the_run_is_named_as_a_project(tmp_path, capsys):
    """It was "config.yaml: not the config of a run (...): emptied or replaced?"."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    capsys.readouterr()
    video_frame = root / "labeled-data" / "vidA" / "img000.png"
    assert main(["predict", str(root), str(video_frame), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {root} is a DeepLabCut project, not a run directory: give the folder `adaanchor "
                          "train` wrote") and f"adaanchor train data.format=dlc data.root={root}" in err
    assert main(["eval", str(root)]) == 2
    assert "is a DeepLabCut project, not a run directory" in capsys.readouterr().err
