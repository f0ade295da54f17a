"""Without the `server` extra, the server and `accord serve` say which `pip install` brings it."""

from __future__ import annotations

import importlib
import sys

import pytest
from typer.testing import CliRunner

from accord.app.cli.main import cli
from accord.app.errors import ServerNotInstalled, server_extra
from accord.persistence import AccordError

SERVER_MODULES = [
    "accord.app.cli.serve",
    "accord.app.server.asgi",
    "accord.app.server.prometheus",
    "accord.app.server.responses",
    "accord.app.server.routes",
    "accord.app.server.sse",
]


@pytest.fixture
def without(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Forgets the server modules, so the next import runs them again (restored afterwards)."""
    for name in SERVER_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("module", "package"),
    [
        ("accord.app.server.asgi", "fastapi"),
        ("accord.app.server.asgi", "prometheus_client"),
        ("accord.app.server.responses", "fastapi"),
        ("accord.app.cli.serve", "uvicorn"),
    ],
)
def test_importing_the_server_without_the_extra_names_it(
    without: pytest.MonkeyPatch, module: str, package: str
) -> None:
    without.setitem(sys.modules, package, None)  # what a missing package looks like to import
    with pytest.raises(ServerNotInstalled) as raised:
        importlib.import_module(module)
    assert isinstance(raised.value, AccordError)
    assert f"needs {package!r}" in str(raised.value)
    assert "pip install 'accord[server]'" in str(raised.value)


def test_accord_serve_without_the_extra_prints_the_hint_and_fails(
    without: pytest.MonkeyPatch,
) -> None:
    without.setitem(sys.modules, "fastapi", None)
    result = CliRunner().invoke(cli, ["serve"])
    assert result.exit_code == 2
    assert "pip install 'accord[server]'" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_missing_package_outside_the_extra_is_not_blamed_on_it() -> None:
    with pytest.raises(ModuleNotFoundError) as raised, server_extra():
        importlib.import_module("accord_no_such_package")
    assert not isinstance(raised.value, ServerNotInstalled)
