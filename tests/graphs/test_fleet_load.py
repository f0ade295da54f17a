"""The fleet's load board: routers on one worker see the others' in-flight work, and the
forecast recommends a worker count (real RabbitMQ, Redis and PostgreSQL; workers are
subprocesses)."""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import pytest
from fleet import Workers, fleet_database
from scale_team import single
from typer.testing import CliRunner

from accord.agents import workers_needed
from accord.agents.routing import LoadCounter, SharedLoad
from accord.app.cli.main import cli
from accord.graphs import Broker, Sessions
from accord.graphs.scale.board import Board

pytestmark = pytest.mark.timeout(180)


async def test_the_board_shows_each_process_the_others_work_until_it_expires(
    fleet: Broker,
) -> None:
    mine = Board(fleet.redis, fleet.prefix, beat=0.2, me="here:1")
    theirs = Board(fleet.redis, fleet.prefix, beat=0.2, me="there:2")
    try:
        await mine.apost(turns=1, concurrency=10, turn_s=2.0, agents={"billing": 1})
        await theirs.apost(turns=3, concurrency=10, turn_s=4.0, agents={"billing": 2, "tech": 1})
        local = LoadCounter()
        shared = SharedLoad(mine, local=local)
        with local.running("billing"):
            await shared_refresh(shared)
            # Its own entry is the local counter's already: counted once.
            assert shared.loads(["billing", "tech", "sales"]) == [3, 1, 0]
        assert {w.name: w.turns for w in await theirs.aworkers()} == {"here:1": 1, "there:2": 3}
        advice = fleet.recommend()
        assert (advice.running, advice.in_flight, advice.queued) == (2, 4, 0)
        assert (advice.per_worker, advice.turn_s) == (10, 3.0)
        assert advice.workers == 1  # 4 turns fit in one worker of 10 kept 80% full
        await theirs.aretire()
        await asyncio.sleep(0.7)  # three beats: a worker that stopped posting drops off
        assert mine.per_agent() == {}
        assert fleet.recommend().running == 0
    finally:
        await mine.aclose()
        await theirs.aclose()


async def shared_refresh(shared: SharedLoad) -> None:
    from accord.persistence import adrive

    await adrive(shared.refreshing())


def test_the_forecast_sizes_the_fleet_from_arrivals_and_work_in_flight() -> None:
    now = 1_000 * 60.0
    # 120 turns a minute for the last half hour, each running 10 s: 20 turns in flight.
    steady = [(now - 60.0 * k, 120) for k in range(1, 31)]
    workers, expected = workers_needed(steady, now=now, in_flight=0, per_worker=5, step_s=10)
    assert expected == pytest.approx(20, rel=0.05)
    assert workers == math.ceil(expected / 4) in (5, 6)  # over workers of 5 kept 80% full
    # Work already in flight (or queued) beyond the forecast counts as it is.
    assert workers_needed(steady, now=now, in_flight=40, per_worker=5, step_s=10)[0] == 10
    # No traffic at all: the minimum.
    assert workers_needed([], now=now, in_flight=0, per_worker=5, step_s=10, minimum=2) == (2, 0)


async def test_a_router_on_one_worker_sees_the_other_workers_turns(
    fleet: Broker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCORD_TEST_PREFIX", fleet.prefix)
    monkeypatch.setenv("ACCORD_TEST_LATENCY", "4")
    with fleet_database(tmp_path) as db:
        # One turn at a time each: the second turn must go to the other worker.
        workers = Workers("tests/scale_team.py:desks", db, fleet, tmp_path, concurrency=1)
        workers.start(2)
        try:
            async with Sessions(single(), db=db, broker=fleet) as sessions:
                first, second = [await sessions.aopen("alice") for _ in range(2)]
                one = asyncio.create_task(first.asend("my invoice is wrong"))
                board = fleet.board()
                deadline = time.monotonic() + 30
                while board.per_agent() != {"billing": 1}:  # posted by the first's worker
                    assert time.monotonic() < deadline, board.workers()
                    await asyncio.sleep(0.1)
                two = asyncio.create_task(second.asend("my invoice is wrong too"))
                await asyncio.sleep(2.5)  # the second is running (its worker posted it too)
                advice = fleet.recommend()
                assert (advice.running, advice.in_flight, advice.per_worker) == (2, 2, 1)
                assert advice.workers == 3  # 2 turns over workers of 1 kept 80% full
                shown = CliRunner().invoke(
                    cli,
                    ["metrics", "--broker", fleet.url, "--prefix", fleet.prefix, "--json"],
                )
                assert shown.exit_code == 0, shown.output
                assert json.loads(shown.output)["fleet"]["workers"] == 3
                board.close()
                # Least-busy: both desks idle for the first; for the second, on the other
                # worker, billing is busy with the first's turn, seen only through the board.
                assert (await one).agent == "billing"
                assert (await two).agent == "tech"
        finally:
            workers.stop()
