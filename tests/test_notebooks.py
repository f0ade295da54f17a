"""The notebooks in notebooks/ run top to bottom, use the public API only, and are stored stripped.

Each notebook runs in a real Jupyter kernel of this interpreter (nbclient, as nbmake does), in
a scratch folder so the databases it writes land there, with every model offline: scripted
models, local fault servers and recorded cassettes only (`notebooks/cassettes/`, copied into
the scratch folder, where a notebook finds them as it would beside itself).
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient
from test_api import APIS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PUBLIC = {"accord." + api.replace("/", ".") for api in APIS if not api.startswith("app")}
"""The curated APIs a notebook may import: the parts and their concern-level `__all__`s."""
CELL_TIMEOUT = 120


def _read(path: Path) -> Any:
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


def _code_cells(path: Path) -> list[Any]:
    return [cell for cell in _read(path).cells if cell.cell_type == "code"]


def test_the_notebooks_are_there() -> None:
    names = {path.stem for path in NOTEBOOKS}
    assert {"quickstart", "persistence", "patterns", "routing_failover", "evaluation"} <= {
        name.split("_", 1)[1] for name in names
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # jupyter_core warns about its old config paths unless told to use the platform's.
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    monkeypatch.setenv("ACCORD_HOME", str(tmp_path / "home"))
    shutil.copytree(ROOT / "notebooks" / "cassettes", tmp_path / "cassettes")
    notebook = _read(path)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and traceback, on a failure

    # A warning or a stray traceback printed by a cell counts as a failure too.
    noise = [
        "".join(output.get("text", ""))
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stderr"
    ]
    assert noise == [], f"{path.name} wrote to stderr: {noise}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_is_stored_without_outputs(path: Path) -> None:
    dirty = [
        index
        for index, cell in enumerate(_code_cells(path))
        if cell.outputs or cell.execution_count is not None
    ]
    assert dirty == [], f"{path.name}: clear the outputs of code cells {dirty} before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_imports_only_the_public_api(path: Path) -> None:
    private: set[str] = set()
    for cell in _code_cells(path):
        # Top-level await is fine in a notebook, so parse each cell as a coroutine's body.
        lines = cell.source.splitlines()
        body = "async def _cell():\n" + "".join(f"    {line}\n" for line in lines)
        for node in ast.walk(ast.parse(body)):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            private.update(m for m in modules if m.startswith("accord") and m not in PUBLIC)
    assert private == set(), f"{path.name} imports {sorted(private)}; use {sorted(PUBLIC)}"
