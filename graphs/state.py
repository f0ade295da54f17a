"""The state schema family every accord pattern shares.

All patterns run on `TeamState` (or a subclass that adds pattern fields), so any accord graph
can be wrapped by the same session runtime and read by the same tools.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages


def merge_vars(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for state variables: later writes win key by key; a `None` value deletes the key."""
    merged = dict(left or {})
    for key, value in (right or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


class Handoff(TypedDict):
    """One transfer of control between agents, as recorded in the state."""

    source: str
    target: str
    reason: str


class TeamState(TypedDict, total=False):
    """The state of a conversation with a team of agents.

    Attributes:
        messages: The conversation; every agent message carries the agent's name in `name`.
        active_agent: The agent that holds the conversation and answers the next user message.
        vars: Free-form state variables shared by the team (e.g. a verified customer id).
        handoffs: Every transfer of control so far, oldest first.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    active_agent: str
    vars: Annotated[dict[str, Any], merge_vars]
    handoffs: Annotated[list[Handoff], operator.add]
