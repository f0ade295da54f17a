"""The fault-injection server: a real OpenAI-compatible HTTP server that fails on purpose."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field, SecretStr

from accord.agents import FaultServer, canned, structured
from accord.agents.models.local import embedded_server
from accord.agents.models.local.server import LOCAL_MODEL_NAME
from accord.agents.testing.upstreams import Answer, example, proxy, replay

CASSETTE = Path(__file__).parents[1] / "graphs" / "cassettes" / "onboarding.yaml"


def _model(server: FaultServer, **options: Any) -> ChatOpenAI:
    settings: dict[str, Any] = {"model": "m", "max_retries": 0, **options}
    return ChatOpenAI(base_url=server.url, api_key=SecretStr("x"), **settings)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer(canned("Hello from the canned model.")) as running:
        yield running


class Verdict(BaseModel):
    choice: Literal["approve", "reject"]
    confidence: float = Field(ge=0, le=1)
    reasons: list[str] = Field(min_length=1)


async def test_answers_chat_requests_plain_and_streamed(server: FaultServer) -> None:
    model = _model(server)
    assert model.invoke("hi").text == "Hello from the canned model."
    assert (await model.ainvoke("hi")).text == "Hello from the canned model."
    chunks = [chunk.text async for chunk in model.astream("hi")]
    assert len(chunks) > 2
    assert "".join(chunks) == "Hello from the canned model."
    assert server.counts == {"ok": 3}


async def test_schema_constrained_requests_get_valid_json(server: FaultServer) -> None:
    verdict = await structured(_model(server), Verdict).ainvoke("approve?")
    assert verdict == Verdict(choice="approve", confidence=0.5, reasons=["ok"])


async def test_structured_replies_can_be_chosen_per_request() -> None:
    def choose(request: dict[str, Any]) -> dict[str, Any]:
        asked = request["messages"][-1]["content"]
        return {
            "choice": "reject" if "risky" in asked else "approve",
            "confidence": 1,
            "reasons": [asked],
        }

    with FaultServer(canned(data=choose)) as server:
        verdict = structured(_model(server), Verdict).invoke("a risky loan")
    assert verdict == Verdict(choice="reject", confidence=1.0, reasons=["a risky loan"])


@pytest.mark.parametrize(
    ("fault", "error", "outcome"),
    [
        ("rate_429", openai.RateLimitError, "429"),
        ("rate_500", openai.InternalServerError, "500"),
        ("rate_reset", openai.APIConnectionError, "reset"),
        ("rate_malformed", json.JSONDecodeError, "malformed"),
    ],
)
async def test_each_fault_reaches_the_client_as_its_real_error(
    server: FaultServer, fault: str, error: type[Exception], outcome: str
) -> None:
    setattr(server.faults, fault, 1.0)
    with pytest.raises(error):
        await _model(server).ainvoke("hi")
    setattr(server.faults, fault, 0.0)
    assert (await _model(server).ainvoke("hi")).text == "Hello from the canned model."
    assert server.counts == {outcome: 1, "ok": 1}


async def test_a_malformed_stream_breaks_the_client(server: FaultServer) -> None:
    server.faults.rate_malformed = 1.0
    with pytest.raises(json.JSONDecodeError):
        async for _ in _model(server).astream("hi"):
            pass


def test_latency_beyond_the_client_timeout_is_a_timeout(server: FaultServer) -> None:
    server.faults.latency = 1.0
    with pytest.raises(openai.APITimeoutError):
        _model(server, timeout=0.2).invoke("hi")


def test_down_refuses_connections_and_up_serves_on_the_same_port(server: FaultServer) -> None:
    url = server.url
    server.down()
    with pytest.raises(openai.APIConnectionError):
        _model(server).invoke("hi")
    server.up()
    assert server.url == url
    assert _model(server).invoke("hi").text == "Hello from the canned model."


def test_the_same_seed_injects_the_same_faults() -> None:
    fates = []
    for _ in range(2):
        with FaultServer(rate_500=0.3, rate_429=0.2, seed=7) as server:
            fates.append([server.roll() for _ in range(50)])
    assert fates[0] == fates[1]
    assert {"ok", "500", "429"} == set(fates[0])


def test_proxies_an_openai_compatible_upstream(server: FaultServer) -> None:
    with FaultServer(server.url) as front:
        assert _model(front).invoke("hi").text == "Hello from the canned model."
        front.faults.rate_500 = 1.0
        with pytest.raises(openai.InternalServerError):
            _model(front).invoke("hi")
    assert server.counts == {"ok": 1}  # the injected fault never reached the upstream
    assert proxy(server.url)("GET", "/models", b"").status == 200


def test_replays_a_cassette_matched_on_path_and_body() -> None:
    tape = replay(CASSETTE)
    recorded = _first_chat_request(CASSETTE)
    with FaultServer(tape) as server:
        response = httpx.post(f"{server.url}/chat/completions", content=recorded, timeout=10)
        missing = httpx.post(f"{server.url}/chat/completions", json={"messages": []}, timeout=10)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"]
    assert missing.status_code == 404
    assert "re-record" in missing.json()["error"]["message"]


def test_a_custom_upstream_answers_what_it_likes() -> None:
    def teapot(method: str, path: str, body: bytes) -> Answer:
        return Answer(418, "application/json", b'{"error": {"message": "teapot"}}')

    with FaultServer(teapot) as server, pytest.raises(openai.APIStatusError) as caught:
        _model(server).invoke("hi")
    assert caught.value.status_code == 418


def test_examples_validate_against_their_schema() -> None:
    class Inner(BaseModel):
        n: int = Field(ge=3, le=9)

    class Outer(BaseModel):
        kind: Literal["a", "b"]
        inner: Inner
        items: list[Inner] = Field(min_length=2)
        note: str | None
        name: str = Field(min_length=5, max_length=6)

    made = Outer.model_validate(example(Outer.model_json_schema()))
    assert (made.kind, made.inner.n, len(made.items)) == ("a", 6, 2)


def _first_chat_request(path: Path) -> bytes:
    import yaml  # type: ignore[import-untyped]

    for exchange in yaml.safe_load(path.read_text())["interactions"]:
        if exchange["request"]["uri"].endswith("/chat/completions"):
            body: str = exchange["request"]["body"]
            return body.encode()
    raise AssertionError(f"{path} holds no chat request")


@pytest.mark.live
def test_fronts_the_embedded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ACCORD_OFFLINE", raising=False)
    with FaultServer(embedded_server().start(), rate_500=1.0) as front:
        model = _model(front, model=LOCAL_MODEL_NAME, max_tokens=8, temperature=0)
        with pytest.raises(openai.InternalServerError):
            model.invoke("Say hello.")
        front.faults.rate_500 = 0.0
        assert model.invoke("Say hello.").text.strip()
    assert front.counts == {"500": 1, "ok": 1}
