"""The HTTP/SSE server vs direct library calls: 500 concurrent sessions, one message each.

Every session sends one message to a one-agent team whose scripted model answers after 50 ms,
and reads the whole reply: as Server-Sent Events from `accord serve` (a child process, on
SQLite), or from `session.astream()` of the `Sessions` API in this process (on SQLite too).
Prints requests per second and latency percentiles of each, and server / direct ratios.

    .venv/bin/python bench/server.py [--sessions 500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from accord.agents import Agent, ScriptedModel
from accord.app import Client
from accord.graphs import DoneEvent, Sessions, handoff

LATENCY = 0.05
TOKEN = "bench-token"


def graph() -> Any:
    """One agent whose model answers every call after `LATENCY` seconds (the served graph)."""
    model = ScriptedModel(
        [{"reply": "Your order ships tomorrow.", "handoff_to": "none"}],
        cycle=True,
        latency=LATENCY,
    )
    return handoff([Agent(name="desk", description="Answers customers.", models=(model,))])


async def _timed(runs: list[Callable[[], Awaitable[None]]]) -> tuple[float, list[float]]:
    """Runs every coroutine at once; the wall time and each one's latency."""
    latencies: list[float] = []

    async def one(run: Callable[[], Awaitable[None]]) -> None:
        started = time.perf_counter()
        await run()
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(run) for run in runs))
    return time.perf_counter() - started, latencies


async def direct(count: int, folder: Path) -> tuple[float, list[float]]:
    """`count` concurrent sends through the Sessions API in this process."""
    async with Sessions(graph(), db=f"sqlite:///{folder / 'direct.sqlite'}") as sessions:
        opened = [await sessions.aopen(f"user{i % 50}") for i in range(count)]

        def send(session: Any) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                events = [event async for event in session.astream("Where is my order?")]
                assert isinstance(events[-1], DoneEvent), events[-1]

            return run

        return await _timed([send(session) for session in opened])


async def served(count: int, folder: Path) -> tuple[float, list[float]]:
    """`count` concurrent SSE sends to `accord serve` in a child process."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parent),
        "ACCORD_TOKENS": json.dumps({TOKEN: "bench"}),
        "ACCORD_LOG_LEVEL": "warning",
    }
    command = [sys.executable, "-m", "accord.app", "serve", "--graph", "server:graph"]
    command += ["--db", f"sqlite:///{folder / 'served.sqlite'}", "--port", str(port)]
    child = await asyncio.create_subprocess_exec(*command, env=env, cwd=folder)
    url = f"http://127.0.0.1:{port}"
    try:
        await _until_up(url, child)
        async with Client(url, TOKEN, timeout=120) as client:
            ids = [(await client.open())["id"] for _ in range(count)]

            def send(session_id: str) -> Callable[[], Awaitable[None]]:
                async def run() -> None:
                    events = await client.send(session_id, "Where is my order?")
                    assert events[-1].kind == "done", events[-1]

                return run

            return await _timed([send(session_id) for session_id in ids])
    finally:
        child.terminate()
        await child.wait()


async def _until_up(url: str, child: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient() as http:
        for _ in range(600):
            if child.returncode is not None:
                raise RuntimeError("accord serve exited; see its output above")
            try:
                (await http.get(f"{url}/healthz")).raise_for_status()
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise RuntimeError("accord serve did not come up in 60 s")


def _row(name: str, wall: float, latencies: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(latencies, n=100)
    rps, p99 = len(latencies) / wall, cuts[98]
    print(
        f"{name:<8} {rps:>10.1f} {cuts[49] * 1000:>9.0f} {p99 * 1000:>9.0f} "
        f"{max(latencies) * 1000:>9.0f} {wall:>8.2f}"
    )
    return rps, p99


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--sessions", type=int, default=500)
    count = parser.parse_args().sessions
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        direct_result = await direct(count, folder)
        served_result = await served(count, folder)
    model = f"scripted model with {LATENCY * 1000:.0f} ms latency"
    print(f"{count} concurrent sessions, one message each, {model}")
    print(f"{'':<8} {'req/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'wall s':>8}")
    direct_rps, direct_p99 = _row("direct", *direct_result)
    served_rps, served_p99 = _row("server", *served_result)
    print(
        f"server / direct: throughput x{served_rps / direct_rps:.2f}, "
        f"p99 latency x{served_p99 / direct_p99:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
