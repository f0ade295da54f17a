"""What a route is: its state, the answer a model router gives (schema and task), its limits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Annotated, Any, Literal, NotRequired

from langchain_core.messages import AnyMessage
from langgraph.types import Command
from pydantic import AfterValidator, BaseModel, Field, create_model
from typing_extensions import TypedDict  # pydantic builds JSON schemas from it on 3.11

from accord.agents import (
    Agent,
    Candidate,
)
from accord.graphs.node import Task
from accord.graphs.prompts import brief, identity, roster
from accord.graphs.state import TeamState

ROUTER = "router"
REASON_CHARS = 200
"""The longest reason kept from a model router: a small model may use the field to answer the
user at length; the route keeps one line."""
REASON_ASKED = 80
"""The reason's length the schema allows (`maxLength`, which constrains the reply's grammar on
llama.cpp): every character of it is generated, so a short bound is a faster decision."""
SHORTLIST = 3
"""How many agents a shortlisting model router shows its model (the scoring router's best)."""
WITHIN = 0.1
"""A shortlisting model router asks its model only when the runner-up's fit is at least this
(the best's is 1): below it, the best agent is clear and is routed to with no model call. On
HWU64's training fold with the embedding fit and 5 examples, 0.1 asks about 20% of requests,
those where the best agent is right 61% of the time; the others it gets 97% right."""
EXAMPLES_SHOWN = 3
"""Example requests shown per shortlisted agent (a full roster shows none: too many tokens)."""


class Route(TypedDict):
    """A routing decision: which agent answers, why, and whether a model or code decided.

    Attributes:
        agent: Who answers.
        reason: Why, in one line.
        by: "model" (a structured choice, or by log-probabilities), "callable" (a function) or
            "router" (a `Router`).
        shortlist: The agents a shortlisting model router let its model choose from.
        strategy: The `Router`'s strategy (router decisions only).
        scores: The top candidates, the chosen one first, each with its score and terms
            (router decisions only; how many is `Router.explain`).
        confidence: The router's calibrated confidence that the agent fits (router only).
        fallback: True when no agent fitted and the request went to the fallback.
        distributions: A model router asked for log-probabilities: the fit's, the model's and the
            combined probabilities of the shortlisted agents, in shortlist order.
    """

    agent: str
    reason: str
    by: Literal["model", "callable", "router"]
    shortlist: NotRequired[list[str]]
    strategy: NotRequired[str]
    scores: NotRequired[list[Candidate]]
    confidence: NotRequired[float]
    fallback: NotRequired[bool]
    distributions: NotRequired[dict[str, list[float]]]


class RoutedState(TeamState, total=False):
    """`TeamState` plus the router's decision for the latest user message."""

    route: Route
    shortlist: list[str]
    """The agents the model router may choose from this turn (set by a shortlist)."""


Chooser = Callable[[RoutedState], str]


def _one_line(reason: str) -> str:
    """A reason cut to one line of at most `REASON_CHARS` characters."""
    line = " ".join(reason.split())
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "\u2026"


@lru_cache(maxsize=256)  # bounded: over 20 agents a shortlist of 3 has 6,840 orders
def route_schema(agents: tuple[str, ...], *, bounded: bool = False) -> type[BaseModel]:
    """The router's structured choice: an agent of `agents` and the reason, cut to one line.

    `bounded` also asks for at most `REASON_ASKED` characters in the schema (`maxLength`, which
    llama.cpp's grammar enforces, so the model stops early). The shortlist's schema is bounded;
    the whole roster's is not yet, because the end-to-end cassettes recorded its exact schema.
    """
    choice: Any = Literal[agents]
    reason: Any = Annotated[str, AfterValidator(_one_line)]
    why = (
        Field(
            description="Why that agent, in a few words.",
            json_schema_extra={"maxLength": REASON_ASKED},
        )
        if bounded
        else Field(description="Why that agent, in one short sentence.")
    )
    schema: type[BaseModel] = create_model(
        "Route",
        agent=(choice, Field(description="The agent who should answer.")),
        reason=(reason, why),
    )
    return schema


class RouteTask(Task):
    """Choose the agent best suited to the user's last message, from descriptions and skills.

    With a shortlist in the state, only those agents are shown (with a few of their example
    requests) and only their names are allowed: a short prompt, and a small model choosing
    among plausible agents instead of the whole team. The schema's names are sorted, so a team
    has at most one schema per set of agents shortlisted together.
    """

    def __init__(self, agents: Sequence[Agent]) -> None:
        self.agents = tuple(agents)
        self.by_name = {a.name: a for a in agents}
        self.schema = route_schema(tuple(a.name for a in agents))

    def prepare(self, agent: Agent, state: RoutedState) -> tuple[list[AnyMessage], type[BaseModel]]:
        names = state.get("shortlist")
        if names:
            shown = [self.by_name[n] for n in names]
            listed = with_examples(shown)
            schema = route_schema(tuple(sorted(names)), bounded=True)
        else:
            listed, schema = roster(self.agents), self.schema
        lines = [*identity(agent), "Choose who should answer the user's last message:", *listed]
        if names:
            lines.append("They are listed from the likeliest to the least likely.")
        return brief(lines, state.get("messages", []), state.get("facts")), schema

    def apply(self, agent: Agent, answer: BaseModel, state: RoutedState) -> Command[str]:
        route: Route = {
            "agent": getattr(answer, "agent"),  # noqa: B009
            "reason": getattr(answer, "reason"),  # noqa: B009
            "by": "model",
        }
        if names := state.get("shortlist"):
            route["shortlist"] = list(names)
        return Command(goto=route["agent"], update={"route": route})


def with_examples(agents: Sequence[Agent]) -> list[str]:
    """The roster lines of a few agents, each with some of its example requests."""
    lines = roster(agents)
    for index, agent in enumerate(agents):
        if agent.examples:
            quoted = "; ".join(f'"{e}"' for e in agent.examples[:EXAMPLES_SHOWN])
            lines[index] += f" (asked e.g. {quoted})"
    return lines
