"""Schemathesis against the real server: generated requests never get a 5xx, and every response
conforms to the OpenAPI schema (status codes, content types, bodies)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.app import Client

ALICE = {"Authorization": "Bearer alice-token"}


@pytest.fixture
def api(serve: Callable[..., str]) -> Any:
    """The served schema, with a real session whose id replaces the generated ones."""
    url = serve()

    async def _open() -> str:
        async with Client(url, "alice-token") as alice:
            session_id: str = (await alice.open())["id"]
            return session_id

    session_id = asyncio.run(_open())
    loaded = schemathesis.openapi.from_url(f"{url}/openapi.json")

    @loaded.hook
    def map_path_parameters(context: Any, path: dict[str, Any] | None) -> Any:
        if path and "session_id" in path:
            path["session_id"] = session_id
        return path

    return loaded


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def _check(api: Any, operation: Any, data: st.DataObject) -> None:
    case = data.draw(operation.as_strategy())
    case.call_and_validate(headers=ALICE)


def test_generated_requests_get_documented_answers(api: Any) -> None:
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:
        _check(api, operation)
