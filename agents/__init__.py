"""accord.agents: agent specs, model ids, the embedded default model, scripted test models."""

from accord.agents.agent import Agent, AgentSpecError, ModelRef, check_team
from accord.agents.errors import (
    LocalModelNotInstalled,
    LocalServerFailed,
    MalformedOutput,
    ModelError,
    ModelSpecError,
    ModelUnavailable,
    ModelWeightsCorrupt,
    OfflineMode,
    UnexpectedModelCall,
    UnknownModelId,
)
from accord.agents.local.server import warm_up
from accord.agents.models import resolve_model
from accord.agents.scripted import ScriptedCall, ScriptedModel, Turn
from accord.agents.structured import structured

__all__ = [
    "Agent",
    "AgentSpecError",
    "LocalModelNotInstalled",
    "LocalServerFailed",
    "MalformedOutput",
    "ModelError",
    "ModelRef",
    "ModelSpecError",
    "ModelUnavailable",
    "ModelWeightsCorrupt",
    "OfflineMode",
    "ScriptedCall",
    "ScriptedModel",
    "Turn",
    "UnexpectedModelCall",
    "UnknownModelId",
    "check_team",
    "resolve_model",
    "structured",
    "warm_up",
]
