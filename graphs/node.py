"""The one agent node every pattern uses: runs an agent for a task and turns its answer into state.

A pattern differs from another only in its `Task`: how the prompt is built from what the node
receives, which pydantic schema the answer must match, and how the validated answer becomes a
state update or a `Command`. The node itself owns the model chain, retries and failure capture.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, ToolCall, ToolMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command, RetryPolicy
from pydantic import BaseModel

from accord.agents import (
    Agent,
    CallRefused,
    FlowRunnable,
    Invoke,
    model_chain,
    resolve_model,
    standby,
    structured,
)
from accord.graphs.approval import Remembered, asked
from accord.graphs.state import Handoff
from accord.persistence import Flow, Sleep

TOOL_ROUNDS = 4
"""Most rounds of tool calls an agent makes in one step before it must answer."""
KEPT_CHAINS = 32
"""Answer chains an agent keeps, one per answer schema; the least recently used goes first."""


class Task:
    """What an agent is asked to do in one step; subclass it for each kind of step.

    A task holds no per-session data: the same instance serves every session of a graph.
    """

    describe_schema = True
    """Whether `structured()` states the answer's JSON schema in the prompt; a task whose
    prompt states the answer's shape itself, in fewer tokens, sets it False."""

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


class AgentNode(FlowRunnable[Any, Any]):
    """Runs one agent for one step of a task: prompt, model chain, validated answer, update.

    A `Runnable` of its own (not a lambda) so LangGraph runs it with both `invoke` and `ainvoke`
    without inspecting signatures on every step; both drive the one `flow`. The model chain is
    resolved on first use, so building a graph never starts a model server. Nothing here is per
    session: a node holds only its agent, its task, its retry policy and the resolved chains.

    Hot standby: when the agent has a `backup` and runs as the graph node named after it (the
    handoff and routed patterns), a step whose models are all down, or that would take the agent
    over its capacity, goes to the backup's node instead, which answers this same step with the
    full state; `active_agent` becomes the backup and a `Handoff` with reason `FAILOVER` (or
    `OVERLOAD`) is recorded. The backup must be up and have room, so two agents that back each
    other up never pass a session back and forth. The process's register, `standby()`, decides.

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
        # Least recently used last: a router's shortlist makes a schema per shortlist.
        self._chains: OrderedDict[type[BaseModel], Runnable[Any, Any]] = OrderedDict()
        self._tooled: Runnable[Any, Any] | None = None
        self._tools = {tool.name: tool for tool in agent.tools}
        self._models: list[BaseChatModel] | None = None

    def flow(self, input: Any, config: RunnableConfig | None, **kwargs: Any) -> Flow[Any]:
        """One step: tool rounds, the answer, retries by the policy, failure or failover."""
        if (handover := self._handover(config)) is not None:
            return handover
        with standby().running(self.agent.name):
            attempt = 0
            while True:
                attempt += 1
                try:
                    prompt, schema = self.task.prepare(self.agent, input)
                    for _ in range(TOOL_ROUNDS if self._tools else 0):
                        reply = yield Invoke(self._tool_caller(), prompt, config)
                        if not reply.tool_calls:
                            break
                        results = []
                        for call in reply.tool_calls:
                            tool = self._tools.get(call["name"])
                            if tool is None:
                                results.append(_unknown_tool(call, self._tools))
                            elif call["name"] in self.agent.approve and (
                                refusal := asked(self.agent, call)
                            ):
                                results.append(refusal)
                            else:
                                results.append((yield Invoke(self._kept(tool), call, config)))
                        prompt = [*prompt, reply, *results]
                    answer = yield Invoke(self._chain(schema), prompt, config)
                    return self.task.apply(self.agent, answer, input)
                except (GraphBubbleUp, CallRefused):
                    # Interrupts and parent-graph commands are control flow, and a refused call
                    # (a spent session budget) ends the run: neither is a failure of this step.
                    raise
                except Exception as exc:
                    pause = self._pause(exc, attempt)
                    if pause is None:
                        return self._failed(input, exc, attempt, config)
                    yield Sleep(pause)

    def _chain(self, schema: type[BaseModel]) -> Runnable[Any, Any]:
        """The agent's model chain answering with `schema`: retries, breakers, fallbacks."""
        chain = self._chains.get(schema)
        if chain is None:
            describe = self.task.describe_schema
            chain = model_chain(
                self._resolved(), lambda model: structured(model, schema, describe=describe)
            )
            self._chains[schema] = chain
            if len(self._chains) > KEPT_CHAINS:
                self._chains.popitem(last=False)
        else:
            self._chains.move_to_end(schema)
        return chain

    def _tool_caller(self) -> Runnable[Any, AIMessage]:
        """The agent's model chain with its tools bound: it gathers facts before answering."""
        if self._tooled is None:
            tools = list(self._tools.values())
            chain = model_chain(self._resolved(), lambda model: model.bind_tools(tools))
            self._tooled = self._kept(chain, "model")
        return self._tooled

    def _kept(self, runnable: Runnable[Any, Any], name: str | None = None) -> Runnable[Any, Any]:
        """`runnable`, kept by the checkpoint when the agent asks for approvals (a step run
        again after an answer must neither ask its model again nor repeat a tool call)."""
        if not self.agent.approve:
            return runnable
        return Remembered(runnable, f"{self.agent.name}:{name or runnable.get_name()}")

    def _resolved(self) -> list[BaseChatModel]:
        # Resolved once per node, not per schema: every chain of the agent shares its clients.
        if self._models is None:
            self._models = [resolve_model(m) for m in self.agent.models]
            standby().register(self.agent, self._models)
        return self._models

    def _handover(
        self, config: RunnableConfig | None, error: Exception | None = None
    ) -> Command[str] | None:
        """The move to the backup's node, when the standby register says the step goes there.

        Only the agent's own node hands over: a pattern that runs the agent under another
        node name (a worker, a voter) has no backup node to go to.
        """
        backup = self.agent.backup
        if backup is None:
            return None
        node = ((config or {}).get("metadata") or {}).get("langgraph_node")
        reason = standby().handover(self.agent, error) if node == self.agent.name else None
        if reason is None:
            return None
        record: Handoff = {"source": self.agent.name, "target": backup, "reason": reason}
        return Command(goto=backup, update={"active_agent": backup, "handoffs": [record]})

    def _pause(self, error: Exception, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None when no attempt is left."""
        policy = self.retry
        if policy is None or attempt >= policy.max_attempts or not retries_on(policy, error):
            return None
        pause = min(
            policy.max_interval, policy.initial_interval * policy.backoff_factor ** (attempt - 1)
        )
        return pause + random.uniform(0, 1) if policy.jitter else pause

    def _failed(
        self, state: Any, error: Exception, attempts: int, config: RunnableConfig | None
    ) -> Any:
        if (handover := self._handover(config, error)) is not None:
            return handover
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
