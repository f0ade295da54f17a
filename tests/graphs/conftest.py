"""Shared fixtures of the pattern tests: one graph run three ways (invoke, ainvoke, stream)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from support import Replay, thread

from accord.evals.cassette import cassette
from accord.evals.teams import EXAMPLES

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


CASSETTES = Path(__file__).parent / "cassettes"


@pytest.fixture
def record_mode(monkeypatch: pytest.MonkeyPatch) -> bool:
    """True when `ACCORD_RECORD=1` asks to re-record cassettes against the embedded model."""
    record = os.environ.get("ACCORD_RECORD") == "1"
    if record:
        monkeypatch.delenv("ACCORD_OFFLINE", raising=False)
    return record


@pytest.fixture
def replay_example(record_mode: bool) -> Replay:
    """Runs an example on its sample input through `cassettes/<example>.yaml`; returns the state."""

    async def replay(example: str) -> Any:
        spec = EXAMPLES[example]
        with cassette(CASSETTES / f"{example}.yaml", record=record_mode):
            payload = {"messages": [HumanMessage(spec.sample)]}
            return await spec.build().ainvoke(payload, thread(example))

    return replay


@pytest.fixture
def db(fresh_url: Callable[[], str]) -> str:
    """A new empty database for the test, once per backend (sqlite, postgres, mariadb)."""
    return fresh_url()
