"""`accord run`: one message to an example team or to the user's own graph, in a session.

The turn runs through `Sessions` on the `--db` database, so it is listed by `accord
sessions`, measured by `accord metrics` and can be continued with `--session`.
"""

from __future__ import annotations

import getpass
import time
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from accord.app.cli import teams
from accord.app.cli.talk import (
    Conversation,
    answer_hint,
    check_answered,
    interrupted_hint,
    summary,
)
from accord.app.errors import EmptyInput, WrongTeam
from accord.evals import EXAMPLES
from accord.graphs import Sessions

if TYPE_CHECKING:
    from accord.app.cli.teams import Graph
    from accord.persistence import SessionRecord

console = Console(highlight=False)


def list_examples() -> None:
    """Prints the example teams with their pattern and a sample input."""
    table = Table("example", "pattern", "what it does", "sample input")
    for name, spec in EXAMPLES.items():
        table.add_row(name, spec.pattern, spec.description, spec.sample)
    console.print(table)
    console.print('[dim]accord run NAME "your message" (without a message: its sample)[/]')


def run_team(
    team: str,
    text: str | None,
    *,
    db: str,
    session: str | None = None,
    model: str | None = None,
    typed_db: str | None = None,
) -> str:
    """Sends `text` to `team` in a new session (or `session`); returns the session id.

    Args:
        team: An example's name, or the user's graph as `module:attr` or `file.py:attr`.
        text: The message; None: the example's sample (said so on screen).
        db: The database URL of the sessions.
        session: Continue this session instead of opening one.
        model: Model id for every agent of an example (default: the embedded model).
        typed_db: `--db` as the user typed it, for the hints printed (default: `db`).

    Raises:
        EmptyInput: `text` is empty, or None for a user's graph (which has no sample).
        UnknownExample, GraphNotFound: `team` names nothing runnable.
        SessionNotFound: `session` is not in the database.
    """
    mine = teams.is_path(team)
    if text is not None and not text.strip():
        raise EmptyInput("the message is empty: say something to the team")
    if text is None and mine:
        raise EmptyInput(f'give the message for your graph: accord run {team} "..."')
    graph = teams.team(team, model)
    if text is None:
        text = EXAMPLES[team].sample
        console.print("[dim](no message given: the example's sample is sent)[/]")
    if not mine and model in (None, "local"):
        load_model(console)
    began = time.monotonic()
    with Sessions(graph, db=db) as sessions:
        user = getpass.getuser()
        handle = sessions.resume(session, user) if session else sessions.open(user)
        same_team(handle.record, graph, team)
        conversation = Conversation(console)
        try:
            reply = conversation.turn(text, handle.stream(text))
        except KeyboardInterrupt:
            console.print(interrupted_hint(handle.id, team, typed_db or db))
            raise
    console.print(summary(reply, handle.id, time.monotonic() - began))
    if reply is not None and reply.paused:
        console.print(answer_hint(handle.id, team, typed_db or db))
    check_answered(conversation)
    return handle.id


def same_team(record: SessionRecord, graph: Graph, team: str) -> None:
    """Refuses to go on with a session another team ran: this team would answer on a state
    whose agent it does not have (the record names no team, but its agent tells).

    Raises:
        WrongTeam: The session's agent is not a node of `graph`.
    """
    if record.agent is not None and record.agent not in graph.nodes:
        raise WrongTeam(
            f"session {record.session_id!r} is held by the agent {record.agent!r}, which "
            f"{team} does not have: continue it with the team that ran it, or leave out "
            "--session to open a new one"
        )


def load_model(screen: Console) -> None:
    """Starts the embedded model now, with a spinner; says how long it took."""
    from accord.agents import warm_up

    with screen.status("loading the embedded model (the first run assembles it, ~1.1 GB)..."):
        seconds = warm_up()
    if seconds:
        screen.print(f"[dim]model ready in {seconds:.1f} s[/]")
