"""`accord demo`: customer onboarding on the embedded model, in a session, then resumed elsewhere.

The demo is also the smallest honest tour of the product: a team in `Sessions` (leases,
checkpoints, audit trail, step events, all in one SQLite file), replies streamed as the agents
write them, and the same session picked up again in a brand-new process by its id (which talks
to the first process's model server rather than loading a second copy of the model).
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.rule import Rule

from accord.app.cli.run import load_model
from accord.app.cli.talk import Conversation
from accord.evals import EXAMPLES
from accord.graphs import Session, Sessions

OPENING_TURNS = (
    "Hi! I'm Dana Reyes and I'd like to open a business checking account for my bakery.",
    "Of course: I was born on 12 April 1988 and my passport number is X4419302.",
    "No paper statements please, and I'd like a debit card.",
)
RESUMED_TURN = "How long will the debit card take to arrive?"
ONBOARDING = EXAMPLES["onboarding"]

console = Console(highlight=False)


def run_demo(db: str | None = None) -> None:
    """Runs the opening turns in a new session, then resumes it in a child process.

    Args:
        db: The database, as `--db` takes it (a path or a URL); default: a new SQLite file.
    """
    db = db or str(Path(tempfile.mkdtemp(prefix="accord-demo-")) / "sessions.sqlite")
    console.print(
        Panel.fit(
            "[bold]accord demo[/]: customer onboarding, a handoff team of four agents\n"
            "intake -> verification -> setup -> support, on the embedded local model\n"
            f"sessions are persisted in [cyan]{db}[/]",
        )
    )
    load_model(console)
    with Sessions(ONBOARDING.build(), db=_url(db)) as sessions:
        session = sessions.open(getpass.getuser())
        console.print(f"[dim]session {session.id} opened[/]")
        _converse(session, OPENING_TURNS)
    console.print(Rule("a new process resumes the session from its checkpoint"))
    _command(f"accord demo --resume {session.id} --db {db}")
    cmd = [sys.executable, "-m", "accord.app", "demo", "--resume", session.id, "--db", db]
    subprocess.run(cmd, check=True, env=_sharing_the_model())
    console.print(Rule("what the session database now holds"))
    _holds(db, session.id)


def _holds(db: str, session_id: str) -> None:
    """Runs two of the commands that read the database and prints what they show, then the
    others to try: each on one line, never wrapped, so it can be copied."""
    from accord.app.cli import sessions
    from accord.app.cli.metrics import show_metrics

    _command(f"accord sessions list --db {db}")
    sessions.list_(db=db)
    _command(f"accord metrics --db {db} --session {session_id} --by agent")
    show_metrics([], db, [session_id], by=("agent",))
    console.print("[dim]and the conversation with its checkpoints, then the audit trail:[/]")
    _command(f"accord sessions show {session_id} --db {db}")
    _command(f"accord sessions audit {session_id} --db {db}")


def _command(text: str) -> None:
    # soft_wrap: a terminal narrower than the line folds it without a newline, so a copied
    # command stays whole (rich's own wrapping had cut the database path in two).
    console.print(f"$ {escape(text)}", soft_wrap=True)


def resume_demo(db: str, session_id: str) -> None:
    """Resumes a demo session by id in this process and sends the follow-up question.

    Raises:
        DatabaseNotFound: No database file at `db`.
        SessionNotFound: No such session there.
    """
    from accord.app.cli.db import database_url

    with Sessions(ONBOARDING.build(), db=database_url(db, reading=True)) as sessions:
        session = sessions.resume(session_id, getpass.getuser())
        state = session.state()
        console.print(
            f"restored session [cyan]{session_id}[/]: {len(state.get('messages', []))} "
            f"messages, active agent [bold]{state.get('active_agent')}[/]"
        )
        load_model(console)
        _converse(session, (RESUMED_TURN,))


def _converse(session: Session, turns: Sequence[str]) -> None:
    for text in turns:
        Conversation(console).turn(text, session.stream(text))


def _sharing_the_model() -> dict[str, str]:
    """The child's environment: it talks to this process's model server (ACCORD_LOCAL_URL)
    rather than loading a second copy of the 1.1 GB model beside it."""
    from accord.agents import embedded_server

    url = embedded_server().url
    return {**os.environ, "ACCORD_LOCAL_URL": url} if url else dict(os.environ)


def _url(db: str) -> str:
    from accord.app.cli.db import database_url

    return database_url(db)
