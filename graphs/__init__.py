"""accord.graphs: the shared state, the agent node, the collaboration patterns and sessions."""

from accord.graphs.node import AgentNode, Task
from accord.graphs.patterns.consensus import ConsensusState, Outcome, Vote, consensus
from accord.graphs.patterns.consultation import Consultation, ConsultationState, consultation
from accord.graphs.patterns.delegation import DelegationState, Result, Subtask, delegation
from accord.graphs.patterns.handoff import HandoffTask, handoff
from accord.graphs.patterns.routed import Route, RoutedState, routed
from accord.graphs.errors import BudgetExceeded, NotAuthorized, SessionClosed
from accord.graphs.sessions.access import OPERATOR, Access, Scope, User
from accord.graphs.sessions.budget import Limits, Meter, Usage
from accord.graphs.sessions.events import (
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
from accord.graphs.sessions.manager import Sessions
from accord.graphs.sessions.reply import Reply
from accord.graphs.sessions.session import Session
from accord.graphs.state import Failure, Handoff, TeamState, collect, merge_vars

__all__ = [
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
    "routed",
]
