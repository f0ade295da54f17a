"""The routed pattern: a router in front of specialists sends each user message to one of them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal, NotRequired, TypedDict

from langchain_core.messages import AnyMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field, create_model

from accord.agents import (
    Agent,
    AgentSpecError,
    CallRefused,
    Candidate,
    FlowRunnable,
    Invoke,
    Router,
    check_team,
)
from accord.graphs.node import AgentNode, Task
from accord.graphs.patterns.handoff import HandoffTask
from accord.graphs.prompts import brief, identity, roster
from accord.graphs.state import TeamState
from accord.persistence import Flow

ROUTER = "router"


class Route(TypedDict):
    """A routing decision: which agent answers, why, and whether a model or code decided.

    Attributes:
        agent: Who answers.
        reason: Why, in one line.
        by: "model" (a structured choice), "callable" (a function) or "router" (a `Router`).
        strategy: The `Router`'s strategy (router decisions only).
        scores: The top candidates, the chosen one first, each with its score and terms
            (router decisions only; how many is `Router.explain`).
    """

    agent: str
    reason: str
    by: Literal["model", "callable", "router"]
    strategy: NotRequired[str]
    scores: NotRequired[list[Candidate]]


class RoutedState(TeamState, total=False):
    """`TeamState` plus the router's decision for the latest user message."""

    route: Route


Chooser = Callable[[RoutedState], str]


@cache
def route_schema(agents: tuple[str, ...]) -> type[BaseModel]:
    """The router's structured choice: an agent of the team and the reason."""
    choice: Any = Literal[agents]
    schema: type[BaseModel] = create_model(
        "Route",
        agent=(choice, Field(description="The agent who should answer.")),
        reason=(str, Field(description="Why that agent, in one short sentence.")),
    )
    return schema


class RouteTask(Task):
    """Choose the agent best suited to the user's last message, from descriptions and skills."""

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents = tuple(agents)
        self.schema = route_schema(tuple(a.name for a in agents))

    def prepare(self, agent: Agent, state: RoutedState) -> tuple[list[AnyMessage], type[BaseModel]]:
        lines = [
            *identity(agent),
            "Choose who should answer the user's last message:",
            *roster(self.agents),
        ]
        return brief(lines, state.get("messages", []), state.get("facts")), self.schema

    def apply(self, agent: Agent, answer: BaseModel, state: RoutedState) -> Command[str]:
        route: Route = {
            "agent": getattr(answer, "agent"),  # noqa: B009
            "reason": getattr(answer, "reason"),  # noqa: B009
            "by": "model",
        }
        return Command(goto=route["agent"], update={"route": route})


def routed(
    agents: Sequence[Agent],
    *,
    router: Agent | Router | Chooser | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = "routed",
) -> CompiledStateGraph[RoutedState, Any, RoutedState, RoutedState]:
    """Builds a team where a router sends each user message to one specialist, who answers.

    The decision is recorded in `state["route"]` and the answering agent in
    `state["active_agent"]`.

    Args:
        agents: The specialists.
        router: How to choose. None: a model picks by the agents' descriptions and skills,
            using the first agent's models. An `Agent`: that agent's models and instructions
            pick. A `Router` (accord.agents): it scores the agents on the last user message
            with no model call, and every agent step is counted as in-flight load while it
            runs and reported to the router's performance history when it ends. A callable:
            `state -> agent name`; no model is asked.
        checkpointer: Where sessions are persisted.
        name: The graph's name.

    Raises:
        AgentSpecError: The team is invalid, or a `Router` was built for another team. (At
            run time, a callable router naming an agent not in the team raises it too.)
    """
    team = check_team(agents)
    names = list(team)
    builder = StateGraph(RoutedState)
    if isinstance(router, Router):
        if set(router.names) != set(names):
            raise AgentSpecError(
                f"the Router serves {', '.join(router.names)} but the team is "
                f"{', '.join(names)}; build it with the same agents: Router(agents)"
            )
        builder.add_node(ROUTER, ScoringRouter(router), destinations=tuple(names))
    elif callable(router) and not isinstance(router, Agent):
        builder.add_node(ROUTER, CallableRouter(router, names), destinations=tuple(names))
    else:
        chooser = router or Agent(
            name="triage",
            description="Sends each user message to the specialist best suited to it.",
            models=agents[0].models,
        )
        builder.add_node(ROUTER, AgentNode(chooser, RouteTask(agents)), destinations=tuple(names))
    answer = HandoffTask((), max_hops=1)
    for agent in agents:
        node: Runnable[Any, Any] = AgentNode(agent, answer)
        if isinstance(router, Router):
            node = Measured(node, agent.name, router)
        builder.add_node(agent.name, node, destinations=(END,))
    builder.add_edge(START, ROUTER)
    return builder.compile(checkpointer=checkpointer, name=name)


class CallableRouter(Runnable[RoutedState, Command[str]]):
    """Routes by a plain function of the state (no model), recording the decision.

    A `Runnable` rather than a function node, so LangGraph does not inspect it on every call.
    """

    def __init__(self, choose: Chooser, names: Sequence[str]) -> None:
        self.choose = choose
        self.names = tuple(names)

    def invoke(
        self, input: RoutedState, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Command[str]:
        chosen = self.choose(input)
        if chosen not in self.names:
            raise AgentSpecError(
                f"the router chose {chosen!r}, which is not in the team ({', '.join(self.names)})"
            )
        route: Route = {
            "agent": chosen,
            "reason": "chosen by the router callable",
            "by": "callable",
        }
        return Command(goto=chosen, update={"route": route})


class ScoringRouter(FlowRunnable[RoutedState, Command[str]]):
    """Routes by a `Router`'s decision on the last user message; no model is asked."""

    def __init__(self, router: Router) -> None:
        self.router = router

    def flow(
        self, input: RoutedState, config: RunnableConfig | None, **kwargs: Any
    ) -> Flow[Command[str]]:
        """Refreshes the router's outside readings (shared load), then decides."""
        yield from self.router.refreshing()
        decision = self.router.decide(_request(input))
        route: Route = {
            "agent": decision.agent,
            "reason": decision.reason,
            "by": "router",
            "strategy": decision.strategy,
            "scores": decision.candidates(top=self.router.explain),
        }
        return Command(goto=decision.agent, update={"route": route})


class Measured(FlowRunnable[Any, Any]):
    """Runs an agent's step as in-flight load of its router, and reports how it went.

    The load is released when the step ends, whether it returns or raises. Interrupts and
    refused calls (a spent budget) are not the agent's doing: they are not reported.
    """

    def __init__(self, node: Runnable[Any, Any], agent: str, router: Router) -> None:
        self.node = node
        self.agent = agent
        self.router = router
        self.name = agent

    def flow(self, input: Any, config: RunnableConfig | None, **kwargs: Any) -> Flow[Any]:
        """The agent's step, timed and counted as load while it runs."""
        with self.router.running(self.agent):
            start = time.perf_counter()
            try:
                result = yield Invoke(self.node, input, config)
            except (GraphBubbleUp, CallRefused):
                raise
            except Exception:
                self.router.observe(self.agent, time.perf_counter() - start, ok=False)
                raise
            self.router.observe(self.agent, time.perf_counter() - start, ok=True)
            return result


def _request(state: RoutedState) -> str:
    """The text the router scores: the last user message."""
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return message.text
    return ""
