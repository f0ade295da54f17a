"""Fixtures of the model-layer tests: a stand-in server process and a private cache folder."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.agents.models.environment import LocalSettings
from accord.agents.models.local import EmbeddedServer

FAKE_WORKER = [sys.executable, str(Path(__file__).with_name("fake_worker.py"))]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private ACCORD_HOME, so no test touches the user's cache."""
    folder = tmp_path / "accord-home"
    monkeypatch.setenv("ACCORD_HOME", str(folder))
    return folder


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lifts offline mode for a test that starts the stand-in server (loopback only)."""
    monkeypatch.delenv("ACCORD_OFFLINE", raising=False)
    monkeypatch.delenv("ACCORD_LOCAL_URL", raising=False)


def make_server(home: Path, *, timeout: float = 20.0) -> EmbeddedServer:
    """An `EmbeddedServer` running the stand-in worker on a dummy weights file."""
    weights = home / "models" / "fake.gguf"

    def settings() -> LocalSettings:
        return LocalSettings(threads=1, ctx=512, parallel=1, start_timeout=timeout, home=home)

    def fake_weights() -> Path:
        weights.parent.mkdir(parents=True, exist_ok=True)
        weights.write_bytes(b"GGUF")
        return weights

    return EmbeddedServer(settings=settings, weights=fake_weights, worker=FAKE_WORKER)


@pytest.fixture
def fake_server(home: Path, online: None) -> Iterator[EmbeddedServer]:
    """A stand-in embedded server, stopped after the test."""
    server = make_server(home)
    yield server
    server.stop()
