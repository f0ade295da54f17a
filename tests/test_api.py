"""Each part's public API: a curated `__all__` that is complete, sorted, importable and small,
with no name exported by two parts; every `__init__.py` holds no logic."""

from __future__ import annotations

import ast
import importlib
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["persistence", "agents", "graphs", "evals", "app"]
MOST_PUBLIC_NAMES = 110
"""About a hundred names in all: what a user reads first; the rest stays in the submodules."""


def _exported(part: str) -> list[str]:
    names: list[str] = importlib.import_module(f"accord.{part}").__all__
    return names


def _bound(init: Path) -> set[str]:
    """The names an `__init__.py` binds at its top level."""
    names: set[str] = set()
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's `__all__` order (RUF022): CONSTANTS, then Classes, then functions."""
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return group, name


@pytest.mark.parametrize("part", PARTS)
def test_all_lists_every_public_name_bound_and_only_those(part: str) -> None:
    bound = {n for n in _bound(ROOT / part / "__init__.py") if not n.startswith("_")}
    assert set(_exported(part)) == bound


@pytest.mark.parametrize("part", PARTS)
def test_all_is_sorted_without_repeats(part: str) -> None:
    names = _exported(part)
    assert names == sorted(set(names), key=_isort_key)


@pytest.mark.parametrize("part", PARTS)
def test_every_listed_name_imports(part: str) -> None:
    module = importlib.import_module(f"accord.{part}")
    missing = [name for name in _exported(part) if not hasattr(module, name)]
    assert not missing


def test_no_name_is_exported_by_two_parts() -> None:
    counts = Counter(name for part in PARTS for name in _exported(part))
    owners = {
        name: [part for part in PARTS if name in _exported(part)]
        for name, count in counts.items()
        if count > 1
    }
    assert not owners


def test_the_public_api_stays_small() -> None:
    sizes = {part: len(_exported(part)) for part in PARTS}
    assert sum(sizes.values()) <= MOST_PUBLIC_NAMES, sizes


def test_init_files_hold_no_logic() -> None:
    """A docstring, imports and `__all__` only."""
    offenders = []
    for part in PARTS:
        for init in sorted((ROOT / part).rglob("__init__.py")):
            body = ast.parse(init.read_text()).body
            for index, node in enumerate(body):
                docstring = (
                    index == 0
                    and isinstance(node, ast.Expr)
                    and isinstance(node.value, ast.Constant)
                    and isinstance(node.value.value, str)
                )
                names_all = isinstance(node, ast.Assign) and [
                    t.id for t in node.targets if isinstance(t, ast.Name)
                ] == ["__all__"]
                if not (docstring or names_all or isinstance(node, ast.Import | ast.ImportFrom)):
                    offenders.append(f"{init.relative_to(ROOT)}:{node.lineno}")
    assert not offenders
