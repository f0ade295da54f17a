"""Turns on a fleet of workers vs in-process `Sessions`, on the same PostgreSQL.

First, the sequential row: one turn at a time on a model that answers at once, in-process and
through one worker in turn (so both see the same load from whatever else the machine runs);
the difference of their p50 latencies is what queueing adds to a turn.
Then every side runs the same one-agent graph on a scripted model that answers after 0.5 s, one
turn in each of N concurrent sessions (opened beforehand). Sides: in-process `Sessions`;
`Sessions(..., broker=...)` with 1 and then 2 `accord worker` processes (RabbitMQ queues the
turns, Redis streams the replies back). Printed: sessions per second, p50/p99 turn latency
(from the send to the reply), the CPU time per turn (the caller's and the workers'; the
services' is not counted), the peak memory growth per in-flight turn (after a warm-up round, so
a process's one-time costs are left out), the machine's busy fraction while the side ran (every
process's CPU: the services', and whatever else the machine runs), the load average.
`--sequential 0` skips the sequential row. `--rounds R` runs the 1-worker and 2-worker sides R
times, alternated (1, 2, 1, 2, ...), and prints each round's ratio and their median. Each side
prints sessions/s over the whole side (`sess/s`, the ratio's "total": the burst of sends
included) and in steady state (`steady`: the replies from the 10th to the 90th percentile over
the time between them), each ratio labelled. Needs PostgreSQL, RabbitMQ and Redis on 127.0.0.1 (a
database and queue prefix of its own, dropped after).

Two configurations show different things:

- CPU-bound, `--sessions 300` (default `--concurrency 1000`): every turn is in flight at once,
  so the CPU per turn and the memory per in-flight turn are the figures to read; sessions/s is
  what the cores allow, and a second worker on the same cores cannot add much.
- Wait-bound, `--sessions 2000 --concurrency 25`: each worker runs at most 25 turns at once,
  so it can finish at most 50 per second (25 / 0.5 s) and the model wait, not the CPU, limits
  it: the scaling figure (2 workers / 1 worker) is read here, with the busy column well under
  100% (if not, the machine's other load is in the figure). KB/in-flight here also holds what
  the 2000 turns left behind (caches, the allocator's free lists), not only the 25 in flight.

Run: `.venv/bin/python bench/scale.py [--sessions 2000] [--concurrency 1000] [--latency 0.5]
[--sequential 100] [--rounds 1]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage
from sqlalchemy import create_engine, text

from accord.agents import Agent, ScriptedModel
from accord.graphs import Broker, Sessions, handoff

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
AMQP = "amqp://guest:guest@127.0.0.1:5672//"
HERE = Path(__file__).resolve()


def _answer(messages: list[BaseMessage]) -> dict[str, Any]:
    return {"reply": "Noted.", "handoff_to": "none"}


def team() -> Any:
    """One desk answering after `BENCH_LATENCY` seconds (the workers' graph too)."""
    latency = float(os.environ.get("BENCH_LATENCY", "0.5"))
    model = ScriptedModel([_answer], cycle=True, latency=latency)
    return handoff([Agent(name="desk", description="The desk.", models=(model,))])


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_s() -> tuple[float, float]:
    """The machine's CPU seconds busy and in all (every process's, the services' too)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle and iowait
    return (sum(fields) - idle) / tick, sum(fields) / tick


class Peak:
    """Samples processes' RSS while a side runs."""

    def __init__(self, pids: list[int]) -> None:
        self.pids, self.base = pids, sum(_rss_kb(p) for p in pids)
        self.peak = self.base

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.peak = max(self.peak, sum(_rss_kb(p) for p in self.pids))
            await asyncio.sleep(0.05)


WARM_UP = 40
"""Turns each side runs before it is measured: what a process spends once (imports on first
use, connection pools, caches, thread stacks) is not memory per in-flight session."""


async def _side(
    sessions: Sessions, count: int, pids: list[int], in_flight: int
) -> dict[str, float]:
    """Runs `count` turns at once, at most `in_flight` of them running at a time."""
    warm = [await sessions.aopen("bench") for _ in range(WARM_UP)]
    await asyncio.gather(*(session.asend("hello") for session in warm))
    opened = [await sessions.aopen("bench") for _ in range(count)]
    cpu_before = {pid: _cpu_s(pid) for pid in pids}
    peak, stop = Peak(pids), asyncio.Event()
    watcher = asyncio.create_task(peak.watch(stop))
    latencies: list[float] = []
    replied: list[float] = []

    async def one(session: Any) -> None:
        began = time.perf_counter()
        await session.asend("hello")
        replied.append(time.perf_counter())
        latencies.append(replied[-1] - began)

    wall, cpu, machine = time.perf_counter(), time.process_time(), _busy_s()
    await asyncio.gather(*(one(s) for s in opened))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    busy, total = (after - before for after, before in zip(_busy_s(), machine, strict=True))
    stop.set()
    await watcher
    latencies.sort()
    # Past the burst: the replies from the 10th to the 90th percentile of the side's time.
    first, last = replied[count // 10], replied[(9 * count) // 10 - 1]
    return {
        "rate": count / wall,
        "steady": ((9 * count) // 10 - count // 10 - 1) / (last - first) if last > first else 0.0,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "wall": wall,
        "cpu_here": cpu,
        "cpu_there": (there := sum(_cpu_s(pid) - cpu_before[pid] for pid in pids)),
        # Both sides of a turn: the caller's and (for a fleet) the workers'.
        "cpu_ms": 1000 * (cpu + (there if pids != [os.getpid()] else 0)) / count,
        # Peak growth over the turns running at once: memory per in-flight turn only where
        # every turn is in flight at once (sessions <= workers x concurrency); otherwise it
        # also holds whatever the earlier turns left behind.
        "kb_in_flight": (peak.peak - peak.base) / in_flight,
        "busy": busy / total,
    }


async def _sequential(sides: dict[str, Sessions], count: int, worker: int) -> dict[str, Any]:
    """One turn at a time, each side in turn (the same load on both, whatever else the
    machine runs), after a warm-up: a turn's latency with nothing else in flight, and the CPU
    each turn costs the caller and (the fleet's) the worker."""
    opened: dict[str, list[Any]] = {}
    for side, sessions in sides.items():
        warm = [await sessions.aopen("bench") for _ in range(WARM_UP // 4)]
        opened[side] = [await sessions.aopen("bench") for _ in range(count)]
        for session in warm:
            await session.asend("hello")
    latencies: dict[str, list[float]] = {side: [] for side in sides}
    cpu = dict.fromkeys(sides, 0.0)
    worker_before = _cpu_s(worker)
    for k in range(count):
        for side in sides:
            began, cpu_began = time.perf_counter(), time.process_time()
            await opened[side][k].asend("hello")
            latencies[side].append(time.perf_counter() - began)
            cpu[side] += time.process_time() - cpu_began
    found: dict[str, Any] = {
        side: {
            "p50": statistics.median(latencies[side]),
            "p90": sorted(latencies[side])[int(count * 0.9) - 1],
            "here_ms": 1000 * cpu[side] / count,
            "there_ms": 0.0,
        }
        for side in sides
    }
    found["1 worker"]["there_ms"] = 1000 * (_cpu_s(worker) - worker_before) / count
    pairs = zip(latencies["1 worker"], latencies["in-process"], strict=True)
    found["added_ms"] = 1000 * statistics.median(fleet - local for fleet, local in pairs)
    return found


def _workers(
    count: int, url: str, fleet: Broker, concurrency: int, logs: Path
) -> list[subprocess.Popen[bytes]]:
    """Starts `count` workers (their logs in `logs`) and waits until each consumes; they run
    the model latency `BENCH_LATENCY` says now."""
    command = [
        sys.executable,
        "-c",
        "from accord.app.cli.main import main; main()",
        "worker",
        f"--graph={HERE}:team",
        f"--db={url}",
        f"--broker={fleet.url}",
        f"--prefix={fleet.prefix}",
        f"--concurrency={concurrency}",
    ]
    started = []
    for k in range(count):
        log = logs / f"worker-{count}-{k}.log"
        with log.open("wb") as out:
            started.append((subprocess.Popen(command, stdout=out, stderr=out), log))
    for process, log in started:
        while b" ready." not in log.read_bytes():
            if process.poll() is not None:
                raise RuntimeError(f"a worker did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
    return [process for process, _ in started]


async def _queueing(url: str, fleet: Broker, logs: Path, count: int) -> dict[str, Any]:
    """The sequential row: in-process vs one worker, with a model that answers at once."""
    latency, os.environ["BENCH_LATENCY"] = os.environ["BENCH_LATENCY"], "0"
    running = _workers(1, url, fleet, 8, logs)
    try:
        async with (
            Sessions(team(), db=url) as local,
            Sessions(team(), db=url, broker=fleet) as remote,
        ):
            sides = {"in-process": local, "1 worker": remote}
            return await _sequential(sides, count, running[0].pid)
    finally:
        os.environ["BENCH_LATENCY"] = latency
        running[0].terminate()
        running[0].wait()


def _fleet_sides(rounds: int) -> list[tuple[int, str]]:
    """The fleet's sides in the order they run: 1 worker, 2 workers, per round (alternated,
    so a change in the machine's other load falls on both)."""
    suffix = [f" #{k + 1}" if rounds > 1 else "" for k in range(rounds)]
    return [
        (workers, f"{workers} worker(s){suffix[k]}") for k in range(rounds) for workers in (1, 2)
    ]


def _ratios(results: dict[str, dict[str, float]], rounds: int) -> None:
    """Prints 2 workers / 1 worker per round and their median: over the whole side (the
    burst of sends included) and in steady state (the 10th to 90th percentile replies)."""
    sides = _fleet_sides(rounds)
    for key, label in (("rate", "total"), ("steady", "steady state (replies 10-90%)")):
        found = [
            results[two][key] / results[one][key]
            for (_, one), (_, two) in zip(sides[::2], sides[1::2], strict=True)
        ]
        shown = ", ".join(f"{r:.2f}" for r in found)
        print(
            f"2 workers / 1 worker, {label}: {statistics.median(found):.2f}x sessions/s"
            + (f" (median of rounds {shown})" if rounds > 1 else "")
        )


async def main(count: int, concurrency: int, sequential: int, rounds: int = 1) -> None:
    name = f"accord_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    fleet = Broker(AMQP, prefix=f"accord_bench_{uuid.uuid4().hex[:6]}")
    results: dict[str, dict[str, float]] = {}
    logs = Path(tempfile.mkdtemp(prefix="accord-bench-"))
    load = os.getloadavg()
    try:
        queueing = await _queueing(url, fleet, logs, sequential) if sequential else None
        async with Sessions(team(), db=url) as sessions:
            results["in-process Sessions"] = await _side(sessions, count, [os.getpid()], count)
        for workers, side in _fleet_sides(rounds):
            running = _workers(workers, url, fleet, concurrency, logs)
            try:
                async with Sessions(team(), db=url, broker=fleet) as sessions:
                    pids = [p.pid for p in running]
                    in_flight = min(count, workers * concurrency)
                    results[side] = await _side(sessions, count, pids, in_flight)
            finally:
                for process in running:
                    process.terminate()
                for process in running:
                    process.wait()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        fleet.drop()
    print(f"{count} sessions, one turn each, model latency {os.environ['BENCH_LATENCY']} s")
    print(
        f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores"
    )
    print(
        f"{'side':22} {'sess/s':>8} {'steady':>7} {'p50 s':>7} {'p99 s':>7} {'wall s':>7} "
        f"{'CPU ms/turn: here':>17} {'workers':>8} {'both':>6} {'KB/in-flight':>12} {'busy':>5}"
    )
    for side, r in results.items():
        there = 0.0 if side.startswith("in-process") else 1000 * r["cpu_there"] / count
        print(
            f"{side:22} {r['rate']:8.1f} {r['steady']:7.1f} {r['p50']:7.3f} {r['p99']:7.3f} "
            f"{r['wall']:7.1f} "
            f"{1000 * r['cpu_here'] / count:17.2f} {there:8.2f} {r['cpu_ms']:6.2f} "
            f"{r['kb_in_flight']:12.1f} {r['busy']:5.0%}"
        )
    _ratios(results, rounds)
    if queueing is not None:  # --sequential 0 skips the row
        print(f"sequential: {sequential} turns one at a time, model latency 0 s")
        print(f"{'side':22} {'p50 ms':>8} {'p90 ms':>8} {'CPU ms/turn here':>17} {'worker':>8}")
        for side in ("in-process", "1 worker"):
            r = queueing[side]
            print(
                f"{side:22} {1000 * r['p50']:8.1f} {1000 * r['p90']:8.1f} {r['here_ms']:17.2f} "
                f"{r['there_ms']:8.2f}"
            )
        added = 1000 * (queueing["1 worker"]["p50"] - queueing["in-process"]["p50"])
        print(
            f"queueing adds {added:.1f} ms to a turn's p50 (target: <= 5 ms); median of the "
            f"pairs' differences {queueing['added_ms']:.1f} ms"
        )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=1000, help="turns per worker at once")
    parser.add_argument(
        "--sequential", type=int, default=100, help="turns of the one-at-a-time row"
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="1-worker and 2-worker sides, alternated"
    )
    args = parser.parse_args()
    if args.sequential < 0 or min(args.sessions, args.concurrency, args.rounds) < 1:
        parser.error(
            "--sessions, --concurrency and --rounds must be at least 1, --sequential at least 0"
        )
    os.environ["BENCH_LATENCY"] = str(args.latency)  # the workers inherit it
    asyncio.run(main(args.sessions, args.concurrency, args.sequential, args.rounds))
