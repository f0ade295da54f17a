"""Each part's public API: a curated `__all__` that is complete, sorted, importable and small,
with no name exported by two parts; every `__init__.py` holds no logic.

Below a part, a subpackage may curate an `__all__` of its own for what plugs into the part's
names (`accord.agents.routing`: fits, strategies, load): the same rules hold for it, and its
names are not counted in the part's budget but may not repeat a part's.

An `__init__.py` may bind its names lazily, in the one form `accord.persistence.lazy` describes:
real imports under `if TYPE_CHECKING:`, and `else:` a table of the module defining each name."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["persistence", "agents", "graphs", "evals", "app"]
MOST_PUBLIC_NAMES = 122
"""About a hundred names in all: what a user reads first; the rest stays in the submodules."""


def _concern_apis() -> list[str]:
    """The subpackages (`part/concern`) whose `__init__.py` curates an `__all__`."""
    return sorted(
        "/".join(init.parent.relative_to(ROOT).parts)
        for part in PARTS
        for init in (ROOT / part).glob("*/__init__.py")
        if "__all__" in init.read_text()
    )


APIS = PARTS + _concern_apis()
"""Every curated `__all__`: the five parts, then the concern-level ones below them."""


def _exported(api: str) -> list[str]:
    names: list[str] = importlib.import_module("accord." + api.replace("/", ".")).__all__
    return names


class Lazy(NamedTuple):
    """The lazy form of an `__init__.py`: the imports type checkers read, the runtime table."""

    imports: list[ast.ImportFrom]
    where: dict[str, str]


def _lazy(node: ast.stmt) -> Lazy | None:
    """`node` as the lazy form, or `None` if it is anything else."""
    match node:
        case ast.If(
            test=ast.Name("TYPE_CHECKING"),
            body=imports,
            orelse=[
                ast.Assign(
                    targets=[ast.Tuple([ast.Name("__getattr__"), ast.Name("__dir__")])],
                    value=ast.Call(
                        func=ast.Attribute(ast.Name("_lazy"), "exports"),
                        args=[ast.Name("__name__"), ast.Dict() as table],
                        keywords=[],
                    ),
                )
            ],
        ):
            imported = [i for i in imports if isinstance(i, ast.ImportFrom)]
            where = ast.literal_eval(table)
            if imported == imports and all(isinstance(x, str) for x in [*where, *where.values()]):
                return Lazy(imported, where)
    return None


def _lazy_forms() -> dict[str, Lazy]:
    """Each package whose `__init__.py` binds its names lazily, with its lazy form."""
    return {
        "accord." + ".".join(init.parent.relative_to(ROOT).parts): form
        for part in PARTS
        for init in sorted((ROOT / part).rglob("__init__.py"))
        for node in ast.parse(init.read_text()).body
        if (form := _lazy(node))
    }


def _bound(init: Path) -> set[str]:
    """The names an `__init__.py` binds at its top level (lazy ones as type checkers see them)."""
    names: set[str] = set()
    body = ast.parse(init.read_text()).body
    for node in [*body, *(i for n in body if (form := _lazy(n)) for i in form.imports)]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names - {"TYPE_CHECKING"}  # the lazy form's switch, not a public name


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's `__all__` order (RUF022): CONSTANTS, then Classes, then functions."""
    group = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return group, name


@pytest.mark.parametrize("part", APIS)
def test_all_lists_every_public_name_bound_and_only_those(part: str) -> None:
    bound = {n for n in _bound(ROOT / part / "__init__.py") if not n.startswith("_")}
    assert set(_exported(part)) == bound


@pytest.mark.parametrize("part", APIS)
def test_all_is_sorted_without_repeats(part: str) -> None:
    names = _exported(part)
    assert names == sorted(set(names), key=_isort_key)


@pytest.mark.parametrize("part", APIS)
def test_every_listed_name_imports(part: str) -> None:
    module = importlib.import_module("accord." + part.replace("/", "."))
    missing = [name for name in _exported(part) if not hasattr(module, name)]
    assert not missing


def test_no_name_is_exported_by_two_parts() -> None:
    """A concern may hand a name up to its own part; no two parts share one."""
    owners: dict[str, set[str]] = {}
    for api in APIS:
        for name in _exported(api):
            owners.setdefault(name, set()).add(api.split("/")[0])
    assert not {name: parts for name, parts in owners.items() if len(parts) > 1}


def test_the_public_api_stays_small() -> None:
    sizes = {part: len(_exported(part)) for part in PARTS}
    assert sum(sizes.values()) <= MOST_PUBLIC_NAMES, sizes


def test_init_files_hold_no_logic() -> None:
    """A docstring, imports, `__all__` and the lazy form's table only."""
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
                lazy = _lazy(node) is not None
                if not (
                    docstring or names_all or lazy or isinstance(node, ast.Import | ast.ImportFrom)
                ):
                    offenders.append(f"{init.relative_to(ROOT)}:{node.lineno}")
    assert not offenders


@pytest.mark.parametrize("package", _lazy_forms())
def test_every_lazy_name_is_the_object_its_module_defines(package: str) -> None:
    """The table and the imports type checkers read agree, and each name resolves (and is
    listed by `dir()`) as the object its module defines."""
    form = _lazy_forms()[package]
    typed = {
        alias.asname or alias.name: importlib.import_module(i.module or "")
        for i in form.imports
        for alias in i.names
    }
    assert set(form.where) == set(typed)
    module = importlib.import_module(package)
    for name, relative in form.where.items():
        defined = getattr(typed[name], name)
        found = importlib.import_module(relative, package)
        if found.__name__ != f"{package}.{name}":  # else the name is that submodule
            found = getattr(found, name)
            # importing a submodule binds its name on the package: a lazy name must not be one
            assert not importlib.util.find_spec(f"{package}.{name}"), name
        assert found is defined, name
        assert getattr(module, name) is defined, name
    assert set(form.where) <= set(dir(module))
