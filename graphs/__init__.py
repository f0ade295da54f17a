"""accord.graphs: the shared state, the agent node and the collaboration patterns."""

from accord.graphs.examples import onboarding, onboarding_team
from accord.graphs.handoff import handoff
from accord.graphs.node import AgentNode
from accord.graphs.state import Handoff, TeamState, merge_vars

__all__ = [
    "AgentNode",
    "Handoff",
    "TeamState",
    "handoff",
    "merge_vars",
    "onboarding",
    "onboarding_team",
]
