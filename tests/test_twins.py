"""Each loop is written once: no sync method beside an async twin that repeats its logic.

A twin pair is `name` and `aname` (or `_name` and `_aname`) in one class or module. A pair
whose two bodies are both longer than `THIN` statements is a loop written twice; it should be
one flow (`accord.persistence.Flow`) with two thin faces. The few that must stay are listed
with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["persistence", "agents", "graphs", "evals", "app"]
THIN = 3
"""Statements (docstring aside, nested ones counted) a face may hold and still be thin."""

ALLOWED = {
    # The drivers themselves: one blocking, one awaiting, by definition.
    "persistence/ops/flow.py: drive/adrive",
    "persistence/ops/flow.py: _perform/_aperform",
    # Generators that hand out items as they go, which a flow cannot do.
    "persistence/replication/saver.py: list/alist",
    # LangChain's chat model API asks for both faces of generation and streaming.
    "agents/testing/scripted.py: _generate/_agenerate",
    "agents/testing/scripted.py: _stream/_astream",
    # Disposing engines: the sync face must also work with no event loop at all.
    "persistence/checkpoints/saver.py: close/aclose",
    # Opening a session closes what it made when the open fails, in the caller's own face.
    "graphs/sessions/session.py: _adopt/_aadopt",
}


def _size(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return sum(
        1 for statement in body for node in ast.walk(statement) if isinstance(node, ast.stmt)
    )


def _twin_of(name: str) -> str | None:
    if name.startswith("_a"):
        return "_" + name[2:]
    return name[1:] if name.startswith("a") else None


def _logic_twins() -> set[str]:
    found = set()
    for part in PARTS:
        for path in (ROOT / part).rglob("*.py"):
            tree = ast.parse(path.read_text())
            classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
            scopes: list[ast.Module | ast.ClassDef] = [tree, *classes]
            for scope in scopes:
                sync = {n.name: n for n in scope.body if isinstance(n, ast.FunctionDef)}
                for node in scope.body:
                    if not isinstance(node, ast.AsyncFunctionDef):
                        continue
                    twin = sync.get(_twin_of(node.name) or "")
                    if twin is None:
                        continue
                    if _size(node) > THIN and _size(twin) > THIN:
                        where = path.relative_to(ROOT).as_posix()
                        found.add(f"{where}: {twin.name}/{node.name}")
    return found


def test_no_loop_is_written_twice() -> None:
    assert _logic_twins() <= ALLOWED


def test_the_allowed_twins_still_exist() -> None:
    """An entry whose pair is gone (or became thin) is taken off the list."""
    assert _logic_twins() >= ALLOWED
