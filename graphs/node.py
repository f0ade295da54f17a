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

from langchain_core.messages import AnyMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.types import RetryPolicy
from pydantic import BaseModel

from accord.agents import Agent, resolve_model, structured


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

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                prompt, schema = self.task.prepare(self.agent, input)
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
