"""accord.graphs: the shared state, the agent node, the collaboration patterns and sessions."""

from accord.graphs.access import OPERATOR, Access, NotAuthorized, Scope, User
from accord.graphs.budget import BudgetExceeded, Limits, Meter, Usage
from accord.graphs.consensus import ConsensusState, Outcome, Vote, consensus
from accord.graphs.consultation import Consultation, ConsultationState, consultation
from accord.graphs.delegation import DelegationState, Result, Subtask, delegation
from accord.graphs.events import (
    AgentEvent,
    ConfidenceEvent,
    DecisionEvent,
    DoneEvent,
    Event,
    FailureEvent,
    HandoffEvent,
    MessageEvent,
    OpinionEvent,
    PlanEvent,
    ResultEvent,
    RouteEvent,
    TokenEvent,
    UsageEvent,
    VoteEvent,
    events_of,
)
from accord.graphs.examples import EXAMPLES, ExampleSpec, onboarding, onboarding_team
from accord.graphs.handoff import HandoffTask, handoff
from accord.graphs.node import AgentNode, Task
from accord.graphs.reply import Reply
from accord.graphs.routed import Route, RoutedState, routed
from accord.graphs.session import Session, SessionClosed
from accord.graphs.sessions import Sessions
from accord.graphs.state import Failure, Handoff, TeamState, collect, merge_vars

__all__ = [
    "EXAMPLES",
    "OPERATOR",
    "Access",
    "AgentEvent",
    "AgentNode",
    "BudgetExceeded",
    "ConfidenceEvent",
    "ConsensusState",
    "Consultation",
    "ConsultationState",
    "DecisionEvent",
    "DelegationState",
    "DoneEvent",
    "Event",
    "ExampleSpec",
    "Failure",
    "FailureEvent",
    "Handoff",
    "HandoffEvent",
    "HandoffTask",
    "Limits",
    "MessageEvent",
    "Meter",
    "NotAuthorized",
    "OpinionEvent",
    "Outcome",
    "PlanEvent",
    "Reply",
    "Result",
    "ResultEvent",
    "Route",
    "RouteEvent",
    "RoutedState",
    "Scope",
    "Session",
    "SessionClosed",
    "Sessions",
    "Subtask",
    "Task",
    "TeamState",
    "TokenEvent",
    "Usage",
    "UsageEvent",
    "User",
    "Vote",
    "VoteEvent",
    "collect",
    "consensus",
    "consultation",
    "delegation",
    "events_of",
    "handoff",
    "merge_vars",
    "onboarding",
    "onboarding_team",
    "routed",
]
