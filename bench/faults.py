"""Turns through a real `Session` while two model endpoints fail, with the breaker on and off.

Two real OpenAI-compatible HTTP servers on 127.0.0.1 (`accord.agents.FaultServer`, canned
answers after a scripted latency) serve one agent's chain of two model ids,
`openai:m@<server>?first_byte=...&total=...`. Sessions on a SQLite file send turns
concurrently. Scenarios:

- `flaky`: each endpoint fails 30% of requests: 12% HTTP 500, 8% connection resets, 5% 429,
  5% hangs (the request is read and never answered);
- `hung`: the first endpoint hangs every request, the second is healthy.

For each, with the breaker on (the default `BreakerSettings`) and off (`enabled=False`):
completed turns, p50/p99 turn latency, requests that hung and the time they cost (each costs the
first byte's limit), the requests each endpoint received, wall and CPU time, load average.
Time limits are scaled down with the latency (a 50 ms model, a 0.5 s first byte) so a run takes
seconds; the breaker keeps its default window and cooldown. Targets: flaky >= 99% completed
with the breaker on; hung costs one timeout per session at most, then ~0.

Run: `.venv/bin/python bench/faults.py [turns] [sessions]` (default 300 turns, 8 sessions).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from accord.agents import Agent, ChainPolicy, FaultServer, canned
from accord.agents.models import Breakers, BreakerSettings
from accord.agents.models.chain import set_default_policy
from accord.graphs import Sessions, handoff

LATENCY = 0.05
FIRST_BYTE = 0.5
TOTAL = 1.0
FLAKY = {"rate_500": 0.12, "rate_reset": 0.08, "rate_429": 0.05, "rate_hang": 0.05}
REPLY = {"reply": "Noted.", "handoff_to": "none"}


@dataclass
class Row:
    scenario: str
    breaker: str
    turns: int
    done: int
    p50_ms: float
    p99_ms: float
    hangs: int
    requests: tuple[int, int]
    wall_s: float
    cpu_s: float
    failures: Counter[str]


def _servers(scenario: str) -> tuple[FaultServer, FaultServer]:
    first = FaultServer(canned(data=REPLY), latency=LATENCY, seed=1)
    second = FaultServer(canned(data=REPLY), latency=LATENCY, seed=2)
    if scenario == "flaky":
        for server in (first, second):
            for name, rate in FLAKY.items():
                setattr(server.faults, name, rate)
    else:
        first.faults.rate_hang = 1.0
    return first, second


async def _run(scenario: str, breaker: bool, turns: int, sessions: int, folder: Path) -> Row:
    first, second = _servers(scenario)
    settings = BreakerSettings() if breaker else BreakerSettings(enabled=False)
    previous = set_default_policy(ChainPolicy(breakers=Breakers(settings)))
    limits = f"?first_byte={FIRST_BYTE}&total={TOTAL}"
    latencies: list[float] = []
    failures: Counter[str] = Counter()
    with first, second:
        ids = (f"openai:m@{first.url}{limits}", f"openai:m@{second.url}{limits}")
        graph = handoff([Agent(name="desk", description="The desk.", models=ids)])
        db = f"sqlite:///{folder / f'{scenario}-{breaker}.db'}"
        async with Sessions(graph, db=db) as manager:

            async def user(index: int, count: int) -> None:
                session = await manager.aopen(f"user-{index}")
                for turn in range(count):
                    started = time.perf_counter()
                    try:
                        await session.asend(f"message {turn}")
                    except Exception as exc:
                        failures[type(exc).__name__] += 1
                        session = await manager.aopen(f"user-{index}")  # start afresh
                    else:
                        latencies.append(time.perf_counter() - started)

            shares = [turns // sessions + (i < turns % sessions) for i in range(sessions)]
            wall, cpu = time.perf_counter(), time.process_time()
            await asyncio.gather(*(user(i, n) for i, n in enumerate(shares)))
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    set_default_policy(previous)
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return Row(
        scenario,
        "on" if breaker else "off",
        turns,
        len(latencies),
        cuts[49] * 1000,
        cuts[98] * 1000,
        first.counts["hang"] + second.counts["hang"],
        (first.requests, second.requests),
        wall,
        cpu,
        failures,
    )


async def main(turns: int, sessions: int) -> None:
    os.environ.pop("ACCORD_OFFLINE", None)  # the models are real HTTP clients of 127.0.0.1
    print(
        f"{turns} turns from {sessions} concurrent sessions; model latency {LATENCY * 1000:.0f} "
        f"ms; limits first byte {FIRST_BYTE} s, total {TOTAL} s; flaky = "
        + ", ".join(f"{k.removeprefix('rate_')} {v:.0%}" for k, v in FLAKY.items())
        + f"; breaker {BreakerSettings()}"
    )
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    header = (
        "scenario breaker | completed        | turn p50  p99 ms | hangs lost s | requests"
        " 1st/2nd | wall s  cpu s | failures"
    )
    print(header)
    with tempfile.TemporaryDirectory() as folder:
        for scenario in ("flaky", "hung"):
            for breaker in (True, False):
                row = await _run(scenario, breaker, turns, sessions, Path(folder))
                print(
                    f"{row.scenario:<8} {row.breaker:<7} | {row.done:>4}/{row.turns:<4} "
                    f"{row.done / row.turns:6.1%} | {row.p50_ms:7.0f} {row.p99_ms:6.0f} | "
                    f"{row.hangs:>5} {row.hangs * FIRST_BYTE:6.1f} | "
                    f"{row.requests[0]:>6} {row.requests[1]:>6} | {row.wall_s:6.1f} "
                    f"{row.cpu_s:6.1f} | {dict(row.failures) or '-'}"
                )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(main(*(args + [300, 8][len(args) :])))
