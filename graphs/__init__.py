"""accord.graphs: the shared state, the agent node and the collaboration patterns."""

from accord.graphs.consensus import ConsensusState, Outcome, Vote, consensus
from accord.graphs.consultation import Consultation, ConsultationState, consultation
from accord.graphs.delegation import DelegationState, Result, Subtask, delegation
from accord.graphs.examples import EXAMPLES, ExampleSpec, onboarding, onboarding_team
from accord.graphs.handoff import HandoffTask, handoff
from accord.graphs.node import AgentNode, Task
from accord.graphs.routed import Route, RoutedState, routed
from accord.graphs.state import Failure, Handoff, TeamState, collect, merge_vars

__all__ = [
    "EXAMPLES",
    "AgentNode",
    "ConsensusState",
    "Consultation",
    "ConsultationState",
    "DelegationState",
    "ExampleSpec",
    "Failure",
    "Handoff",
    "HandoffTask",
    "Outcome",
    "Result",
    "Route",
    "RoutedState",
    "Subtask",
    "Task",
    "TeamState",
    "Vote",
    "collect",
    "consensus",
    "consultation",
    "delegation",
    "handoff",
    "merge_vars",
    "onboarding",
    "onboarding_team",
    "routed",
]
