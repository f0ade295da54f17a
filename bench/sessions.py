"""Cost of session management: accord `Session`s vs plain LangGraph calls on the same saver.

Both sides run the same handoff graph on a scripted model with 50 ms simulated latency, the
same number of concurrent conversations of two turns each, on the same kind of SQLite file
and the same durability ("sync": each step written before the next, what crash safety
needs). accord adds per turn: the scope check, the lease, the budget meter, the audit trail
and the usage on the record. Also measured: resume latency at 10 and 800 messages of
history. Run: `.venv/bin/python bench/sessions.py [sessions ...]` (default 1000 10000).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage, HumanMessage

from accord.agents import Agent, ScriptedModel
from accord.graphs import Sessions, handoff
from accord.persistence import SQLAlchemySaver

LATENCY = 0.05
TURNS = 2


def _answer(messages: list[BaseMessage]) -> dict[str, Any]:
    return {"reply": "Noted.", "handoff_to": "none"}


def _graph() -> Any:
    model = ScriptedModel([_answer], cycle=True, latency=LATENCY)
    return handoff([Agent(name="desk", description="The desk.", models=(model,))])


async def _timed(
    count: int, conversation: Callable[[int], Awaitable[list[float]]]
) -> tuple[float, list[float]]:
    started = time.perf_counter()
    results = await asyncio.gather(*(conversation(i) for i in range(count)))
    elapsed = time.perf_counter() - started
    return elapsed, [latency for turns in results for latency in turns]


async def _plain(count: int, url: str) -> tuple[float, list[float]]:
    async with SQLAlchemySaver(url) as saver:
        graph = _graph().copy({"checkpointer": saver})
        await saver.asetup()

        async def conversation(i: int) -> list[float]:
            config = {"configurable": {"thread_id": f"plain-{i}"}}
            latencies = []
            for turn in range(TURNS):
                started = time.perf_counter()
                payload = {"messages": [HumanMessage(f"message {turn}")]}
                await graph.ainvoke(payload, config, durability="sync")
                latencies.append(time.perf_counter() - started)
            return latencies

        return await _timed(count, conversation)


async def _accord(count: int, url: str) -> tuple[float, list[float]]:
    async with Sessions(_graph(), db=url) as sessions:
        await sessions.saver.asetup()  # type: ignore[attr-defined]

        async def conversation(i: int) -> list[float]:
            session = await sessions.aopen(f"user-{i}")
            latencies = []
            for turn in range(TURNS):
                started = time.perf_counter()
                await session.asend(f"message {turn}")
                latencies.append(time.perf_counter() - started)
            return latencies

        return await _timed(count, conversation)


def _p(latencies: list[float], q: float) -> float:
    return statistics.quantiles(latencies, n=100)[int(q) - 1] * 1000


async def _throughput(count: int, folder: Path) -> None:
    plain_s, plain_l = await _plain(count, f"sqlite:///{folder / f'plain-{count}.db'}")
    accord_s, accord_l = await _accord(count, f"sqlite:///{folder / f'accord-{count}.db'}")
    plain_rate, accord_rate = count / plain_s, count / accord_s
    print(
        f"{count:>6} sessions | plain LangGraph {plain_rate:7.1f} sessions/s "
        f"p50 {_p(plain_l, 50):6.0f} ms p99 {_p(plain_l, 99):6.0f} ms | accord "
        f"{accord_rate:7.1f} sessions/s p50 {_p(accord_l, 50):6.0f} ms "
        f"p99 {_p(accord_l, 99):6.0f} ms | ratio {accord_rate / plain_rate:.2f}"
    )


async def _resume(folder: Path) -> None:
    url = f"sqlite:///{folder / 'resume.db'}"
    model = ScriptedModel([_answer], cycle=True)
    graph = handoff([Agent(name="desk", description="The desk.", models=(model,))])
    async with Sessions(graph, db=url) as sessions:
        for messages in (10, 800):
            session = await sessions.aopen("alice")
            for turn in range(messages // 2):
                await session.asend(f"message {turn}")
            samples = []
            for _ in range(50):
                started = time.perf_counter()
                again = await sessions.aresume(session.id, "alice")
                await again.astate()
                samples.append(time.perf_counter() - started)
            print(
                f"resume + read state at {messages:>4} messages: "
                f"median {statistics.median(samples) * 1000:.2f} ms"
            )


async def main(counts: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        for count in counts:
            await _throughput(count, Path(folder))
        await _resume(Path(folder))


if __name__ == "__main__":
    asyncio.run(main([int(a) for a in sys.argv[1:]] or [1000, 10000]))
