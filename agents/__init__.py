"""accord.agents: agent specs, models and their chains, routing, hot standby, metrics, test models.

What a user reads first. What plugs into these lives one level down: the router's fits,
strategies, load and history in `accord.agents.routing`, the chain's and breakers' settings in
`accord.agents.models`, every error in `accord.agents.errors`.
"""

from typing import TYPE_CHECKING

from accord.persistence import lazy as _lazy

if TYPE_CHECKING:
    from accord.agents.agent import Agent, ModelRef, check_team
    from accord.agents.errors import (
        AgentSpecError,
        CallRefused,
        MalformedOutput,
        ModelError,
    )
    from accord.agents.metrics.feedback import Rating
    from accord.agents.metrics.recorder import MetricsRecorder
    from accord.agents.metrics.reliability import (
        Reliability,
        StepEvent,
        by_agent,
        by_session,
        percentile,
        read_events,
    )
    from accord.agents.metrics.step_audit import load_steps, save_steps
    from accord.agents.metrics.telemetry import Reliabilities, ReliabilityCollector, instrument
    from accord.agents.models.breaker import breakers
    from accord.agents.models.chain import ChainPolicy, model_chain
    from accord.agents.models.flow import FlowRunnable, Invoke
    from accord.agents.models.ids import resolve_model
    from accord.agents.models.local.server import embedded_server, warm_up
    from accord.agents.models.structured import structured
    from accord.agents.routing.forecast import workers_needed
    from accord.agents.routing.router import Candidate, Decision, Router
    from accord.agents.routing.standby import standby
    from accord.agents.routing.strategies import STRATEGIES
    from accord.agents.testing.faults import FaultServer
    from accord.agents.testing.scripted import ScriptedModel
    from accord.agents.testing.upstreams import canned
else:
    __getattr__, __dir__ = _lazy.exports(
        __name__,
        {
            "Agent": ".agent",
            "ModelRef": ".agent",
            "check_team": ".agent",
            "AgentSpecError": ".errors",
            "CallRefused": ".errors",
            "MalformedOutput": ".errors",
            "ModelError": ".errors",
            "Rating": ".metrics.feedback",
            "MetricsRecorder": ".metrics.recorder",
            "Reliability": ".metrics.reliability",
            "StepEvent": ".metrics.reliability",
            "by_agent": ".metrics.reliability",
            "by_session": ".metrics.reliability",
            "percentile": ".metrics.reliability",
            "read_events": ".metrics.reliability",
            "load_steps": ".metrics.step_audit",
            "save_steps": ".metrics.step_audit",
            "Reliabilities": ".metrics.telemetry",
            "ReliabilityCollector": ".metrics.telemetry",
            "instrument": ".metrics.telemetry",
            "breakers": ".models.breaker",
            "ChainPolicy": ".models.chain",
            "model_chain": ".models.chain",
            "FlowRunnable": ".models.flow",
            "Invoke": ".models.flow",
            "resolve_model": ".models.ids",
            "embedded_server": ".models.local.server",
            "warm_up": ".models.local.server",
            "structured": ".models.structured",
            "workers_needed": ".routing.forecast",
            "Candidate": ".routing.router",
            "Router": ".routing.router",
            "Decision": ".routing.router",
            "standby": ".routing.standby",
            "STRATEGIES": ".routing.strategies",
            "FaultServer": ".testing.faults",
            "ScriptedModel": ".testing.scripted",
            "canned": ".testing.upstreams",
        },
    )

__all__ = [
    "STRATEGIES",
    "Agent",
    "AgentSpecError",
    "CallRefused",
    "Candidate",
    "ChainPolicy",
    "Decision",
    "FaultServer",
    "FlowRunnable",
    "Invoke",
    "MalformedOutput",
    "MetricsRecorder",
    "ModelError",
    "ModelRef",
    "Rating",
    "Reliabilities",
    "Reliability",
    "ReliabilityCollector",
    "Router",
    "ScriptedModel",
    "StepEvent",
    "breakers",
    "by_agent",
    "by_session",
    "canned",
    "check_team",
    "embedded_server",
    "instrument",
    "load_steps",
    "model_chain",
    "percentile",
    "read_events",
    "resolve_model",
    "save_steps",
    "standby",
    "structured",
    "warm_up",
    "workers_needed",
]
