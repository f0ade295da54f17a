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
from typing import Any, NamedTuple

from accord.graphs.errors import SessionClosed
from accord.graphs.events import DoneEvent, Event, TokenEvent
from accord.graphs.scale.broker import Broker
from accord.graphs.scale.channel import Channel, turn_key
from accord.graphs.scale.queue import Publisher, application
from accord.graphs.scale.wire import event_of
from accord.graphs.sessions.access import User
from accord.graphs.sessions.runtime import Runtime


class Queued(NamedTuple):
    """A turn `Remote.submit` handled: its message id; `fresh`: enqueued by this call (not
    a message id sent before)."""

    message_id: str
    fresh: bool


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
        queued = await self.submit(runtime, session_id, user, text, message_id, tokens=tokens)
        entries = self.entries(session_id, queued.message_id, announced=queued.fresh)
        async for entry in entries:
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
    ) -> Queued:
        """Enqueues one turn (once per message id); returns its message id, and whether this
        call enqueued it (its worker then tells this process of each entry: read it with
        `entries(..., announced=True)`). Without `tokens` the worker streams no token events
        (nobody asked: a turn is cheaper without them).

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
        ticket = await self.channel.claim(turn, session_id)
        if ticket is None:
            # Sent before: its events are (or will be) in its stream.
            return Queued(message_id, fresh=False)
        payload: dict[str, Any] = {
            "session_id": session_id,
            "user": user.id,
            "roles": sorted(user.roles),
            "text": text,
            "message_id": message_id,
            "ticket": ticket,
            "tokens": tokens,
            "inbox": self.channel.inbox,
        }
        try:
            await asyncio.to_thread(self.publisher.publish, payload)
        except BaseException:
            # Never half-enqueued: the ticket must not hold up the session's later turns.
            await self.channel.finish(session_id, ticket)
            await self.channel.unclaim(turn)
            raise
        return Queued(message_id, fresh=True)

    def entries(
        self,
        session_id: str,
        message_id: str,
        *,
        after: str = "0",
        beat: float | None = None,
        announced: bool = False,
    ) -> AsyncIterator[tuple[str, dict[str, Any]] | None]:
        """A turn's stream entries after the entry id `after` (a reconnecting reader's);
        with `beat`, None after each `beat` seconds without one. `announced`: this process
        enqueued the turn (`submit(...).fresh`)."""
        turn = turn_key(session_id, message_id)
        return self.channel.read(turn, after=after, beat=beat, announced=announced)

    async def known(self, session_id: str, message_id: str) -> bool:
        """Whether the session has a turn of this message id whose events can be read."""
        return await self.channel.claimed(turn_key(session_id, message_id))

    async def aclose(self) -> None:
        """Closes the Redis connections and the broker's connection pool."""
        await self.channel.aclose()
        await asyncio.to_thread(self.publisher.close)
