"""One flow, two drivers: `run` and `arun` perform the same effects, blocking or awaited."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig, RunnableLambda

from accord.agents import FlowRunnable, Invoke
from accord.persistence import Call, Flow, Sleep, adrive, drive


def _double(x: int) -> str:
    return f"sync {2 * x}"


async def _adouble(x: int) -> str:
    return f"async {2 * x}"


DOUBLE = RunnableLambda(_double, afunc=_adouble)


def _fail(x: int) -> int:
    raise TimeoutError(f"no answer to {x}")


async def _afail(x: int) -> int:
    raise TimeoutError(f"no answer to {x}")


FAIL = RunnableLambda(_fail, afunc=_afail)


def retried(first: Any, then: Any) -> Flow[str]:
    """Tries `first`; on a timeout waits and asks `then` instead."""
    try:
        answer = yield Invoke(first, 1)
    except TimeoutError:
        yield Sleep(0)
        answer = yield Invoke(then, 2)
    return f"answer: {answer}"


def test_the_sync_driver_invokes_and_sleeps_blocking() -> None:
    assert drive(retried(DOUBLE, DOUBLE)) == "answer: sync 2"
    assert drive(retried(FAIL, DOUBLE)) == "answer: sync 4"


async def test_the_async_driver_awaits_the_same_flow() -> None:
    assert await adrive(retried(DOUBLE, DOUBLE)) == "answer: async 2"
    assert await adrive(retried(FAIL, DOUBLE)) == "answer: async 4"


async def test_an_error_the_flow_does_not_catch_is_raised() -> None:
    with pytest.raises(TimeoutError, match="no answer to 2"):
        drive(retried(FAIL, FAIL))
    with pytest.raises(TimeoutError, match="no answer to 2"):
        await adrive(retried(FAIL, FAIL))


async def test_what_a_flow_raises_after_handling_a_failure_is_not_chained_to_it() -> None:
    def give_up() -> Flow[None]:
        errors = []
        try:
            yield Invoke(FAIL, 1)
        except TimeoutError as exc:
            errors.append(exc)
        raise LookupError(f"every model failed: {errors}")

    with pytest.raises(LookupError) as sync:
        drive(give_up())
    with pytest.raises(LookupError) as awaited:
        await adrive(give_up())
    # As in a plain loop: not "during handling of the above exception".
    assert sync.value.__context__ is None
    assert awaited.value.__context__ is None


async def test_a_call_has_a_sync_and_an_async_face() -> None:
    async def read() -> str:
        return "awaited"

    def flow() -> Flow[str]:
        answer: str = yield Call(lambda: "called", read)
        return answer

    assert drive(flow()) == "called"
    assert await adrive(flow()) == "awaited"


async def test_a_cancelled_flow_runs_its_cleanup() -> None:
    cleaned: list[str] = []

    async def slow(x: int) -> int:
        await asyncio.sleep(10)
        return x

    def flow() -> Flow[int]:
        try:
            answer: int = yield Invoke(RunnableLambda(lambda x: x, afunc=slow), 1)
            return answer
        except BaseException as exc:
            cleaned.append(type(exc).__name__)
            raise

    task = asyncio.create_task(adrive(flow()))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["CancelledError"]


class Echo(FlowRunnable[str, str]):
    """A runnable written as one flow."""

    def flow(self, input: str, config: RunnableConfig | None, **kwargs: Any) -> Flow[str]:
        seen = yield Invoke(RunnableLambda(lambda text: text.upper()), input, config)
        return f"{seen} {kwargs.get('suffix', '')}".strip()


async def test_a_flow_runnable_answers_invoke_and_ainvoke_from_its_one_flow() -> None:
    echo = Echo()
    assert echo.invoke("hi") == "HI"
    assert echo.invoke("hi", suffix="!") == "HI !"
    assert await echo.ainvoke("hi", suffix="?") == "HI ?"
