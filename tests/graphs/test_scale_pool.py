"""The worker's Celery pool: a turn runs on the event loop, and Celery's task call comes after.

No services: the pool is driven as Celery's consumer drives it (`apply_async` with the tracer
as target and the message's JSON body), the target recording what it is handed.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from types import SimpleNamespace
from typing import Any

from accord.graphs.scale.event_loop import turn_pool
from accord.graphs.scale.queue import TASK
from accord.graphs.sessions.portal import Portal

base: Any = importlib.import_module("celery.concurrency.base")  # untyped


class Turns:
    """Turns that wait until the test lets them go, and the task calls the pool made."""

    def __init__(self) -> None:
        self.released = False
        self.waiting: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self.calls: list[tuple[Any, ...]] = []
        self.called = threading.Event()
        self.accepted: list[int] = []

    async def ahead(self, payload: dict[str, Any]) -> str:
        event = asyncio.Event()
        self.waiting.append((asyncio.get_running_loop(), event))
        if not self.released:
            await event.wait()
        return f"answered {payload['text']}"

    def release(self) -> None:
        """Lets every turn go, waiting or still to come."""
        self.released = True
        for loop, event in self.waiting:
            loop.call_soon_threadsafe(event.set)

    def target(self, *args: Any) -> str:
        self.calls.append(args)
        self.called.set()
        return "traced"

    def accept(self, pid: int, _: float) -> None:
        self.accepted.append(pid)


def _pool(turns: Turns, portal: Portal) -> Any:
    app = SimpleNamespace(conf=SimpleNamespace(accept_content=["json"]))
    pool = turn_pool(TASK, portal, turns.ahead)(limit=10, app=app)
    pool.start()
    return pool


def _message(name: str, text: str) -> tuple[Any, ...]:
    body = json.dumps([[{"text": text}], {}, {}]).encode()
    return (name, "task-1", {"id": "task-1"}, body, "application/json", "utf-8")


def test_a_turn_runs_on_the_loop_then_its_task_call_gets_the_outcome() -> None:
    turns, portal = Turns(), Portal()
    pool = _pool(turns, portal)
    before = threading.active_count()
    try:
        done: list[Any] = []
        pool.apply_async(
            turns.target,
            args=_message(TASK, "hello"),
            callback=done.append,
            accept_callback=turns.accept,
        )
        assert turns.accepted, "accepted when it starts, as Celery's own pools say"
        assert not turns.called.wait(0.2), "Celery's call waits for the turn"
        assert threading.active_count() <= before + 1  # the loop's thread, nothing per turn
        turns.release()
        assert turns.called.wait(5)
        (name, task_id, _, body, content_type, _) = turns.calls[0]
        args, kwargs, _ = body  # decoded already: the tracer takes it as it is
        assert (name, task_id, content_type, args) == (TASK, "task-1", None, [{"text": "hello"}])
        assert kwargs["ran"].result() == "answered hello"
    finally:
        pool.stop()
        portal.close()
    assert done == ["traced"]


def test_other_tasks_go_straight_to_celery_and_a_stop_waits_for_turns_ahead() -> None:
    turns, portal = Turns(), Portal()
    pool = _pool(turns, portal)
    try:
        pool.apply_async(turns.target, args=_message("other.task", "x"))
        assert turns.called.wait(5)
        assert turns.calls[0][4] == "application/json"  # not decoded, nor run ahead
        pool.apply_async(turns.target, args=_message(TASK, "late"))
        stopping = threading.Thread(target=pool.stop)
        stopping.start()
        stopping.join(0.2)
        assert stopping.is_alive(), "a warm shutdown waits for the turn running ahead"
        turns.release()
        stopping.join(5)
        assert not stopping.is_alive()
        assert len(turns.calls) == 2
    finally:
        turns.release()
        portal.close()
