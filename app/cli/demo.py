"""`accord demo`: customer onboarding on the embedded model, persisted, then resumed elsewhere.

The demo is also the smallest honest tour of the public API: build a team, persist it with
`SQLAlchemySaver`, talk to it, and pick the session up again in a brand-new process by its id.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from rich.console import Console
from rich.panel import Panel
from rich.rule import Rule

from accord.agents import warm_up
from accord.app.cli.show import show_update
from accord.evals import EXAMPLES
from accord.persistence import SQLAlchemySaver

OPENING_TURNS = (
    "Hi! I'm Dana Reyes and I'd like to open a business checking account for my bakery.",
    "Of course: I was born on 12 April 1988 and my passport number is X4419302.",
    "No paper statements please, and I'd like a debit card.",
)
RESUMED_TURN = "How long will the debit card take to arrive?"
ONBOARDING = EXAMPLES["onboarding"]

console = Console(highlight=False)


def run_demo(db: Path | None = None) -> None:
    """Runs the opening turns, then resumes the session in a child process."""
    db = db or Path(tempfile.mkdtemp(prefix="accord-demo-")) / "sessions.sqlite"
    session_id = secrets.token_urlsafe(16)
    console.print(
        Panel.fit(
            "[bold]accord demo[/]: customer onboarding, a handoff team of four agents\n"
            "intake -> verification -> setup -> support, on the embedded local model\n"
            f"sessions are persisted in [cyan]{db}[/]",
        )
    )
    _load_model()
    _converse(db, session_id, OPENING_TURNS)
    console.print(Rule("a new process resumes the session from its checkpoint"))
    console.print(f"$ accord demo --resume {session_id} --db {db}\n")
    cmd = [sys.executable, "-m", "accord.app", "demo", "--resume", session_id, "--db", str(db)]
    subprocess.run(cmd, check=True)


def resume_demo(db: Path, session_id: str) -> None:
    """Reopens a demo session by id in this process and sends the follow-up question."""
    with SQLAlchemySaver.from_url(f"sqlite:///{db}") as saver:
        state = ONBOARDING.build(checkpointer=saver).get_state(_config(session_id)).values
    if not state.get("messages"):
        raise SystemExit(f"no session {session_id!r} in {db}")
    console.print(
        f"restored session [cyan]{session_id}[/]: {len(state['messages'])} messages, "
        f"active agent [bold]{state.get('active_agent')}[/]"
    )
    _load_model()
    _converse(db, session_id, (RESUMED_TURN,))


def _load_model() -> None:
    with console.status("loading the embedded model (the first run assembles it, ~1.1 GB)..."):
        seconds = warm_up()
    console.print(f"[dim]model ready in {seconds:.1f} s[/]")


def _converse(db: Path, session_id: str, turns: Sequence[str]) -> None:
    with SQLAlchemySaver.from_url(f"sqlite:///{db}") as saver:
        graph = ONBOARDING.build(checkpointer=saver)
        for text in turns:
            console.print(f"\n[bold green]you[/]: {text}")
            with console.status("thinking..."):
                updates = list(
                    graph.stream(
                        {"messages": [HumanMessage(text)]},
                        _config(session_id),
                        stream_mode="updates",
                        durability="sync",
                    )
                )
            for update in updates:
                for node, change in update.items():
                    show_update(console, node, change)


def _config(session_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": session_id}}
