"""The handoff pattern: control passes from agent to agent; the user sees one conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field, create_model

from accord.agents import Agent, AgentSpecError, check_team
from accord.graphs.node import AgentNode, Task
from accord.graphs.prompts import conversation
from accord.graphs.state import Handoff, TeamState

NO_HANDOFF = "none"
REPLY_LIMIT = 400


class Reply(BaseModel):
    """An agent's answer when it may not hand the conversation on."""

    # The bound is part of the schema, so a constrained decoder cannot ramble past it.
    reply: str = Field(description="Your message to the user.", max_length=REPLY_LIMIT)


@cache
def decision_schema(targets: tuple[str, ...]) -> type[BaseModel]:
    """The structured decision an agent makes when it may hand off to `targets`.

    Schema-constrained output is how control decisions stay reliable on small local models,
    which do not emit native tool calls dependably. The handoff comes first in the schema so a
    constrained decoder commits to it from the conversation, before writing the reply.
    """
    if not targets:
        return Reply
    choice = Literal[(*targets, NO_HANDOFF)]  # type: ignore[valid-type]
    fields: dict[str, Any] = {
        "handoff_to": (choice, Field(description="Teammate who should continue, or 'none'.")),
        **{name: (info.annotation, info) for name, info in Reply.model_fields.items()},
    }
    decision: type[BaseModel] = create_model("Decision", **fields)
    return decision


def replies_this_turn(messages: Sequence[AnyMessage]) -> int:
    """Counts agent messages since the user last spoke: the hops taken in this turn."""
    count = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            count += 1
    return count


class HandoffTask(Task):
    """Answer the user, and optionally hand the conversation to one of `teammates`.

    Args:
        teammates: Who the agent may hand off to (none: it only replies).
        max_hops: Most agent replies in one turn; the last allowed one cannot hand off.
    """

    def __init__(self, teammates: Sequence[Agent], *, max_hops: int) -> None:
        self.teammates = tuple(teammates)
        self.max_hops = max_hops

    def prepare(self, agent: Agent, state: TeamState) -> tuple[list[AnyMessage], type[BaseModel]]:
        messages = state.get("messages", [])
        # The reply about to be written counts as a hop; the last allowed hop cannot hand off.
        may_hand_off = replies_this_turn(messages) + 1 < self.max_hops
        mates = self.teammates if may_hand_off else ()
        # `conversation` moves what teammates said this turn into the system prompt, so the
        # model never sees the conversation end on an assistant turn.
        prompt = conversation(agent, mates, messages)
        return prompt, decision_schema(tuple(m.name for m in mates))

    def apply(self, agent: Agent, answer: BaseModel, state: TeamState) -> Command[str]:
        reply: str = getattr(answer, "reply")  # noqa: B009 - every decision schema has it
        message = AIMessage(content=reply, name=agent.name)
        target = getattr(answer, "handoff_to", NO_HANDOFF)
        if target == NO_HANDOFF or target == agent.name:
            return Command(goto=END, update={"messages": [message], "active_agent": agent.name})
        handoff: Handoff = {"source": agent.name, "target": target, "reason": reply}
        return Command(
            goto=target,
            update={"messages": [message], "active_agent": target, "handoffs": [handoff]},
        )


def handoff(
    agents: Sequence[Agent],
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    routes: Mapping[str, Sequence[str]] | None = None,
    max_hops: int | None = None,
    name: str = "handoff",
) -> CompiledStateGraph[TeamState, Any, TeamState, TeamState]:
    """Builds a team where the active agent answers each user message or hands off.

    The first agent is the entry point. Each turn, the active agent either replies and keeps the
    conversation or replies and hands it to a teammate, who continues in the same turn with the
    full history and state. `state["active_agent"]` remembers who holds the conversation, so the
    next user message goes straight to them.

    Args:
        agents: The team; the first agent greets the user.
        checkpointer: Where sessions are persisted (e.g. `SQLAlchemySaver.from_url(...)`).
        routes: Who may hand off to whom, e.g. `{"intake": ["verification"]}`. Agents not named
            may hand off to every teammate. Narrow routes make small models more reliable.
        max_hops: Most agent replies in one turn (default: the team size), so two agents can
            never pass a conversation back and forth forever.
        name: The graph's name.

    Returns:
        A compiled LangGraph graph; invoke it with `{"messages": [("user", text)]}` and a
        `thread_id` in the config.

    Raises:
        AgentSpecError: The team is invalid or `routes` names an unknown agent.
    """
    team = check_team(agents)
    targets = _targets(team, routes or {})
    hops = len(team) if max_hops is None else max_hops
    if hops < 1:
        raise AgentSpecError(f"max_hops must be at least 1, got {hops}")
    entry = agents[0].name

    builder = StateGraph(TeamState)
    for agent in agents:
        node = AgentNode(agent, HandoffTask([team[t] for t in targets[agent.name]], max_hops=hops))
        builder.add_node(agent.name, node, destinations=(*targets[agent.name], "__end__"))
    builder.add_conditional_edges(
        START, lambda state: state.get("active_agent") or entry, list(team)
    )
    return builder.compile(checkpointer=checkpointer, name=name)


def _targets(
    team: Mapping[str, Agent], routes: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    for source, dests in routes.items():
        for agent in (source, *dests):
            if agent not in team:
                raise AgentSpecError(
                    f"routes names {agent!r}, which is not in the team ({', '.join(team)})"
                )
    return {name: [t for t in routes.get(name, list(team)) if t != name] for name in team}
