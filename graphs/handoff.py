"""The handoff pattern: control passes from agent to agent; the user sees one conversation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from accord.agents import Agent, AgentSpecError, check_team
from accord.graphs.node import AgentNode
from accord.graphs.state import TeamState


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
        node = AgentNode(agent, [team[t] for t in targets[agent.name]], max_hops=hops)
        builder.add_node(
            agent.name, node, destinations=(*targets[agent.name], "__end__")
        )
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
