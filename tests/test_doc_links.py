"""Every relative link in the README and docs/ points to a file of the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target): markdown inline links and images


def _relative_targets(page: Path) -> list[str]:
    """The link targets of ``page`` that name a file (no scheme, no bare anchor), without their #fragment."""
    found = []
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        found.append(target.split("#", 1)[0])
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    missing = [t for t in _relative_targets(page) if not (page.parent / t).exists()]
    assert not missing, f"{page.relative_to(REPO)} links to files that do not exist: {missing}"


def test_the_link_reader_sees_links(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("[a](docs/x.md#part) ![img](img/y.png) [web](https://example.org) [here](#top)\n")
    assert _relative_targets(page) == ["docs/x.md", "img/y.png"]
