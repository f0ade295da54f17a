"""`structured()`: validated decisions from any chat model, with a bounded re-ask."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Literal

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI
from pydantic import BaseModel, Field, SecretStr

from accord.agents import FaultServer, canned
from accord.agents.errors import MalformedOutput, ModelError
from accord.agents.models.ids import resolve_model
from accord.agents.models.local import EmbeddedServer
from accord.agents.models.local.chat import LocalChatModel
from accord.agents.models.structured import structured
from accord.agents.testing.scripted import ScriptedModel
from accord.agents.testing.upstreams import Answer


class Handoff(BaseModel):
    reply: str
    handoff_to: Literal["verification", "none"]


class Vote(BaseModel):
    choice: Literal["approve", "reject"]
    confidence: float = Field(ge=0, le=1, description="How sure you are, from 0 to 1.")


def test_a_valid_reply_is_returned_as_the_schema() -> None:
    model = ScriptedModel([{"reply": "Hi", "handoff_to": "none"}])
    assert structured(model, Handoff).invoke("hello") == Handoff(reply="Hi", handoff_to="none")


@pytest.mark.parametrize(
    "prompt",
    [
        "hello",
        [("system", "be brief"), ("user", "hello")],
        [SystemMessage("be brief"), HumanMessage("hello")],
        ChatPromptTemplate.from_messages([("user", "{q}")]).invoke({"q": "hello"}),
    ],
    ids=["text", "tuples", "messages", "prompt-value"],
)
def test_any_chat_input_is_accepted(prompt: object) -> None:
    model = ScriptedModel([_approve()])
    assert structured(model, Vote).invoke(prompt).choice == "approve"  # type: ignore[arg-type]
    assert model.calls[0].messages[-1].content == "hello"


def _approve() -> dict[str, object]:
    return {"choice": "approve", "confidence": 0.8}


def test_a_malformed_reply_is_shown_back_and_asked_again() -> None:
    model = ScriptedModel([AIMessage(content="I approve!"), _approve()])

    vote = structured(model, Vote).invoke("vote")

    assert vote == Vote(choice="approve", confidence=0.8)
    reask = model.calls[1].messages
    assert [m.type for m in reask] == ["system", "human", "ai", "human"]
    assert reask[2].content == "I approve!"
    assert "Invalid JSON" in str(reask[3].content)
    assert '"confidence"' in str(reask[3].content)  # the schema is restated


def test_the_schema_and_its_descriptions_are_stated_in_the_system_message() -> None:
    model = ScriptedModel([_approve(), _approve(), _approve()])

    structured(model, Vote).invoke([("system", "You judge refunds."), ("user", "vote")])
    structured(model, Vote).invoke("vote")
    structured(model, Vote, describe=False).invoke([("system", "You judge refunds.")])

    merged, added, untouched = (call.messages for call in model.calls)
    assert [m.type for m in merged] == ["system", "human"]
    assert str(merged[0].content).startswith("You judge refunds.\n\nReply with only a JSON")
    assert "How sure you are" in str(merged[0].content)
    assert [m.type for m in added] == ["system", "human"]
    assert '"choice"' in str(added[0].content)
    assert untouched[0].content == "You judge refunds."


def test_a_reply_that_breaks_a_constraint_is_asked_again() -> None:
    model = ScriptedModel([AIMessage(content='{"choice": "approve", "confidence": 7}'), _approve()])
    assert structured(model, Vote).invoke("vote").confidence == 0.8
    assert "confidence" in str(model.calls[1].messages[-1].content)


def test_giving_up_raises_malformed_output_with_the_raw_reply() -> None:
    model = ScriptedModel([AIMessage(content=f"no json {i}") for i in range(3)])

    with pytest.raises(MalformedOutput, match=r"no valid Vote in 3 attempt") as caught:
        structured(model, Vote).invoke("vote")

    error = caught.value
    assert (error.raw, error.schema_name, error.attempts) == ("no json 2", "Vote", 3)
    assert isinstance(error, ModelError)
    assert isinstance(error, ValueError)
    model.assert_exhausted()


def test_retries_bound_the_attempts() -> None:
    model = ScriptedModel([AIMessage(content="nope")])
    with pytest.raises(MalformedOutput, match="in 1 attempt"):
        structured(model, Vote, retries=0).invoke("vote")
    with pytest.raises(ValueError, match="retries"):
        structured(model, Vote, retries=-1)


async def test_async_re_asks_too() -> None:
    model = ScriptedModel([AIMessage(content="?"), _approve()])
    assert (await structured(model, Vote).ainvoke("vote")).choice == "approve"


async def test_fallbacks_take_over_after_malformed_output() -> None:
    broken = ScriptedModel([AIMessage(content="?")] * 3)
    backup = ScriptedModel([_approve()])

    chain = structured(broken, Vote).with_fallbacks([structured(backup, Vote)])

    assert (await chain.ainvoke("vote")).choice == "approve"


def test_models_without_structured_output_are_instructed_and_parsed() -> None:
    replies = iter(
        [
            AIMessage(content='Sure:\n```json\n{"choice": "reject", "confidence": 0.3}\n```'),
        ]
    )
    model = GenericFakeChatModel(messages=replies)

    assert structured(model, Vote).invoke("vote") == Vote(choice="reject", confidence=0.3)


def test_openai_compatible_servers_get_a_json_schema_response_format(
    fake_server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = tmp_path / "requests.jsonl"
    monkeypatch.setenv("FAKE_WORKER_REQUESTS", str(requests))
    model = LocalChatModel(server=fake_server, max_retries=0)

    decision = structured(model, Handoff).invoke("hi")

    assert decision == Handoff(reply="ok", handoff_to="none")
    sent = json.loads(requests.read_text().splitlines()[0])
    response_format = sent["response_format"]
    assert response_format["type"] == "json_schema"
    assert response_format["json_schema"]["name"] == "Handoff"
    assert response_format["json_schema"]["schema"]["required"] == ["reply", "handoff_to"]


async def test_openai_compatible_malformed_output_keeps_the_raw_text(
    fake_server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WORKER_JSON", '{"reply": "ok", "handoff_to": "billing"}')
    model = LocalChatModel(server=fake_server, max_retries=0)

    with pytest.raises(MalformedOutput, match="handoff_to") as caught:
        await structured(model, Handoff, retries=1).ainvoke("hi")

    assert caught.value.raw == '{"reply": "ok", "handoff_to": "billing"}'


@pytest.mark.allow_network_models
def test_ollama_gets_the_schema_as_its_format(
    fake_server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = tmp_path / "requests.jsonl"
    monkeypatch.setenv("FAKE_WORKER_REQUESTS", str(requests))
    host = fake_server.start().removesuffix("/v1")
    model = resolve_model("ollama:qwen2.5-coder:0.5b", base_url=host)

    decision = structured(model, Handoff).invoke("hi")

    assert decision == Handoff(reply="ok", handoff_to="none")
    sent = json.loads(requests.read_text().splitlines()[0])
    assert sent["format"]["properties"]["handoff_to"]["enum"] == ["verification", "none"]


async def test_concurrent_failures_keep_their_own_raw_reply() -> None:
    model = ScriptedModel([AIMessage(content=f"bad {i}") for i in range(4)], latency=0.01)
    decide = structured(model, Vote, retries=1)

    async def fail(text: str) -> str:
        with pytest.raises(MalformedOutput) as caught:
            await decide.ainvoke(text)
        return caught.value.raw

    first, second = await asyncio.gather(fail("a"), fail("b"))

    assert {first, second} == {"bad 2", "bad 3"}
    model.assert_exhausted()


async def test_a_reply_cut_at_the_token_limit_is_asked_again() -> None:
    """The SDK raises `LengthFinishReasonError` on `finish_reason: length`: re-asked, no crash."""
    answered = canned(data={"reply": "ok", "handoff_to": "none"})
    seen: list[dict[str, object]] = []

    def first_cut(method: str, path: str, body: bytes) -> Answer:
        answer = answered(method, path, body)
        if method != "POST":
            return answer
        seen.append(json.loads(body))
        if len(seen) > 1:
            return answer
        completion = json.loads(answer.body)
        completion["choices"][0]["finish_reason"] = "length"
        completion["choices"][0]["message"]["content"] = '{"reply": "I would be glad to'
        return answer._replace(body=json.dumps(completion).encode())

    with FaultServer(first_cut) as server:
        model = ChatOpenAI(model="m", base_url=server.url, api_key=SecretStr("x"), max_retries=0)
        decision = await structured(model, Handoff).ainvoke("hi")

    assert decision == Handoff(reply="ok", handoff_to="none")
    shown_back = seen[1]["messages"]
    assert isinstance(shown_back, list)
    texts = " | ".join(str(message["content"]) for message in shown_back)
    assert '{"reply": "I would be glad to' in texts
    assert "cut off at the token limit" in texts
