"""Every package folder under the parts ships in the wheel (pyproject lists it), data too."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for name, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *relative)))
    data_only = set(setuptools["package-data"]) - {"*"}
    assert found == listed - data_only
    assert data_only <= listed, "a data folder ships only as a listed package"


def test_every_part_is_typed() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = setuptools["package-dir"].values()
    assert all((ROOT / folder / "py.typed").is_file() for folder in folders)


def test_no_folder_at_the_root_can_stand_in_for_the_package() -> None:
    """The editable install's import hook would lose to an `accord` folder in the working tree."""
    assert not (ROOT / "accord").exists()
    assert not (ROOT / "accord.py").exists()
