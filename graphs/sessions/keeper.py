"""Keeps a run's lease: renewed every third of its time to live while the run goes on.

Most turns end long before the first renewal is due, so until then the keeper is a timer on
the event loop, not a task: a task and its `wait_for` per turn cost more than the turn's
bookkeeping. For the same reason its event exists only once renewals start (an asyncio
`Event` holds a deque of about 0.7 KB, and a fleet's worker keeps hundreds of turns in flight).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from accord.persistence import SessionBusy


class Keeper:
    """Calls `renew` every `ttl / 3` seconds from now until `stop`; sets `lost` (and stops)
    when `renew` finds another holder has the lease."""

    def __init__(self, renew: Callable[[], Awaitable[object]], ttl: float) -> None:
        self.lost = False
        self._renew, self._every = renew, ttl / 3
        self._done: asyncio.Event | None = None  # made with the renewing task; set at `stop`
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(self._every, self._start)

    async def stop(self) -> None:
        """Stops renewing, after waiting for a renewal in flight: the lease is released after
        the run's last renewal, never before it."""
        self._timer.cancel()  # before the first renewal: no task, nothing more to stop
        if self._done is not None:
            self._done.set()
        if self._task is not None:
            await self._task

    def _start(self) -> None:
        self._done = asyncio.Event()
        self._task = asyncio.ensure_future(self._keep(self._done))

    async def _keep(self, done: asyncio.Event) -> None:
        while not done.is_set():
            try:
                await self._renew()
            except SessionBusy:
                self.lost = True
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(done.wait(), self._every)
