"""Tools a person approves before they run (`Agent(approve=[...])`), through LangGraph's
`interrupt()`.

Before an approved tool runs, the agent's step asks: `interrupt({"type": "approval", "agent",
"tool", "args"})`. The session pauses (its checkpoint holds the question) until someone
answers: True (or `{"approved": True}`) runs the tool; anything else tells the model, as the
tool's result, that the person said no, so it can answer without it.

LangGraph runs an interrupted node again from its start when the answer comes. So that the
model is not asked again (it might then ask for another call than the one approved) and a
tool that ran before the question does not run twice, an agent with approved tools makes its
tool-round model calls and its tool calls as LangGraph tasks, whose results the checkpoint
keeps and hands back when the step runs again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from langchain_core.messages import ToolCall, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.func import task
from langgraph.types import interrupt

from accord.agents import Agent


def asked(agent: Agent, call: ToolCall) -> ToolMessage | None:
    """Asks a person whether `agent` may make `call`: None if so, else the refusal to show
    the model in place of the tool's result."""
    answer = interrupt(
        {"type": "approval", "agent": agent.name, "tool": call["name"], "args": call["args"]}
    )
    if answer is True or (isinstance(answer, Mapping) and answer.get("approved") is True):
        return None
    reason = answer.get("reason") if isinstance(answer, Mapping) else None
    return ToolMessage(
        content=f"The user did not approve {call['name']!r}"
        + (f": {reason}" if isinstance(reason, str) and reason else ".")
        + " Do not call it again for this request; tell the user what you can do instead.",
        tool_call_id=call["id"] or "",
        status="error",
    )


class Remembered(Runnable[Any, Any]):
    """`runnable` run as a LangGraph task: its result is kept in the checkpoint, so a step
    that runs again after an interrupt gets it back instead of calling it again."""

    def __init__(self, runnable: Runnable[Any, Any], name: str) -> None:
        self.runnable = runnable

        # Functions of the input alone: the task runs under the step's config (callbacks,
        # the budget meter) on its own, and LangGraph would read a `config` argument as its.
        def call(input: Any) -> Any:
            return runnable.invoke(input)

        async def acall(input: Any) -> Any:
            return await runnable.ainvoke(input)

        # LangGraph's `task` types its function as a ParamSpec mypy cannot bind to these.
        self._sync: Callable[[Any], Any] = task(name=name)(cast(Any, call))
        self._async: Callable[[Any], Any] = task(name=name)(cast(Any, acall))

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return self._sync(input).result()

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        return await self._async(input)
