"""Suite-wide guards and fixtures.

No test reaches beyond this machine, and warnings are errors (pyproject). `saver_url` runs a
test once per database backend (sqlite, postgres, mariadb), each on a scratch database; `fleet`
is a Celery broker with a queue and Redis prefix of the test's own (tests/fleet.py).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from databases import BACKENDS, Databases
from fleet import broker, clean, services

from accord.graphs import Broker

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"test tried to reach {address!r}: tests talk to 127.0.0.1 only")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(autouse=True)
def _offline_models(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sets ACCORD_OFFLINE=1 so no test starts or reaches a model, unless it is marked for one."""
    if request.node.get_closest_marker("live") or request.node.get_closest_marker(
        "allow_network_models"
    ):
        return
    monkeypatch.setenv("ACCORD_OFFLINE", "1")


@pytest.fixture(scope="session", params=BACKENDS)
def databases(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Databases]:
    """Scratch-database factory for one backend, cleaned up at the end of the session."""
    dbs = Databases(request.param, tmp_path_factory.mktemp("sqlite"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def saver_url(databases: Databases) -> str:
    """URL of this session's database for the backend (sqlite, postgres, mariadb)."""
    return databases.create()


@pytest.fixture
def fresh_url(databases: Databases) -> Callable[[], str]:
    """Makes brand-new empty databases, for tests that need one nobody has migrated."""
    return databases.create


@pytest.fixture
def fleet() -> Iterator[Broker]:
    """A broker of the test's own (RabbitMQ queue, Redis prefix), emptied and removed after."""
    services()
    made = broker()
    yield made
    clean(made)
