"""accord.graphs: the shared state, the agent node, the collaboration patterns and sessions.

Every event type is in `events` (`from accord.graphs import events`; `events.VoteEvent`); the
ones a chat app switches on are here too.
"""

from typing import TYPE_CHECKING

from accord.persistence import lazy as _lazy

if TYPE_CHECKING:
    from accord.graphs import events
    from accord.graphs.errors import (
        BudgetExceeded,
        NotAuthorized,
        NotPaused,
        SessionClosed,
        SessionPaused,
    )
    from accord.graphs.events import (
        DoneEvent,
        Event,
        MessageEvent,
        TokenEvent,
        events_of,
    )
    from accord.graphs.node import AgentNode, Task
    from accord.graphs.patterns.consensus import ConsensusState, consensus
    from accord.graphs.patterns.consultation import ConsultationState, consultation
    from accord.graphs.patterns.delegation import DelegationState, delegation
    from accord.graphs.patterns.handoff import handoff
    from accord.graphs.patterns.routed import ModelRouter, routed
    from accord.graphs.patterns.routes import RoutedState
    from accord.graphs.scale.broker import Broker
    from accord.graphs.scale.worker import Worker
    from accord.graphs.sessions.access import OPERATOR, Access, Scope, User
    from accord.graphs.sessions.budget import Limits, Meter, Usage
    from accord.graphs.sessions.cost import Prices
    from accord.graphs.sessions.manager import Sessions
    from accord.graphs.sessions.reply import Reply
    from accord.graphs.sessions.session import Session
    from accord.graphs.state import TeamState
else:
    __getattr__, __dir__ = _lazy.exports(
        __name__,
        {
            "events": ".events",
            "BudgetExceeded": ".errors",
            "NotAuthorized": ".errors",
            "NotPaused": ".errors",
            "SessionClosed": ".errors",
            "SessionPaused": ".errors",
            "DoneEvent": ".events",
            "Event": ".events",
            "MessageEvent": ".events",
            "TokenEvent": ".events",
            "events_of": ".events",
            "AgentNode": ".node",
            "Task": ".node",
            "ConsensusState": ".patterns.consensus",
            "consensus": ".patterns.consensus",
            "ConsultationState": ".patterns.consultation",
            "consultation": ".patterns.consultation",
            "DelegationState": ".patterns.delegation",
            "delegation": ".patterns.delegation",
            "handoff": ".patterns.handoff",
            "ModelRouter": ".patterns.routed",
            "RoutedState": ".patterns.routes",
            "routed": ".patterns.routed",
            "Broker": ".scale.broker",
            "Worker": ".scale.worker",
            "OPERATOR": ".sessions.access",
            "Access": ".sessions.access",
            "Scope": ".sessions.access",
            "User": ".sessions.access",
            "Limits": ".sessions.budget",
            "Meter": ".sessions.budget",
            "Usage": ".sessions.budget",
            "Prices": ".sessions.cost",
            "Sessions": ".sessions.manager",
            "Reply": ".sessions.reply",
            "Session": ".sessions.session",
            "TeamState": ".state",
        },
    )

__all__ = [
    "OPERATOR",
    "Access",
    "AgentNode",
    "Broker",
    "BudgetExceeded",
    "ConsensusState",
    "ConsultationState",
    "DelegationState",
    "DoneEvent",
    "Event",
    "Limits",
    "MessageEvent",
    "Meter",
    "ModelRouter",
    "NotAuthorized",
    "NotPaused",
    "Prices",
    "Reply",
    "RoutedState",
    "Scope",
    "Session",
    "SessionClosed",
    "SessionPaused",
    "Sessions",
    "Task",
    "TeamState",
    "TokenEvent",
    "Usage",
    "User",
    "Worker",
    "consensus",
    "consultation",
    "delegation",
    "events",
    "events_of",
    "handoff",
    "routed",
]
