"""The delegation pattern: a coordinator plans subtasks, workers run them in parallel, and the
coordinator writes the answer from every result and every failure.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, RetryPolicy, Send
from pydantic import BaseModel, Field, create_model
from typing_extensions import TypedDict  # pydantic builds JSON schemas from it on 3.11

from accord.agents import Agent, AgentSpecError, check_team
from accord.graphs.node import AgentNode, Task
from accord.graphs.patterns.checks import reserve
from accord.graphs.patterns.fanout import fan_out
from accord.graphs.patterns.handoff import Reply
from accord.graphs.prompts import ask, brief, identity, request, roster
from accord.graphs.replies import tidy
from accord.graphs.state import Failure, TeamState, collect, failure

SYNTHESIS = "synthesis"


class Subtask(TypedDict):
    """One piece of the plan: which worker does what."""

    worker: str
    task: str


class Result(TypedDict):
    """What a worker produced for its subtask."""

    worker: str
    task: str
    result: str


class DelegationState(TeamState, total=False):
    """`TeamState` plus this turn's plan, the workers' results and their recorded failures."""

    plan: list[Subtask]
    results: Annotated[list[Result], collect]
    failures: Annotated[list[Failure], collect]


class Assignment(TypedDict):
    """What a worker branch receives through `Send`: the conversation and its subtask."""

    messages: list[AnyMessage]
    subtask: Subtask


class WorkResult(BaseModel):
    """A worker's answer to its subtask."""

    result: str = Field(description="Your result for the subtask, at most five short lines.")


@cache
def plan_schema(workers: tuple[str, ...], most: int) -> type[BaseModel]:
    """The structured plan: up to `most` subtasks, each for one of `workers`."""
    worker: Any = Literal[workers]
    item: Any = create_model(
        "Subtask",
        worker=(worker, Field(description="The worker who does it.")),
        task=(str, Field(description="What the worker should do, in one sentence.")),
    )
    schema: type[BaseModel] = create_model(
        "Plan", subtasks=(list[item], Field(max_length=most, description="The subtasks."))
    )
    return schema


class PlanTask(Task):
    """Split the user's request into subtasks and send each to its worker."""

    def __init__(self, workers: Sequence[Agent], most: int) -> None:
        self.workers = tuple(workers)
        self.schema = plan_schema(tuple(w.name for w in workers), most)

    def prepare(
        self, agent: Agent, state: DelegationState
    ) -> tuple[list[AnyMessage], type[BaseModel]]:
        lines = [
            *identity(agent),
            "Split the user's last request into subtasks for these workers:",
            *roster(self.workers),
            "Give each worker only what it is good at; no subtasks if no worker is needed.",
        ]
        return brief(lines, state.get("messages", []), state.get("facts")), self.schema

    def apply(self, agent: Agent, answer: BaseModel, state: DelegationState) -> Command[Any]:
        plan: list[Subtask] = [
            {"worker": s.worker, "task": s.task}
            for s in getattr(answer, "subtasks")  # noqa: B009
        ]
        messages = state.get("messages", [])
        sends = [Send(s["worker"], Assignment(messages=messages, subtask=s)) for s in plan]
        # A new plan starts a new round: last turn's results and failures are dropped.
        update = {"plan": plan, "results": None, "failures": None}
        return Command(goto=sends or SYNTHESIS, update=update)


class WorkTask(Task):
    """Do one subtask; a failure after the retries is recorded beside the siblings' results."""

    def prepare(self, agent: Agent, state: Assignment) -> tuple[list[AnyMessage], type[BaseModel]]:
        asked = f"The user asked: {request(state['messages'])!r}"
        return ask([*self.lines(agent), asked], state["subtask"]["task"]), WorkResult

    def lines(self, agent: Agent) -> list[str]:
        """The worker's instructions (also what its result must not repeat)."""
        return [
            *identity(agent),
            "Do only the subtask you are given; write the result itself, not a note about it.",
        ]

    def apply(self, agent: Agent, answer: BaseModel, state: Assignment) -> dict[str, Any]:
        subtask = state["subtask"]
        result: Result = {
            "worker": agent.name,
            "task": subtask["task"],
            "result": tidy(getattr(answer, "result"), prompt=self.lines(agent)),  # noqa: B009
        }
        return {"results": [result]}

    def failed(
        self, agent: Agent, state: Assignment, error: Exception, attempts: int
    ) -> dict[str, Any]:
        return {"failures": [failure(agent.name, state["subtask"]["task"], error, attempts)]}


