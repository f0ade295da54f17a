"""Flows: one loop, the same effects and results whether driven sync or async."""

from __future__ import annotations

import asyncio

import pytest

from accord.persistence.ops.flow import Call, Flow, Gather, Sleep, adrive, drive, twin


class Counter:
    """A resource with a sync and an async face that records which face served each call."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def add(self, n: int, *, by: int = 1) -> int:
        self.calls.append("sync")
        if n < 0:
            raise ValueError("negative")
        return n + by

    async def aadd(self, n: int, *, by: int = 1) -> int:
        await asyncio.sleep(0)
        self.calls.append("async")
        if n < 0:
            raise ValueError("negative")
        return n + by


def counting(counter: Counter, values: list[int]) -> Flow[list[int]]:
    """Adds to each value; a failing call is caught inside the flow and recorded as -1."""
    results = []
    for value in values:
        try:
            results.append((yield twin(counter.add, counter.aadd, value, by=10)))
        except ValueError:
            results.append(-1)
    yield Sleep(0.01)
    return results


def test_the_same_flow_runs_on_both_faces() -> None:
    sync, aio = Counter(), Counter()
    assert drive(counting(sync, [1, -5, 2])) == [11, -1, 12]
    assert asyncio.run(adrive(counting(aio, [1, -5, 2]))) == [11, -1, 12]
    assert sync.calls == ["sync"] * 3
    assert aio.calls == ["async"] * 3


def test_an_uncaught_failure_leaves_the_flow_and_reaches_the_caller() -> None:
    def failing() -> Flow[int]:
        value: int = yield Call(lambda: 1 // 0, lambda: _divide(1, 0))
        return value

    with pytest.raises(ZeroDivisionError):
        drive(failing())
    with pytest.raises(ZeroDivisionError):
        asyncio.run(adrive(failing()))


async def _divide(a: int, b: int) -> int:
    return a // b


def napping(name: str, log: list[str]) -> Flow[str]:
    yield Call(lambda: log.append(f"{name} starts"), lambda: _append(log, f"{name} starts"))
    yield Sleep(0.05)
    log.append(f"{name} ends")
    return name


async def _append(log: list[str], entry: str) -> None:
    log.append(entry)


def test_gather_runs_sub_flows_in_turn_sync_and_together_async() -> None:
    def both(log: list[str]) -> Flow[list[str]]:
        names: list[str] = yield Gather([napping("a", log), napping("b", log)])
        return names

    in_turn: list[str] = []
    assert drive(both(in_turn)) == ["a", "b"]
    assert in_turn == ["a starts", "a ends", "b starts", "b ends"]
    together: list[str] = []
    assert asyncio.run(adrive(both(together))) == ["a", "b"]
    assert together == ["a starts", "b starts", "a ends", "b ends"]
