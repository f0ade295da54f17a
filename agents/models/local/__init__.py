"""The embedded models: llama.cpp serving Qwen2.5-Coder 1.5B ("local") or 0.5B ("local:small").

The chat model (`accord.agents.models.local.chat`: `LocalChatModel`, `local_chat_model`) is
left out here: it loads LangChain's OpenAI client, which `import accord.agents` must not.
"""

from accord.agents.models.local.server import (
    LOCAL_MODEL_NAME,
    EmbeddedServer,
    embedded_server,
    warm_up,
)
from accord.agents.models.local.weights import MODEL_SHA256, ensure_weights, installed_parts

__all__ = [
    "LOCAL_MODEL_NAME",
    "MODEL_SHA256",
    "EmbeddedServer",
    "embedded_server",
    "ensure_weights",
    "installed_parts",
    "warm_up",
]
