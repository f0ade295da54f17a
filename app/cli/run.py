"""`accord run`: one example team on the embedded model, its agents printed as they speak."""

from __future__ import annotations

import uuid
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from rich.console import Console
from rich.table import Table

from accord.agents import warm_up
from accord.app.cli.show import show_update
from accord.app.errors import UnknownExample
from accord.evals import EXAMPLES
from accord.persistence import SQLAlchemySaver

console = Console()


def list_examples() -> None:
    """Prints the example teams with their pattern and a sample input."""
    table = Table("example", "pattern", "what it does", "sample input")
    for name, spec in EXAMPLES.items():
        table.add_row(name, spec.pattern, spec.description, spec.sample)
    console.print(table)


def run_example(name: str, text: str | None, db: Path | None, session: str | None) -> None:
    """Runs one example on one input (its sample when `text` is None).

    Raises:
        UnknownExample: `name` is not an example; the message lists the valid ones.
    """
    if name not in EXAMPLES:
        raise UnknownExample(f"unknown example {name!r}; choose one of: {', '.join(EXAMPLES)}")
    spec = EXAMPLES[name]
    with console.status("loading the embedded model..."):
        seconds = warm_up()
    console.print(f"[dim]model ready in {seconds:.1f} s[/]")
    saver: AbstractContextManager[Any] = (
        SQLAlchemySaver.from_url(f"sqlite:///{db}") if db else nullcontext(None)
    )
    thread = session or uuid.uuid4().hex
    prompt = text or spec.sample
    console.print(f"[bold green]you[/]: {prompt}")
    with saver as checkpointer:
        graph = spec.build(checkpointer=checkpointer)
        for update in graph.stream(
            {"messages": [HumanMessage(prompt)]},
            {"configurable": {"thread_id": thread}},
            stream_mode="updates",
        ):
            for node, change in update.items():
                show_update(console, node, change)
    console.print(f"[dim]session {thread}[/]")