class CombineTask(Task):
    """Write the answer to the user from every result and every failure."""

    def prepare(
        self, agent: Agent, state: DelegationState
    ) -> tuple[list[AnyMessage], type[BaseModel]]:
        lines = [*identity(agent), "Your workers did the subtasks you planned."]
        lines.extend(
            f"- {r['worker']} did {r['task']!r}: {r['result']}" for r in state.get("results", [])
        )
        lines.extend(
            f"- {f['agent']} FAILED {f['task']!r} after {f['attempts']} attempt(s): "
            f"{f['error']}: {f['message']}"
            for f in state.get("failures", [])
        )
        lines.append(
            "Answer the user's last message from these results; say plainly what could not be done."
        )
        return brief(lines, state.get("messages", []), state.get("facts")), Reply

    def apply(self, agent: Agent, answer: BaseModel, state: DelegationState) -> dict[str, Any]:
        text = tidy(getattr(answer, "reply"), prompt=identity(agent))  # noqa: B009
        reply = AIMessage(text, name=agent.name)
        return {"messages": [reply], "active_agent": agent.name}


def delegation(
    coordinator: Agent,
    workers: Sequence[Agent],
    *,
    max_concurrency: int | None = None,
    max_subtasks: int = 8,
    retry: RetryPolicy | None = RetryPolicy(),  # noqa: B008 - an immutable NamedTuple
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = "delegation",
) -> CompiledStateGraph[DelegationState, Any, DelegationState, DelegationState]:
    """Builds a team where a coordinator splits each request among workers running in parallel.

    The coordinator's plan is in `state["plan"]`, what workers produced in `state["results"]`.
    A worker whose step raises is retried per `retry`; if it still fails, the error is caught
    inside the worker's own step and recorded in `state["failures"]` (worker, task, error type,
    message, attempts), so its siblings' results are never cancelled or discarded (a raising
    branch would make LangGraph abort the whole super-step). The coordinator then answers from
    every result and every failure, in the node named `"synthesis"`.

    Args:
        coordinator: Plans the subtasks and writes the answer.
        workers: Who may be given subtasks; a worker may get several.
        max_concurrency: Most steps running at once within one run (one session's turn), so a
            large plan cannot flood the workers' endpoints; None for no bound.
        max_subtasks: Most subtasks in a plan (a bound in the plan's schema).
        retry: How a failed worker step is tried again (LangGraph's `RetryPolicy`: by default
            3 attempts, for connection errors and the like); None for a single attempt.
        checkpointer: Where sessions are persisted.
        name: The graph's name.

    Raises:
        AgentSpecError: The team is invalid (including a worker named like the coordinator or
            `"synthesis"`), or a bound is below 1.
    """
    team = check_team([coordinator, *workers])
    reserve(team, SYNTHESIS)
    if not workers:
        raise AgentSpecError("delegation needs at least one worker")
    if max_subtasks < 1 or (max_concurrency is not None and max_concurrency < 1):
        raise AgentSpecError(
            f"max_subtasks and max_concurrency must be at least 1, got {max_subtasks} and "
            f"{max_concurrency}"
        )
    work = WorkTask()
    graph = fan_out(
        DelegationState,
        (coordinator.name, AgentNode(coordinator, PlanTask(workers, max_subtasks))),
        [(w.name, AgentNode(w, work, retry=retry)) for w in workers],
        (SYNTHESIS, AgentNode(coordinator, CombineTask())),
        checkpointer=checkpointer,
        name=name,
    )
    # LangGraph bounds the steps of one run with `max_concurrency` (an asyncio semaphore, a
    # thread pool in sync runs): a per-session bound, so one session never waits on another.
    return graph.with_config(max_concurrency=max_concurrency) if max_concurrency else graph
