"""`Outbox`: a turn's entries on their way to Redis, sent together while one send is out.

A worker streams each event of a turn as it happens. One Redis call per event cost the worker
a round trip each, and a turn's last events (its message, its agent, its usage, `done`) come
within a few milliseconds of each other: the first goes at once, and those that come while it
is out go together in the next call, in order. No entry waits for a later one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from accord.graphs.scale.channel import Channel


class Outbox:
    """Sends a turn's entries to its stream (`Channel.publish`), in order."""

    def __init__(self, channel: Channel, turn: str, inbox: str | None) -> None:
        self.channel, self.turn, self.inbox = channel, turn, inbox
        self._waiting: list[dict[str, Any]] = []
        self._sending: asyncio.Task[None] | None = None

    def put(self, entry: dict[str, Any]) -> None:
        """Sends the entry once the entries before it are sent.

        Raises:
            ServiceUnavailable: An earlier send failed (Redis is unreachable).
        """
        self._raise_failure()
        self._waiting.append(entry)
        if self._sending is None:
            self._sending = asyncio.get_running_loop().create_task(self._send())

    async def flush(self) -> None:
        """Returns once every entry put is in the stream (or raises why it is not)."""
        if self._sending is not None:
            await asyncio.shield(self._sending)
        self._raise_failure()

    async def _send(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            await self.channel.publish(self.turn, *batch, inbox=self.inbox)
        self._sending = None

    def _raise_failure(self) -> None:
        sending = self._sending
        if sending is not None and sending.done() and sending.exception() is not None:
            raise sending.exception()  # type: ignore[misc]
