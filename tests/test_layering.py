"""The parts import one way only: app -> evals -> graphs -> agents -> persistence."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ORDER = ["persistence", "agents", "graphs", "evals", "app"]


def _accord_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        found.update(n.split(".")[1] for n in names if n.startswith("accord.") and "." in n)
    return found


@pytest.mark.parametrize("part", ORDER)
def test_part_imports_only_lower_parts(part: str) -> None:
    allowed = set(ORDER[: ORDER.index(part) + 1])
    offenders = {
        f"{path.relative_to(ROOT)} imports accord.{other}"
        for path in (ROOT / part).rglob("*.py")
        for other in _accord_imports(path)
        if other not in allowed
    }
    assert not offenders, sorted(offenders)
