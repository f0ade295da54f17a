"""The shape consultation, delegation and consensus share: one step fans out, one step joins.

A head node sends work to branches that run in parallel; every branch leads to the join node,
which ends the turn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Send

Step = tuple[str, Any]
"""A node: its name and what runs it (an `AgentNode`, a function)."""


def fan_out(
    schema: type[Any],
    head: Step,
    branches: Sequence[Step],
    join: Step,
    *,
    sends: Callable[[Any], list[Send]] | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str,
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compiles `head` -> `branches` (in parallel) -> `join` -> end over the state `schema`.

    Args:
        schema: The graph's state.
        head: The first step of each turn; without `sends` it returns a `Command` whose `goto`
            is the branches to run (or the join directly).
        branches: The parallel steps.
        join: The step that gathers the branches' work and ends the turn.
        sends: Whom the head fans out to, read from the state after it ran: every branch, as
            `Send`s (for a head that only prepares the round).
        checkpointer: Where sessions are persisted.
        name: The graph's name.
    """
    names = [branch for branch, _ in branches]
    builder = StateGraph(schema)
    if sends is None:
        builder.add_node(*head, destinations=(*names, join[0]))
    else:
        builder.add_node(*head)
    for branch, node in branches:
        builder.add_node(branch, node)
        builder.add_edge(branch, join[0])
    builder.add_node(*join)
    builder.add_edge(START, head[0])
    if sends is not None:
        builder.add_conditional_edges(head[0], sends, names)
    builder.add_edge(join[0], END)
    return builder.compile(checkpointer=checkpointer, name=name)
