"""Checks the pattern builders share, beyond what `check_team` already refuses."""

from __future__ import annotations

from collections.abc import Mapping

from accord.agents import Agent, AgentSpecError


def reserve(team: Mapping[str, Agent], *nodes: str) -> None:
    """Refuses agents named like the pattern's own nodes, which would clash in the graph."""
    for node in nodes:
        if node in team:
            raise AgentSpecError(
                f"an agent is named {node!r}, which this pattern uses for its own step; rename it"
            )
