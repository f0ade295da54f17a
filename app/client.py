"""A small async Python client of the HTTP API (httpx), and the SSE parser it uses.

Example:
    ```python
    async with Client("http://127.0.0.1:8000", token="s3cret-alice") as client:
        session = await client.open(limits={"tokens": 20_000})
        async for event in client.stream(session["id"], "I'd like to open an account"):
            if event.kind == "token":
                print(event.data["text"], end="", flush=True)
    ```
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

from accord.app.errors import ApiError

if TYPE_CHECKING:  # httpx is loaded by the first client, not with `accord.app`
    import httpx


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One Server-Sent Event: its name (`kind`), JSON data and id."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    id: str | None = None


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[ServerEvent]:
    """The events in a stream of SSE lines (comments and keep-alives skipped)."""
    kind, data, event_id = "message", list[str](), None
    async for line in lines:
        if line == "":
            if data:
                yield ServerEvent(kind, json.loads("\n".join(data)), event_id)
            kind, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            kind = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            event_id = value


class Client:
    """The API as one user (the one `token` stands for).

    Args:
        url: The server's base URL.
        token: A bearer token from the server's token map.
        timeout: Seconds to wait for each read (a stream's gaps are bounded by its pings).
    """

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        import httpx

        self.http = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Closes the connections."""
        await self.http.aclose()

    async def me(self) -> dict[str, Any]:
        """The user the token stands for."""
        return await self._object("GET", "/api/me")

    async def open(
        self, *, scope: dict[str, Any] | None = None, limits: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Opens a session; `scope` and `limits` as in the API's `NewSession`."""
        spec = {k: v for k, v in (("scope", scope), ("limits", limits)) if v is not None}
        return await self._object("POST", "/api/sessions", json=spec)

    async def sessions(self, status: str | None = None) -> list[dict[str, Any]]:
        """The sessions the user may read."""
        params = {"status": status} if status else None
        return await self._list("GET", "/api/sessions", params=params)

    async def get(self, session_id: str) -> dict[str, Any]:
        """One session."""
        return await self._object("GET", f"/api/sessions/{session_id}")

    async def resume(self, session_id: str) -> dict[str, Any]:
        """Checks the user may resume the session; returns it."""
        return await self._object("POST", f"/api/sessions/{session_id}/resume")

    async def history(self, session_id: str) -> list[dict[str, Any]]:
        """The session's messages."""
        return await self._list("GET", f"/api/sessions/{session_id}/messages")

    async def audit(self, session_id: str) -> list[dict[str, Any]]:
        """The session's audit trail."""
        return await self._list("GET", f"/api/sessions/{session_id}/audit")

    async def restore(
        self, session_id: str, *, at: str | None = None, checkpoint_id: str | None = None
    ) -> dict[str, Any]:
        """Makes the session's state at `at` (ISO time) or `checkpoint_id` current again."""
        moment = {"at": at} if at is not None else {"checkpoint_id": checkpoint_id}
        return await self._object("POST", f"/api/sessions/{session_id}/restore", json=moment)

    async def end(self, session_id: str) -> dict[str, Any]:
        """Ends the session."""
        return await self._object("POST", f"/api/sessions/{session_id}/end")

    async def stream(
        self, session_id: str, text: str, *, message_id: str | None = None
    ) -> AsyncGenerator[ServerEvent]:
        """Sends a message and yields the reply's events, `done` (or `error`) last.

        Raises:
            ApiError: The server refused the message before streaming (403, 404, 409, 429...).
        """
        body: dict[str, Any] = {"text": text}
        if message_id is not None:
            body["message_id"] = message_id
        async for event in self._events(f"/api/sessions/{session_id}/messages", body):
            yield event

    async def send(self, session_id: str, text: str) -> list[ServerEvent]:
        """Sends a message and returns every event of the reply."""
        return [event async for event in self.stream(session_id, text)]

    async def questions(self, session_id: str) -> list[dict[str, Any]]:
        """The questions a paused session waits on (`id`, `value`); empty if not paused."""
        return await self._list("GET", f"/api/sessions/{session_id}/questions")

    async def answer(self, session_id: str, answer: Any) -> list[ServerEvent]:
        """Answers a paused session's question; every event of the rest of the run.

        Raises:
            ApiError: 409 `NotPaused` if the session asked nothing (nothing changes).
        """
        path = f"/api/sessions/{session_id}/answer"
        return [event async for event in self._events(path, {"answer": answer})]

    async def _events(self, path: str, body: dict[str, Any]) -> AsyncGenerator[ServerEvent]:
        async with self.http.stream("POST", path, json=body) as response:
            if response.status_code != 200:
                await response.aread()
                raise _error(response)
            async for event in parse_sse(response.aiter_lines()):
                yield event

    async def _object(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        found: dict[str, Any] = await self._json(method, path, **kwargs)
        return found

    async def _list(self, method: str, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self._json(method, path, **kwargs)
        return found

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.http.request(method, path, **kwargs)
        if response.is_error:
            raise _error(response)
        return response.json()


def _error(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(response.status_code, error["type"], error["message"])
    except (ValueError, KeyError, TypeError):
        return ApiError(response.status_code, "HTTPError", response.text[:200])
