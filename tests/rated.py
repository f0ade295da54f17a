"""A small handoff team (onboarding Dana), and session databases of it, rated and unrated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from support import scripted

from accord.graphs import Sessions, handoff


def dana_team() -> Any:
    """Intake welcomes Dana and hands off to verification, which asks, then verifies."""
    intake = scripted("intake", {"reply": "Welcome Dana.", "handoff_to": "verification"})
    verification = scripted(
        "verification",
        {"reply": "Your date of birth?", "handoff_to": "none"},
        {"reply": "Thanks, you are verified.", "handoff_to": "none"},
    )
    return handoff([intake, verification])


async def rated_database(path: Path) -> str:
    """An SQLite database at `path` (its URL returned) where alice rated the welcome down,
    with a comment, then the latest answer up."""
    url = f"sqlite:///{path}"
    async with Sessions(dana_team(), db=url) as sessions:
        session = await sessions.aopen("alice")
        await session.asend("Hi, I'm Dana")
        welcome = (await session.ahistory())[1]
        await session.asend("12 May 1990")
        await session.afeedback(0, "It did not ask my name.", message_id=welcome.id)
        await session.afeedback(1)  # the latest answer
    return url


async def unrated_database(path: Path) -> str:
    """An SQLite database at `path` (its URL returned) with one answered session, unrated."""
    url = f"sqlite:///{path}"
    async with Sessions(dana_team(), db=url) as sessions:
        await (await sessions.aopen("alice")).asend("Hi, I'm Dana")
    return url
