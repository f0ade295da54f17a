"""The house stays easy to find one's way in: short modules, and a map that lists every room.

The map is README's "What is here" table and CONTRIBUTING's layout section: each lists every
package folder (a folder with an `__init__.py`, and the data folders the wheel ships).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["persistence", "agents", "graphs", "evals", "app"]
MODULE_LINES = 400
TEST_FILE_LINES = 1_000


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines())


def _package_folders() -> set[str]:
    """Every folder that ships as a package: one with an `__init__.py`, or a data folder."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {
        init.parent.relative_to(ROOT).as_posix()
        for part in PARTS
        for init in (ROOT / part).rglob("__init__.py")
    }
    for package in set(setuptools["package-data"]) - {"*"}:
        part, *inner = package.split(".")[1:]
        folders.add("/".join([setuptools["package-dir"][f"accord.{part}"], *inner]))
    return folders


def _section(document: str, heading: str) -> str:
    text = (ROOT / document).read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_package_modules_are_under_400_lines() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): _lines(path)
        for part in PARTS
        for path in (ROOT / part).rglob("*.py")
        if _lines(path) >= MODULE_LINES
    }
    assert not long


def test_test_files_are_under_1000_lines() -> None:
    long = {
        path.relative_to(ROOT).as_posix(): _lines(path)
        for path in (ROOT / "tests").rglob("*.py")
        if _lines(path) >= TEST_FILE_LINES
    }
    assert not long


def test_data_folders_are_among_the_package_folders() -> None:
    assert {"evals/datasets", "app/server/page"} <= _package_folders()


@pytest.mark.parametrize(
    ("document", "heading"), [("README.md", "What is here"), ("CONTRIBUTING.md", "Layout")]
)
def test_every_package_folder_is_on_the_map(document: str, heading: str) -> None:
    section = _section(document, heading)
    missing = sorted(
        folder
        for folder in _package_folders()
        if not re.search(rf"(?<![\w/]){re.escape(folder)}/(?![\w/])", section)
    )
    assert not missing, f"{document} ({heading}) does not list {missing}"
