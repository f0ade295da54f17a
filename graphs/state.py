"""The state schema family every accord pattern shares.

All patterns run on `TeamState` (or a subclass that adds pattern fields), so any accord graph
can be wrapped by the same session runtime and read by the same tools.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict  # pydantic builds JSON schemas from it on 3.11


def merge_vars(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer for state variables: later writes win key by key; a `None` value deletes the key."""
    merged = dict(left or {})
    for key, value in (right or {}).items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def collect(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer for what parallel branches report: appends; a `None` write starts afresh.

    Patterns write `None` when a new round begins (a new question, a new plan), so the records
    of the previous turn on the same thread do not leak into this turn's tally or synthesis.
    """
    if right is None:
        return []
    return [*(left or []), *right]


class Failure(TypedDict):
    """A parallel step that failed after its retries, recorded instead of aborting its siblings.

    Attributes:
        agent: The agent whose step failed.
        task: What it was asked to do.
        error: The exception's type name, e.g. `"MalformedOutput"` or `"ConnectionError"`.
        message: The exception's message.
        attempts: How many times the step was tried.
    """

    agent: str
    task: str
    error: str
    message: str
    attempts: int


def failure(agent: str, task: str, error: Exception, attempts: int) -> Failure:
    """Builds the `Failure` record of `error`."""
    return {
        "agent": agent,
        "task": task,
        "error": type(error).__name__,
        "message": _said(error),
        "attempts": attempts,
    }


def _said(error: Exception) -> str:
    """`error`'s message, naming the server it could not reach: httpx's and openai's errors
    carry their request, but say only "All connection attempts failed" or "Connection error."."""
    text = str(error)
    try:
        url = str(error.request.url)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # none, or httpx's error raised without its request
        return text
    return text if url in text else f"{text} ({url})"


class Handoff(TypedDict):
    """One transfer of control between agents, as recorded in the state.

    `facts` is what the session knew when the conversation changed hands (handoff pattern).
    """

    source: str
    target: str
    reason: str
    facts: NotRequired[dict[str, str]]


class TeamState(TypedDict, total=False):
    """The state of a conversation with a team of agents.

    Attributes:
        messages: The conversation; every agent message carries the agent's name in `name`.
        active_agent: The agent that holds the conversation and answers the next user message.
        vars: Free-form state variables shared by the team (e.g. a verified customer id).
        facts: What the session has learned about the user (`"full_name"`, `"date_of_birth"`,
            ...): agents fill it through their structured answer, every agent's prompt shows
            it as "known so far", and handoffs are gated on it (`Agent.requires`).
        handoffs: Every transfer of control so far, oldest first.
    """

    messages: Annotated[list[AnyMessage], add_messages]
    active_agent: str
    vars: Annotated[dict[str, Any], merge_vars]
    facts: Annotated[dict[str, str], merge_vars]
    handoffs: Annotated[list[Handoff], operator.add]
