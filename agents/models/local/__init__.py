"""The embedded models: llama.cpp serving Qwen2.5-Coder 1.5B ("local") or 0.5B ("local:small")."""

from accord.agents.models.local.chat import LOCAL_DEFAULTS, LocalChatModel, local_chat_model
from accord.agents.models.local.server import (
    LOCAL_MODEL_NAME,
    EmbeddedServer,
    embedded_server,
    warm_up,
)
from accord.agents.models.local.weights import MODEL_SHA256, ensure_weights, installed_parts

__all__ = [
    "LOCAL_DEFAULTS",
    "LOCAL_MODEL_NAME",
    "MODEL_SHA256",
    "EmbeddedServer",
    "LocalChatModel",
    "embedded_server",
    "ensure_weights",
    "installed_parts",
    "local_chat_model",
    "warm_up",
]
