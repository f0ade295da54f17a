"""The one agent node every pattern uses: runs an agent for a task and turns its answer into state.

A pattern differs from another only in its `Task`: how the prompt is built from what the node
receives, which pydantic schema the answer must match, and how the validated answer becomes a
state update or a `Command`. The node itself owns the model chain, retries and failure capture.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, ToolCall, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy
from pydantic import BaseModel

from accord.agents import Agent, resolve_model, structured

TOOL_ROUNDS = 4
"""Most rounds of tool calls an agent makes in one step before it must answer."""


class Task:
    """What an agent is asked to do in one step; subclass it for each kind of step.

    A task holds no per-session data: the same instance serves every session of a graph.
    """

    def prepare(self, agent: Agent, state: Any) -> tuple[list[AnyMessage], type[BaseModel]]:
        """Returns the prompt for `agent` and the schema its answer must validate against."""
        raise NotImplementedError

    def apply(self, agent: Agent, answer: BaseModel, state: Any) -> Any:
        """Turns the validated answer into what the node returns: an update or a `Command`."""
        raise NotImplementedError

    def failed(self, agent: Agent, state: Any, error: Exception, attempts: int) -> Any:
        """Turns an error the retries did not cure into an update, or returns None to raise it.

        The default raises: a step that has no sibling to protect should fail loudly. Tasks
        run in parallel branches override it, because one raising branch makes LangGraph
        abort the whole super-step and discard its siblings' results.
        """
        return None


class AgentNode(Runnable[Any, Any]):
    """Runs one agent for one step of a task: prompt, model chain, validated answer, update.

    A `Runnable` of its own (not a lambda) so LangGraph runs it with both `invoke` and `ainvoke`
    without inspecting signatures on every step. The model chain is resolved on first use, so
    building a graph never starts a model server. Nothing here is per session: a node holds
    only its agent, its task, its retry policy and the resolved chains.

    Args:
        agent: The agent that answers.
        task: What it is asked to do.
        retry: How often to try the whole step again after an error (default: once, no retry).
            `MalformedOutput` has already been re-asked inside the step.
    """

    def __init__(self, agent: Agent, task: Task, *, retry: RetryPolicy | None = None) -> None:
        self.agent = agent
        self.task = task
        self.retry = retry
        self.name = agent.name
        self._chains: dict[type[BaseModel], Runnable[Any, Any]] = {}
        self._tooled: Runnable[Any, Any] | None = None
        self._tools = {tool.name: tool for tool in agent.tools}

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                prompt, schema = self.task.prepare(self.agent, input)
                for _ in range(TOOL_ROUNDS if self._tools else 0):
                    reply = self._tool_caller().invoke(prompt, config)
                    if not reply.tool_calls:
                        break
                    prompt = [*prompt, reply, *(self._run(c, config) for c in reply.tool_calls)]
                answer = self._chain(schema).invoke(prompt, config)
                return self.task.apply(self.agent, answer, input)
            except GraphBubbleUp:
                raise  # interrupts and parent-graph commands are control flow, not failures
            except Exception as exc:
                pause = self._pause(exc, attempt)
                if pause is None:
                    return self._failed(input, exc, attempt)
                time.sleep(pause)

    async def ainvoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                prompt, schema = self.task.prepare(self.agent, input)
                for _ in range(TOOL_ROUNDS if self._tools else 0):
                    reply = await self._tool_caller().ainvoke(prompt, config)
                    if not reply.tool_calls:
                        break
                    results = [await self._arun(c, config) for c in reply.tool_calls]
                    prompt = [*prompt, reply, *results]
                answer = await self._chain(schema).ainvoke(prompt, config)
                return self.task.apply(self.agent, answer, input)
            except GraphBubbleUp:
                raise
            except Exception as exc:
                pause = self._pause(exc, attempt)
                if pause is None:
                    return self._failed(input, exc, attempt)
                await asyncio.sleep(pause)

    def _chain(self, schema: type[BaseModel]) -> Runnable[Any, Any]:
        chain = self._chains.get(schema)
        if chain is None:
            first, *rest = (structured(resolve_model(m), schema) for m in self.agent.models)
            chain = first.with_fallbacks(rest) if rest else first
            self._chains[schema] = chain
        return chain

    def _tool_caller(self) -> Runnable[Any, AIMessage]:
        """The agent's model chain with its tools bound: it gathers facts before answering."""
        if self._tooled is None:
            tools = list(self._tools.values())
            first, *rest = (resolve_model(m).bind_tools(tools) for m in self.agent.models)
            self._tooled = first.with_fallbacks(rest) if rest else first
        return self._tooled

    def _run(self, call: ToolCall, config: RunnableConfig | None) -> ToolMessage:
        tool = self._tools.get(call["name"])
        if tool is None:
            return _unknown_tool(call, self._tools)
        result: ToolMessage = tool.invoke(call, config)
        return result

    async def _arun(self, call: ToolCall, config: RunnableConfig | None) -> ToolMessage:
        tool = self._tools.get(call["name"])
        if tool is None:
            return _unknown_tool(call, self._tools)
        result: ToolMessage = await tool.ainvoke(call, config)
        return result

    def _pause(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when no attempt is left."""
        policy = self.retry
        if policy is None or attempt >= policy.max_attempts or not retries_on(policy, error):
            return None
        pause = min(
            policy.max_interval, policy.initial_interval * policy.backoff_factor ** (attempt - 1)
        )
        return pause + random.uniform(0, 1) if policy.jitter else pause

    def _failed(self, state: Any, error: Exception, attempts: int) -> Any:
        update = self.task.failed(self.agent, state, error, attempts)
        if update is None:
            raise error
        return update


def retries_on(policy: RetryPolicy, error: Exception) -> bool:
    """Whether `policy` asks for another attempt after `error` (LangGraph's own rules)."""
    rule = policy.retry_on
    if isinstance(rule, type):
        return isinstance(error, rule)
    if isinstance(rule, tuple | list):
        return isinstance(error, tuple(rule))
    return bool(rule(error))  # type: ignore[operator]


def _unknown_tool(call: ToolCall, tools: dict[str, Any]) -> ToolMessage:
    # Told back to the model rather than raised: a model that invents a tool name can recover.
    return ToolMessage(
        content=f"There is no tool {call['name']!r}; the tools are: {', '.join(tools)}.",
        tool_call_id=call["id"] or "",
        status="error",
    )
