"""Model ids: `"local"`, `"openai:<model>"`, `"ollama:<model>"` → LangChain chat models."""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from accord.agents.errors import INSTALL_OLLAMA, ModelSpecError, ModelUnavailable, UnknownModelId
from accord.agents.models.environment import require_online
from accord.agents.models.local import local_chat_model

MODEL_ID_FORMS = (
    '"local" (the embedded model)',
    '"local:small" (the smaller, faster embedded model)',
    '"openai:<model>" (OpenAI, or any OpenAI-compatible server with base_url=...)',
    '"ollama:<model>" (a model pulled into Ollama)',
    "a LangChain BaseChatModel instance, e.g. ScriptedModel([...])",
)


def resolve_model(spec: str | BaseChatModel, **options: Any) -> BaseChatModel:
    """Turns a model id into a ready LangChain chat model.

    Nothing is contacted here: the embedded server starts on the model's first call, and
    remote clients connect on theirs.

    Args:
        spec: A model id (see `MODEL_ID_FORMS`) or a chat model, which is returned as is.
        **options: Keyword arguments for the model class: `ChatOpenAI` for `"local"` and
            `"openai:"` (e.g. `base_url`, `api_key`, `temperature`, `max_tokens`, `timeout`),
            `ChatOllama` for `"ollama:"` (e.g. `base_url`, `num_ctx`).

    Raises:
        UnknownModelId: The id has no known form.
        ModelSpecError: Options were given with a model instance, or the model name is empty.
        OfflineMode: `ACCORD_OFFLINE` is on and the id names a network model.
        ModelUnavailable: The provider's package or credentials are missing.
    """
    if isinstance(spec, BaseChatModel):
        if options:
            raise ModelSpecError(
                f"options {sorted(options)} apply to model ids only; configure the "
                f"{type(spec).__name__} instance itself"
            )
        return spec
    if not isinstance(spec, str):
        raise UnknownModelId(_unknown(repr(spec)))
    text = spec.strip()
    if text == "local" or text.startswith("local:"):
        return local_chat_model(text.partition(":")[2].strip(), **options)
    provider, sep, name = text.partition(":")
    if not sep or provider not in _PROVIDERS:
        raise UnknownModelId(_unknown(repr(spec)))
    if not name.strip():
        raise ModelSpecError(f"model id {spec!r} names no model; write e.g. '{provider}:<model>'")
    return _PROVIDERS[provider](name.strip(), options)


def _openai(name: str, options: dict[str, Any]) -> BaseChatModel:
    require_online(f"build the network model 'openai:{name}'")
    from langchain_openai import ChatOpenAI

    has_base = bool(options.get("base_url") or os.environ.get("OPENAI_BASE_URL"))
    has_key = bool(options.get("api_key") or os.environ.get("OPENAI_API_KEY"))
    if not has_key:
        if not has_base:
            raise ModelUnavailable(
                f"'openai:{name}' needs an API key: set OPENAI_API_KEY, or pass base_url=... "
                f"(or set OPENAI_BASE_URL) for an OpenAI-compatible server that needs none"
            )
        # Self-hosted servers (vLLM, llama.cpp, LM Studio) ignore the key; the client needs one.
        options = {**options, "api_key": "not-needed"}
    return ChatOpenAI(model=name, **options)


def _ollama(name: str, options: dict[str, Any]) -> BaseChatModel:
    require_online(f"build the network model 'ollama:{name}'")
    try:
        from langchain_ollama import ChatOllama
    except ImportError:
        raise ModelUnavailable(
            f"'ollama:{name}' needs the 'langchain-ollama' package, which is not installed. "
            f"Install it with: {INSTALL_OLLAMA}"
        ) from None
    return ChatOllama(model=name, **options)


_PROVIDERS = {"openai": _openai, "ollama": _ollama}


def _unknown(spec: str) -> str:
    return f"unknown model id {spec}; use one of: " + "; ".join(MODEL_ID_FORMS)
