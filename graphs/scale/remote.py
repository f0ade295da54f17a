"""The asking side of a fleet: a `Sessions(..., broker=...)` enqueues turns and streams them.

A turn is checked here first (the user may send, the session is open, the text is a message),
then takes its session's next ticket and is published with publisher confirms: `astream`
yields nothing before RabbitMQ holds the turn. Its events then come back through Redis from
whichever worker runs it. Every turn has a message id (the caller's, or a new one), so a
delivery after a worker's death, or the caller sending again, never adds the message twice;
sending again an id already queued only reads its events again.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from accord.graphs.errors import SessionClosed
from accord.graphs.events import DoneEvent, Event, TokenEvent
from accord.graphs.scale.broker import Broker
from accord.graphs.scale.channel import Channel, turn_key
from accord.graphs.scale.queue import Publisher, application
from accord.graphs.scale.wire import event_of
from accord.graphs.sessions.access import User
from accord.graphs.sessions.runtime import Runtime


class Remote:
    """Enqueues a runtime's turns on a fleet and reads their events back."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.publisher = Publisher(application(broker.url, broker.prefix), broker.url)
        self.channel = Channel(broker.redis, prefix=broker.prefix, keep=broker.keep)

    async def events(
        self,
        runtime: Runtime,
        session_id: str,
        user: User,
        text: str | None,
        message_id: str | None,
        tokens: bool,
    ) -> AsyncGenerator[Event, None]:
        """Enqueues the turn, then yields its events as a worker runs it (`Session.astream`)."""
        message_id = await self.submit(runtime, session_id, user, text, message_id, tokens=tokens)
        async for entry in self.entries(session_id, message_id):
            assert entry is not None  # no beat asked for
            event = event_of(entry[1])
            if event is None or (isinstance(event, TokenEvent) and not tokens):
                continue
            yield event
            if isinstance(event, DoneEvent):
                return

    async def submit(
        self,
        runtime: Runtime,
        session_id: str,
        user: User,
        text: str | None,
        message_id: str | None,
        *,
        tokens: bool = True,
    ) -> str:
        """Enqueues one turn (once per message id); returns its message id. Without `tokens`
        the worker streams no token events (nobody asked: a turn is cheaper without them).

        Raises:
            NotAuthorized: The user may not send to the session (audited).
            SessionClosed: The session was ended.
            ServiceUnavailable: RabbitMQ or Redis is unreachable; nothing was enqueued.
        """
        if text is not None and (not isinstance(text, str) or not text.strip()):
            raise ValueError("a message must be non-empty text")
        record = await runtime.authorize(session_id, user, "send")
        if record.status != "open":
            raise SessionClosed(f"session {session_id!r} is {record.status}; open a new one")
        message_id = message_id or str(uuid.uuid4())
        turn = turn_key(session_id, message_id)
        if not await self.channel.claim(turn):
            return message_id  # sent before: its events are (or will be) in its stream
        ticket = await self.channel.ticket(session_id)
        payload: dict[str, Any] = {
            "session_id": session_id,
            "user": user.id,
            "roles": sorted(user.roles),
            "text": text,
            "message_id": message_id,
            "ticket": ticket,
            "tokens": tokens,
        }
        try:
            await asyncio.to_thread(self.publisher.publish, payload)
        except BaseException:
            # Never half-enqueued: the ticket must not hold up the session's later turns.
            await self.channel.finish(session_id, ticket)
            await self.channel.unclaim(turn)
            raise
        return message_id

    def entries(
        self, session_id: str, message_id: str, *, after: str = "0", beat: float | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
        """A turn's stream entries after the entry id `after` (a reconnecting reader's);
        with `beat`, None after each `beat` seconds without one."""
        return self.channel.read(turn_key(session_id, message_id), after=after, beat=beat)

    async def known(self, session_id: str, message_id: str) -> bool:
        """Whether the session has a turn of this message id whose events can be read."""
        return await self.channel.claimed(turn_key(session_id, message_id))

    async def aclose(self) -> None:
        """Closes the Redis connections and the broker's connection pool."""
        await self.channel.aclose()
        await asyncio.to_thread(self.publisher.close)
