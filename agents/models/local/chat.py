"""`"local"` as a LangChain chat model: `ChatOpenAI` talking to the embedded llama.cpp server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from langchain_core.language_models import LangSmithParams
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_openai import ChatOpenAI
from pydantic import Field

from accord.agents.models.environment import local_url
from accord.agents.models.local.server import LOCAL_MODEL_NAME, EmbeddedServer, embedded_server
from accord.agents.models.timeouts import LOCAL

# Where a LocalChatModel points before the server has started: the discard port, which refuses
# at once should anything ever send there.
_NOT_STARTED = "http://127.0.0.1:9/v1"

# No keep-alive: a pooled async connection belongs to the event loop that opened it, and reusing
# it from a later loop (each pytest test, each `asyncio.run`) fails with "Event loop is closed";
# a pooled sync one lingers unclosed until exit. A loopback connect costs well under a ms.
# trust_env=False: a proxy configured for the outside world must not capture loopback traffic.
_NO_POOL = httpx.Limits(max_keepalive_connections=0)
# Never without limits: a wedged server must not hold a turn forever (the OpenAI client's own
# timeout, below, is what each request uses; this one is the floor under it).
_ASYNC_HTTP = httpx.AsyncClient(limits=_NO_POOL, trust_env=False, timeout=LOCAL.http())
_SYNC_HTTP = httpx.Client(limits=_NO_POOL, trust_env=False, timeout=LOCAL.http())

LOCAL_DEFAULTS: dict[str, Any] = {
    "model": LOCAL_MODEL_NAME,
    # Reproducible by default: the same prompt gives the same answer, run after run.
    "temperature": 0.0,
    "seed": 0,
    "frequency_penalty": 0.6,
    "max_tokens": 512,
    # Requests queue behind one another on a small CPU; the first byte's limit covers the queue.
    "timeout": LOCAL.openai(),
    "max_retries": 1,
    # llama.cpp checks no key, but the OpenAI client insists on one.
    "api_key": "accord-local",
    "stream_usage": True,
    "http_client": _SYNC_HTTP,
    "http_async_client": _ASYNC_HTTP,
}


class LocalChatModel(ChatOpenAI):
    """A `ChatOpenAI` for the embedded model that starts the shared server on its first call.

    Creating one is free: nothing loads until it is first invoked or streamed, so a graph
    that names `"local"` can be built (and tested with other models) without the weights.
    """

    server: EmbeddedServer = Field(default_factory=embedded_server, exclude=True)

    def __init__(self, **kwargs: Any) -> None:
        """Takes `ChatOpenAI`'s keyword arguments; unset ones come from `LOCAL_DEFAULTS`."""
        super().__init__(**{**LOCAL_DEFAULTS, "base_url": _NOT_STARTED, **kwargs})

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        # Its own provider, not "openai": price tables (it costs 0) and traces tell it apart.
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "local"
        return params

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        self._point_at(self.server.start())
        return super()._generate(*args, **kwargs)

    async def _agenerate(self, *args: Any, **kwargs: Any) -> ChatResult:
        self._point_at(await self.server.astart())
        return await super()._agenerate(*args, **kwargs)

    def _stream(self, *args: Any, **kwargs: Any) -> Iterator[ChatGenerationChunk]:
        self._point_at(self.server.start())
        yield from super()._stream(*args, **kwargs)

    async def _astream(self, *args: Any, **kwargs: Any) -> AsyncIterator[ChatGenerationChunk]:
        self._point_at(await self.server.astart())
        async for chunk in super()._astream(*args, **kwargs):
            yield chunk

    def _point_at(self, url: str) -> None:
        # The port is only known once the server runs, and changes if it is restarted; the
        # OpenAI clients were built at construction, so their base URL is moved here.
        if self.openai_api_base != url:
            self.openai_api_base = url
            if self.root_client is not None:
                self.root_client.base_url = url
            if self.root_async_client is not None:
                self.root_async_client.base_url = url


def local_chat_model(variant: str = "", **options: Any) -> ChatOpenAI:
    """Builds the chat model for `"local"` (variant `""`) or `"local:<variant>"`.

    With `ACCORD_LOCAL_URL` set (or a `base_url` option), a plain `ChatOpenAI` talks to that
    running server and nothing is started; otherwise a `LocalChatModel` starts the embedded
    server on first use. Options override `LOCAL_DEFAULTS` and go to `ChatOpenAI`.

    Raises:
        UnknownModelId: There is no such variant.
    """
    server = embedded_server(variant)
    settings = {**LOCAL_DEFAULTS, "model": server.model.name, **options}
    if "base_url" in settings:
        return ChatOpenAI(**settings)
    if (url := local_url()) is not None:
        return ChatOpenAI(base_url=url, **settings)
    return LocalChatModel(server=server, **{"model": server.model.name, **options})
