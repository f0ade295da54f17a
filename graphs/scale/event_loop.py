"""`turn_pool`: the Celery execution pool of a worker, which holds no thread while a turn runs.

Celery's thread pool gives each task a thread for its whole run, so a turn waiting on its model
holds one: some 18 KB each (its C stack, Python's frame stack, its share of the heap), for
every one of the hundreds a worker runs at once, a fifth of what an in-flight turn costs. This
pool runs a turn ahead on the worker's event loop when Celery hands the task over; once the
turn is done it runs Celery's own task call (its tracing, acknowledgement and retry) on one of
a few threads, and the task reads the turn's outcome from its `ran` argument: the asyncio task,
done. Other tasks, and a message it cannot decode, go through that call as they would on the
thread pool (Celery reports them). A warm shutdown waits for every turn running ahead.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from accord.graphs.scale.extra import need
from accord.graphs.sessions.portal import Portal

THREADS = 4
"""Threads running Celery's part of a task once its turn is done (a few milliseconds each)."""

Ahead = Callable[..., Coroutine[Any, Any, Any]]


def turn_pool(task: str, portal: Portal, ahead: Ahead) -> type:
    """A Celery pool class (for `worker_pool`) that runs task `task`'s calls as
    `ahead(*args, **kwargs)` on `portal`'s loop, then the task itself with `ran=` that task."""
    base = need("celery.concurrency.base")
    pool: Any = base.BasePool
    serialization = need("kombu.serialization")

    class TurnPool(pool):  # type: ignore[misc]  # Celery is untyped
        def on_start(self) -> None:
            self._calls = ThreadPoolExecutor(THREADS, thread_name_prefix="accord-celery")
            self._accept = serialization.prepare_accept_content(self.app.conf.accept_content)
            self._ahead = 0
            self._idle = threading.Condition()

        def on_stop(self) -> None:
            with self._idle:
                self._idle.wait_for(lambda: self._ahead == 0)
            self._calls.shutdown()

        def on_apply(
            self,
            target: Callable[..., Any],
            args: tuple[Any, ...],
            kwargs: dict[str, Any],
            callback: Callable[..., Any] | None = None,
            accept_callback: Callable[..., Any] | None = None,
            **_: Any,
        ) -> None:
            # Celery keeps a weak reference to what this returns, for a cancel that the
            # thread pool cannot do either: None costs no memory per turn.
            def call(args: tuple[Any, ...], accept: Callable[..., Any] | None) -> None:
                self._calls.submit(base.apply_target, target, args, kwargs, callback, accept)

            name, task_id, request, body, content_type, encoding = args
            try:
                if name != task:
                    raise LookupError(name)
                decoded = serialization.loads(body, content_type, encoding, accept=self._accept)
                task_args, task_kwargs, embed = decoded
                coroutine = ahead(*task_args, **task_kwargs)
            except Exception:
                call(args, accept_callback)
                return
            if accept_callback is not None:
                accept_callback(os.getpid(), time.monotonic())

            def then(ran: asyncio.Task[Any]) -> None:
                # The body goes decoded (no content type): Celery's tracer takes it as it is.
                body = (task_args, {**task_kwargs, "ran": ran}, embed)
                try:
                    call((name, task_id, request, body, None, None), None)
                finally:
                    with self._idle:
                        self._ahead -= 1
                        self._idle.notify_all()

            with self._idle:
                self._ahead += 1
            try:
                portal.start(coroutine, then)
            except BaseException:
                coroutine.close()
                with self._idle:
                    self._ahead -= 1
                raise

    return TurnPool
