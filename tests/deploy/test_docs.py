"""The project explains itself: its design is in docs/, and every link there leads somewhere."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# A design document outside the repository: future readers will not have it.
OUTSIDE_DESIGN = re.compile(r"DESIGN(\.md| §)|\.\./\.\./shared|/work/shared")


def test_the_docs_exist_and_the_readme_leads_to_them() -> None:
    names = {path.name for path in DOCS}
    assert {"architecture.md", "api.md", "data-model.md", "lifecycle.md", "abuse.md"} <= names
    assert "docs/architecture.md" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("page", [*DOCS, ROOT / "README.md"], ids=lambda path: path.name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in MARKDOWN_LINK.findall(page.read_text()):
        if "://" in target:
            continue
        assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_no_file_points_outside_the_repository() -> None:
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    offenders = [
        name
        for name in tracked
        if (ROOT / name).is_file()
        and name != "tests/deploy/test_docs.py"
        and OUTSIDE_DESIGN.search((ROOT / name).read_text(errors="ignore"))
    ]
    assert offenders == []
