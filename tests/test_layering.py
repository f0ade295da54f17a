"""The parts import one way only (app -> evals -> graphs -> agents -> persistence), only
through each other's public API, and no module reaches into another module's private names."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["persistence", "agents", "graphs", "evals", "app"]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules(part: str) -> list[Path]:
    return sorted((ROOT / part).rglob("*.py"))


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported_modules(path: Path) -> Iterator[tuple[int, str]]:
    """Every absolute `accord.*` module `path` imports (at any depth), with its line."""
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


def _accord_parts(path: Path) -> set[str]:
    return {
        module.split(".")[1]
        for _, module in _imported_modules(path)
        if module.startswith("accord.") and "." in module
    }


def _defined(path: Path) -> set[str]:
    """The names a module defines or assigns: functions, classes, targets, attributes, args."""
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            names.add(node.attr)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.alias):
            names.add(node.asname or node.name.split(".")[0])
    return names


@cache
def _private_anywhere() -> frozenset[str]:
    """Private names some production module of accord defines (another module's, to a reader)."""
    return frozenset(
        name
        for part in ORDER
        for path in _modules(part)
        for name in _defined(path)
        if _private(name)
    )


@pytest.mark.parametrize("part", ORDER)
def test_part_imports_only_lower_parts(part: str) -> None:
    allowed = set(ORDER[: ORDER.index(part) + 1])
    offenders = {
        f"{path.relative_to(ROOT)} imports accord.{other}"
        for path in _modules(part)
        for other in _accord_parts(path)
        if other not in allowed
    }
    assert not offenders, sorted(offenders)


@pytest.mark.parametrize("part", ORDER)
def test_other_parts_only_through_their_public_api(part: str) -> None:
    """`from accord.agents import X`, never `from accord.agents.models.chain import X`."""
    offenders = {
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _modules(part)
        for line, module in _imported_modules(path)
        if module.startswith("accord.")
        and module.split(".")[1] != part
        and len(module.split(".")) > 2
    }
    assert not offenders, sorted(offenders)


@pytest.mark.parametrize("part", ORDER)
def test_no_import_of_private_names(part: str) -> None:
    offenders = set()
    for path in _modules(part):
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom):
                modules = (node.module or "").split(".")
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                modules, names = [], [alias.name for alias in node.names]
            else:
                continue
            for name in [*modules, *(n for dotted in names for n in dotted.split("."))]:
                if _private(name):
                    offenders.add(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not offenders, sorted(offenders)


@pytest.mark.parametrize("part", ORDER)
def test_no_reach_into_another_modules_private_names(part: str) -> None:
    """`x._name` (x not `self`/`cls`) only where this module defines or assigns `_name`."""
    offenders = set()
    for path in _modules(part):
        own = _defined(path)
        for node in ast.walk(_tree(path)):
            if not isinstance(node, ast.Attribute) or not _private(node.attr):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr not in own and node.attr in _private_anywhere():
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                offenders.add(f"{where} reaches {ast.unparse(node)}")
    assert not offenders, sorted(offenders)
