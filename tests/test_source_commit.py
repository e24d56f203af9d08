"""The source commit that ``config_history.yaml`` and ``--version`` record (adaanchor.versions.source_commit)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from adaanchor.versions import source_commit

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(root: Path, *args: str) -> str:
    env = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", "-C", str(root), *env, *args], check=True, capture_output=True, text=True).stdout


def _checkout(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "repo"
    pkg = root / "src" / "pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-q", "-m", "one")
    return root, pkg


def test_a_package_in_a_checkout_reports_its_commit_and_whether_files_changed(tmp_path):
    root, pkg = _checkout(tmp_path)
    head = _git(root, "rev-parse", "HEAD").strip()
    assert source_commit.__wrapped__(pkg) == head
    (root / "runs").mkdir()
    (root / "runs" / "log.txt").write_text("untracked run output is not the code\n")
    assert source_commit.__wrapped__(pkg) == head
    (pkg / "__init__.py").write_text("x = 2\n")
    assert source_commit.__wrapped__(pkg) == head + " (modified)"


def test_an_installed_copy_inside_another_checkout_has_no_commit(tmp_path):
    # A virtual environment inside another project's checkout: that project's commit says nothing of the package.
    root, _ = _checkout(tmp_path)
    installed = root / ".venv" / "lib" / "site-packages" / "adaanchor"
    installed.mkdir(parents=True)
    (installed / "__init__.py").write_text("")
    assert source_commit.__wrapped__(installed) is None
    outside = tmp_path / "elsewhere" / "adaanchor"
    outside.mkdir(parents=True)
    assert source_commit.__wrapped__(outside) is None


def test_the_run_history_records_the_versions_with_the_commit_of_this_checkout():
    from adaanchor.versions import versions

    v = versions()
    here = Path(__file__).resolve().parents[1]
    if (here / ".git").exists():  # the tests run from a checkout (CI's clean clone): its commit is recorded
        assert v["commit"].split(" ")[0] == _git(here, "rev-parse", "HEAD").strip()
