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


def test_a_sleap_video_that_moved_is_one_line(tmp_path, capsys):
    """Each labelled frame was a line 'cannot decode the frame from clip.mp4 (FileNotFoundError)'."""
    from test_dlc import make_slp

    from adaanchor.data.readers.slp import read_slp
    from adaanchor.data.spec_source import load_spec

    path = tmp_path / "proj" / "labels.slp"
    path.parent.mkdir()
    make_slp(path, n=4, mp4=True)
    spec = load_spec(path)
    (path.parent / "clip.mp4").rename(tmp_path / "elsewhere.mp4")
    res = read_slp(path, spec, skip_invalid=True)
    assert res.instances == [] and len(res.skipped) == 1
    msg = str(res.skipped[0])
    assert msg.startswith(f"{path} [record video 0] field 'video': video file not found: ") and "clip.mp4" in msg
    assert "move it back, or re-link it in SLEAP" in msg and "its 4 labelled frame(s) are not read" in msg
    capsys.readouterr()
    assert main(["data", "stats", "data.format=slp", f"data.root={path}"]) == 2
    out = capsys.readouterr().out
    assert out.count("video file not found") == 1 and "cannot decode" not in out


def test_a_renamed_video_folder_is_hinted(tmp_path, capsys):
    """Every row was 'image file not found' while the images sat beside the table, with no word why."""
    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3),))
    (root / "labeled-data" / "vidA").rename(root / "labeled-data" / "mouse1")
    capsys.readouterr()
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 2  # nothing usable
    out = capsys.readouterr().out
    assert ("field 'image': image file not found (the row names the folder 'vidA', the table is in 'mouse1', which "
            "holds a file of that name: was the folder renamed?") in out


def test_folders_and_tables_passed_over_are_noted(tmp_path, capsys):
    """A labeled-data folder with frames but no table (labels never saved) and another labeller's table beside the
    scorer's were passed over without a word."""
    import shutil

    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3), ("vidB", 4, 3)))
    (root / "labeled-data" / "vidB" / "CollectedData_lab.csv").unlink()
    table = root / "labeled-data" / "vidA" / "CollectedData_lab.csv"
    shutil.copy(table, table.with_name("CollectedData_ann.csv"))
    capsys.readouterr()
    assert main(["data", "stats", "data.format=dlc", f"data.root={root}"]) == 0
    err = capsys.readouterr().err
    assert err.count(f"note: {root / 'labeled-data'}: vidB hold(s) images but no CollectedData table") == 1
    assert err.count(f"note: {root / 'labeled-data' / 'vidA'}: CollectedData_ann not read (the project's scorer is "
                     "'lab': its table is read)") == 1


def test_the_labelled_data_or_one_video_folder_as_the_root_read_the_project_config(tmp_path):
    """A video's folder as data.root lost the project's skeleton and keypoint order (its spec was named after the
    table); labeled-data/ was 'no DeepLabCut annotation table'."""
    from adaanchor.data.readers.dlc import read_dlc
    from adaanchor.data.spec_source import load_spec

    root = make_dlc_project(tmp_path / "proj", videos=(("vidA", 4, 3), ("vidB", 3, 3)))
    whole = load_spec(root)
    for where, n in ((root / "labeled-data", 5), (root / "labeled-data" / "vidA", 3)):
        spec = load_spec(where)
        assert spec.keypoints == whole.keypoints and spec.skeleton == whole.skeleton and spec.name == whole.name
        assert len(read_dlc(where, spec, skip_invalid=True).instances) == n
