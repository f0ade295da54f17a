"""Shared fixtures of the pattern tests: one graph run three ways (invoke, ainvoke, stream)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Runner = Callable[[Any, dict[str, Any], Any], Awaitable[Any]]


async def _invoke(graph: Any, payload: dict[str, Any], config: Any) -> Any:
    return graph.invoke(payload, config)


async def _ainvoke(graph: Any, payload: dict[str, Any], config: Any) -> Any:
    return await graph.ainvoke(payload, config)


async def _stream(graph: Any, payload: dict[str, Any], config: Any) -> Any:
    async for _ in graph.astream(payload, config, stream_mode="updates"):
        pass
    return graph.get_state(config).values


@pytest.fixture(params=[_invoke, _ainvoke, _stream], ids=["invoke", "ainvoke", "stream"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Runs a graph one of three ways and returns the final state values."""
    runner: Runner = request.param
    return runner
