"""What a model chain does to the clients of its models: one request per attempt, time limits,
and a health check of an OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel

from accord.agents.models.timeouts import Timeouts


def single_attempt(model: BaseChatModel, timeouts: Timeouts | None = None) -> BaseChatModel:
    """A copy of `model` whose SDK does not retry (the chain retries, and its breaker counts).

    With `timeouts`, an OpenAI client given no timeout of its own gets their connect and first
    byte limits (the chain enforces the total).
    """
    from langchain_openai.chat_models.base import BaseChatOpenAI

    if not isinstance(model, BaseChatOpenAI):
        return model
    bound = timeouts is not None and model.request_timeout is None
    if model.max_retries == 0 and not bound:
        return model
    options: dict[str, Any] = {"max_retries": 0}
    if timeouts is not None and bound:
        options["timeout"] = timeouts.openai()
    copy = model.model_copy(
        update={"max_retries": 0, "request_timeout": options.get("timeout", model.request_timeout)}
    )
    if model.root_client is not None:
        copy.root_client = model.root_client.with_options(**options)
        copy.client = copy.root_client.chat.completions
    if model.root_async_client is not None:
        copy.root_async_client = model.root_async_client.with_options(**options)
        copy.async_client = copy.root_async_client.chat.completions
    return copy


def health_check(model: BaseChatModel, *, timeout: float = 2.0) -> Callable[[], bool] | None:
    """A check that `model`'s OpenAI-compatible server answers `GET /models`, or None."""
    from langchain_openai.chat_models.base import BaseChatOpenAI

    if not isinstance(model, BaseChatOpenAI):
        return None

    def check() -> bool:
        base = (model.openai_api_base or "https://api.openai.com/v1").rstrip("/")
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            return client.get(f"{base}/models").status_code < 500

    return check
