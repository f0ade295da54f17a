"""The routed pattern: a router in front of specialists sends each user message to one of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, Literal, TypedDict

from langchain_core.messages import AnyMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field, create_model

from accord.agents import Agent, AgentSpecError, check_team
from accord.graphs.briefs import brief, identity, roster
from accord.graphs.handoff import HandoffTask
from accord.graphs.node import AgentNode, Task
from accord.graphs.state import TeamState

ROUTER = "router"


class Route(TypedDict):
    """A routing decision: which agent answers, why, and whether a model or code decided."""

    agent: str
    reason: str
    by: Literal["model", "callable"]


class RoutedState(TeamState, total=False):
    """`TeamState` plus the router's decision for the latest user message."""

    route: Route


Router = Callable[[RoutedState], str]


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
            'Reply with JSON: "agent" is who should answer; "reason" says why.',
        ]
        return brief(lines, state.get("messages", [])), self.schema

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
    router: Agent | Router | None = None,
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
            pick. A callable: `state -> agent name`, e.g. a scoring router; no model is asked.
        checkpointer: Where sessions are persisted.
        name: The graph's name.

    Raises:
        AgentSpecError: The team is invalid. (At run time, a callable router naming an agent
            not in the team raises it too.)
    """
    team = check_team(agents)
    names = list(team)
    builder = StateGraph(RoutedState)
    if callable(router) and not isinstance(router, Agent):
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
        builder.add_node(agent.name, AgentNode(agent, answer), destinations=(END,))
    builder.add_edge(START, ROUTER)
    return builder.compile(checkpointer=checkpointer, name=name)


class CallableRouter(Runnable[RoutedState, Command[str]]):
    """Routes by a plain function of the state (no model), recording the decision.

    A `Runnable` rather than a function node, so LangGraph does not inspect it on every call.
    """

    def __init__(self, choose: Router, names: Sequence[str]) -> None:
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
