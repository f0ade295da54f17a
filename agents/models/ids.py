"""Model ids: `"local"`, `"openai:<model>"`, `"ollama:<model>"` → LangChain chat models.

An id may name its endpoint, key source and time limits (`spec.py` has the grammar):
`"openai:qwen@http://gpu-2:8080/v1?key_env=GPU2_KEY&total=60"`.
"""

from __future__ import annotations

import os
from typing import Any

from langchain_core.language_models import BaseChatModel

from accord.agents.errors import INSTALL_OLLAMA, ModelSpecError, ModelUnavailable, UnknownModelId
from accord.agents.models.environment import require_online
from accord.agents.models.spec import ModelSpec, parse_model_id, unknown
from accord.agents.models.timeouts import LOCAL, OLLAMA, REMOTE, Timeouts, options_of, remember


def resolve_model(
    spec: str | BaseChatModel, *, timeouts: Timeouts | None = None, **options: Any
) -> BaseChatModel:
    """Turns a model id into a ready LangChain chat model.

    Nothing is contacted here: the embedded server starts on the model's first call, and
    remote clients connect on theirs.

    Args:
        spec: A model id (see `spec.MODEL_ID_FORMS`) or a chat model, which is returned as is.
        timeouts: The model's time limits (default: its kind's, see `timeouts.py`); limits the
            id sets override them.
        **options: Keyword arguments for the model class: `ChatOpenAI` for `"local"` and
            `"openai:"` (e.g. `base_url`, `api_key`, `temperature`, `max_tokens`, `timeout`),
            `ChatOllama` for `"ollama:"` (e.g. `base_url`, `num_ctx`).

    Raises:
        UnknownModelId: The id has no known form.
        ModelSpecError: Options were given with a model instance, the model name is empty, or
            the id's endpoint or options are wrong (the message lists the forms that work).
        OfflineMode: `ACCORD_OFFLINE` is on and the id names a network model.
        ModelUnavailable: The provider's package or credentials are missing.
    """
    if isinstance(spec, BaseChatModel):
        if options or timeouts is not None:
            raise ModelSpecError(
                f"options {sorted(options)} apply to model ids only; configure the "
                f"{type(spec).__name__} instance itself"
            )
        return spec
    if not isinstance(spec, str):
        raise UnknownModelId(unknown(repr(spec)))
    parsed = parse_model_id(spec)
    if parsed.base_url is not None and options.get("base_url"):
        raise ModelSpecError(
            f"model id {spec!r} names its endpoint, and base_url= was given too; keep one"
        )
    limits = parsed.timeouts(timeouts or _DEFAULTS[parsed.provider])
    if parsed.provider == "local":
        # Imported here: LangChain's OpenAI client costs a second of start-up to load.
        from accord.agents.models.local.chat import local_chat_model

        model: BaseChatModel = local_chat_model(parsed.name, **options_of(limits, options))
    else:
        model = _PROVIDERS[parsed.provider](parsed, limits, options)
    if options.get("timeout") is None or parsed.limits or timeouts is not None:
        remember(model, limits)  # else the client's own timeout says (`timeouts_of`)
    return model


def _openai(parsed: ModelSpec, limits: Timeouts, options: dict[str, Any]) -> BaseChatModel:
    name = parsed.name
    require_online(f"build the network model 'openai:{name}'")
    from langchain_openai import ChatOpenAI

    options = options_of(limits, options)
    if parsed.base_url is not None:
        options = {**options, "base_url": parsed.base_url}
    if parsed.key_env is not None and not options.get("api_key"):
        key = os.environ.get(parsed.key_env, "").strip()
        if not key:
            raise ModelUnavailable(
                f"'openai:{name}' reads its API key from the environment variable "
                f"{parsed.key_env}, which is not set; export it, or drop key_env for a server "
                f"that needs no key"
            )
        options = {**options, "api_key": key}
    if parsed.base_url is not None and not options.get("api_key"):
        # A key meant for OpenAI (OPENAI_API_KEY) is never sent to a server the id names.
        return ChatOpenAI(model=name, **{**options, "api_key": "not-needed"})
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


def _ollama(parsed: ModelSpec, limits: Timeouts, options: dict[str, Any]) -> BaseChatModel:
    name = parsed.name
    require_online(f"build the network model 'ollama:{name}'")
    try:
        from langchain_ollama import ChatOllama
    except ImportError:
        raise ModelUnavailable(
            f"'ollama:{name}' needs the 'langchain-ollama' package, which is not installed. "
            f"Install it with: {INSTALL_OLLAMA}"
        ) from None
    if parsed.base_url is not None:
        options = {**options, "base_url": parsed.base_url}
    client = {"timeout": limits.http(), **(options.get("client_kwargs") or {})}
    return ChatOllama(model=name, **{**options, "client_kwargs": client})


_PROVIDERS = {"openai": _openai, "ollama": _ollama}
_DEFAULTS = {"local": LOCAL, "openai": REMOTE, "ollama": OLLAMA}
