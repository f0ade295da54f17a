"""Upstreams of a `FaultServer`: who answers the requests that get through its faults.

An upstream is a function `(method, path under /v1, request body) -> Answer`. `canned()`
fabricates valid OpenAI chat replies without a model, `proxy(url)` forwards to a running
OpenAI-compatible server (the embedded model, vLLM, ...), `replay(cassette)` answers from a
recorded cassette; any other function may stand in.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import yaml  # type: ignore[import-untyped]


class Answer(NamedTuple):
    """What an upstream answers: HTTP status, content type and body."""

    status: int
    content_type: str
    body: bytes


Upstream = Callable[[str, str, bytes], Answer]
"""Answers `(method, path under /v1, request body)`; see `canned`, `proxy`, `replay`."""


Data = Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]
"""Structured reply data: fixed, or computed from the request's JSON body."""


def canned(
    text: str | Callable[[dict[str, Any]], str] = "OK", data: Data | None = None
) -> Upstream:
    """An upstream that answers every chat request at once, without a model.

    Args:
        text: The reply to a request without a response schema (or a function of the request).
        data: The reply to a schema-constrained request (`response_format` of type
            `json_schema`), or a function of the request returning it. Default: an example
            instance fabricated from the schema (first enum value, bounded numbers' midpoint).

    Streaming requests get server-sent events, with usage when `stream_options` asks for it.
    `GET /models` lists one model.
    """

    def answer(method: str, path: str, body: bytes) -> Answer:
        if method == "GET":
            return Answer(200, "application/json", _json({"object": "list", "data": [_MODEL]}))
        request = json.loads(body or b"{}")
        schema = ((request.get("response_format") or {}).get("json_schema") or {}).get("schema")
        if schema is not None:
            reply = data(request) if callable(data) else data
            content = json.dumps(dict(reply) if reply is not None else example(schema))
        else:
            content = text(request) if callable(text) else text
        return _completion(request, content)

    return answer


def proxy(url: str, *, timeout: float = 300.0) -> Upstream:
    """An upstream that forwards to a running OpenAI-compatible server at `url` (…/v1).

    Streamed answers are passed on whole once the upstream has finished them.
    """
    base = url.rstrip("/")
    # No kept-alive connections: the proxy lives as long as its server, which has no close hook
    # for a pool, and a loopback connect costs well under a millisecond.
    client = httpx.Client(
        timeout=timeout, trust_env=False, limits=httpx.Limits(max_keepalive_connections=0)
    )

    def answer(method: str, path: str, body: bytes) -> Answer:
        headers = {"content-type": "application/json"} if body else {}
        response = client.request(method, base + path, content=body, headers=headers)
        kind = response.headers.get("content-type", "application/json")
        return Answer(response.status_code, kind, response.content)

    return answer


def replay(path: Path) -> Upstream:
    """An upstream that answers from a recorded cassette (see `accord.evals.cassette`).

    Requests are matched on method, path and JSON body; a request recorded several times gets
    its answers in recorded order. An unmatched request gets a 404 that says so.
    """
    source = path
    tape = yaml.safe_load(source.read_text())
    recorded: dict[tuple[str, str, str], list[Answer]] = {}
    for exchange in tape.get("interactions", []):
        request, response = exchange["request"], exchange["response"]
        key = (request["method"], _path_of(request["uri"]), _canonical(request.get("body")))
        raw = response["body"]["string"]
        kinds = {k.lower(): v for k, v in response.get("headers", {}).items()}
        kind = (kinds.get("content-type") or ["application/json"])[0]
        body = raw.encode() if isinstance(raw, str) else bytes(raw)
        recorded.setdefault(key, []).append(Answer(response["status"]["code"], kind, body))
    served: Counter[tuple[str, str, str]] = Counter()
    lock = threading.Lock()

    def answer(method: str, path: str, body: bytes) -> Answer:
        key = (method, path, _canonical(body))
        answers = recorded.get(key)
        if not answers:
            message = f"no recording of {method} {path} in {source}; re-record the cassette"
            return Answer(404, "application/json", _json({"error": {"message": message}}))
        with lock:
            index = min(served[key], len(answers) - 1)
            served[key] += 1
        return answers[index]

    return answer


def example(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> Any:
    """A value that validates against the JSON `schema` (pydantic's dialect), made up."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return example(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return example(options[0], defs)
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: example(sub, defs) for name, sub in props.items()}
    if kind == "array":
        return [example(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 0))]
    if kind in ("integer", "number"):
        low, high = schema.get("minimum", 0), schema.get("maximum")
        value = low if high is None else (low + high) / 2
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return False
    text = "ok" * max(1, schema.get("minLength", 0))
    return text[: schema["maxLength"]] if "maxLength" in schema else text


_MODEL = {"id": "canned", "object": "model", "owned_by": "accord"}


def _completion(request: dict[str, Any], content: str) -> Answer:
    model = request.get("model", "canned")
    sent = sum(len(str(m.get("content", ""))) for m in request.get("messages", [])) // 4
    usage = {"prompt_tokens": sent, "completion_tokens": len(content) // 4 + 1}
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    head = {"id": "chatcmpl-canned", "created": int(time.time()), "model": model}
    if not request.get("stream"):
        message = {"role": "assistant", "content": content}
        choice = {"index": 0, "message": message, "finish_reason": "stop"}
        reply = {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
        return Answer(200, "application/json", _json(reply))
    chunk = {**head, "object": "chat.completion.chunk"}
    pieces = [content[i : i + 16] for i in range(0, len(content), 16)] or [""]
    events = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    events += [{**chunk, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (request.get("stream_options") or {}).get("include_usage"):
        events.append({**chunk, "choices": [], "usage": usage})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return Answer(200, "text/event-stream", "".join(lines).encode())


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _path_of(uri: str) -> str:
    path = httpx.URL(uri).path
    return path.removeprefix("/v1")


def _canonical(body: Any) -> str:
    if not body:
        return ""
    text = body.decode() if isinstance(body, bytes) else str(body)
    try:
        return json.dumps(json.loads(text), sort_keys=True)
    except ValueError:
        return text
