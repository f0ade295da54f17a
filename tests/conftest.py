"""Suite-wide guards: no test reaches beyond this machine, and warnings are errors (pyproject)."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

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
