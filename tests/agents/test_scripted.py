"""`ScriptedModel`: replies in order, loud failures off-script, structured output, streaming."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Literal

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel

from accord.agents.errors import ModelError, UnexpectedModelCall
from accord.agents.testing.scripted import Reply, ScriptedModel, Turn


class Vote(BaseModel):
    choice: Literal["approve", "reject"]
    confidence: float


@tool
def lookup(order_id: str) -> str:
    """Looks an order up."""
    return f"order {order_id}: shipped"


def test_replies_come_in_order_and_calls_are_recorded() -> None:
    model = ScriptedModel(["first", AIMessage(content="second")])

    assert model.invoke("a").content == "first"
    assert model.invoke([HumanMessage("b")]).content == "second"
    assert [call.messages[-1].content for call in model.calls] == ["a", "b"]
    assert [call.index for call in model.calls] == [0, 1]
    model.assert_exhausted()


def test_a_call_past_the_script_fails_loudly() -> None:
    model = ScriptedModel(["only"], model_name="intake")
    model.invoke("a")

    with pytest.raises(UnexpectedModelCall, match=r"'intake' got call 2.*only 1 turn.*'again'"):
        model.invoke("again")
    with pytest.raises(AssertionError):
        model.invoke("and again")
    assert len(model.calls) == 3


def test_unused_turns_fail_assert_exhausted() -> None:
    model = ScriptedModel(["a", "b"])
    model.invoke("x")
    with pytest.raises(UnexpectedModelCall, match="1 unused turn"):
        model.assert_exhausted()
    assert model.remaining == 1


def test_expectations_check_the_last_message() -> None:
    model = ScriptedModel([Turn("ok", expect="refund"), Turn("ok", expect=lambda m: len(m) == 2)])

    model.invoke("I want a refund")
    with pytest.raises(UnexpectedModelCall, match="failed the check <lambda>"):
        model.invoke("one message only")


def test_a_failed_substring_expectation_shows_what_came() -> None:
    model = ScriptedModel([Turn("ok", expect="refund")])
    with pytest.raises(UnexpectedModelCall, match=r"contain 'refund'.*'hello'"):
        model.invoke("hello")


def test_scripted_exceptions_are_raised() -> None:
    model = ScriptedModel([TimeoutError("endpoint timed out"), "recovered"])

    with pytest.raises(TimeoutError, match="endpoint timed out"):
        model.invoke("a")
    assert model.invoke("b").content == "recovered"


def test_usage_is_estimated_from_text() -> None:
    model = ScriptedModel(["x" * 40])
    usage = model.invoke("y" * 80).usage_metadata

    assert usage == {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30}


def test_a_scripted_message_keeps_its_own_usage_and_is_not_mutated() -> None:
    reply = AIMessage(
        content="hi", usage_metadata={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
    )
    model = ScriptedModel([reply])

    answer = model.invoke("a")

    assert answer.usage_metadata == reply.usage_metadata
    assert reply.id is None


@pytest.mark.parametrize(
    "reply",
    [
        {"choice": "approve", "confidence": 0.9},
        Vote(choice="approve", confidence=0.9),
        '{"choice": "approve", "confidence": 0.9}',
    ],
    ids=["dict", "pydantic", "json"],
)
def test_structured_replies_parse_into_the_schema(reply: Reply) -> None:
    model = ScriptedModel([reply])
    assert model.with_structured_output(Vote).invoke("vote") == Vote(
        choice="approve", confidence=0.9
    )
    assert model.calls[0].schema is Vote


def test_structured_output_with_raw_and_dict_schemas() -> None:
    model = ScriptedModel([{"choice": "reject", "confidence": 0.2}] * 2)

    raw = model.with_structured_output(Vote, include_raw=True).invoke("vote")
    as_dict = model.with_structured_output(Vote.model_json_schema()).invoke("vote")

    assert isinstance(raw, dict)
    assert raw["parsed"] == Vote(choice="reject", confidence=0.2)
    assert raw["parsing_error"] is None
    assert isinstance(raw["raw"], AIMessage)
    assert as_dict == {"choice": "reject", "confidence": 0.2}


def test_a_structured_reply_that_does_not_fit_the_schema_is_a_script_error() -> None:
    model = ScriptedModel([{"choice": "maybe", "confidence": 0.5}])
    with pytest.raises(UnexpectedModelCall, match="does not match the requested Vote"):
        model.with_structured_output(Vote).invoke("vote")


def test_a_dict_schema_checks_required_keys() -> None:
    model = ScriptedModel([{"choice": "approve"}])
    with pytest.raises(UnexpectedModelCall, match=r"required keys \['confidence'\]"):
        model.with_structured_output(Vote.model_json_schema()).invoke("vote")


def test_non_json_text_for_a_structured_call_is_a_script_error() -> None:
    model = ScriptedModel(["approve!"])
    with pytest.raises(UnexpectedModelCall, match="not JSON"):
        model.with_structured_output(Vote).invoke("vote")


def test_malformed_output_is_scripted_with_an_ai_message() -> None:
    model = ScriptedModel([AIMessage(content="sure! approve")])
    result = model.with_structured_output(Vote, include_raw=True).invoke("vote")

    assert isinstance(result, dict)
    assert result["parsed"] is None
    assert result["parsing_error"] is not None


def test_structured_data_in_a_plain_call_becomes_json_text() -> None:
    model = ScriptedModel([{"a": 1}])
    assert model.invoke("x").content == '{"a": 1}'


def test_tools_bind_and_scripted_tool_calls_come_back() -> None:
    call = {"name": "lookup", "args": {"order_id": "42"}, "id": "call-1"}
    model = ScriptedModel([AIMessage(content="", tool_calls=[call]), "It shipped."])
    bound = model.bind_tools([lookup])

    first = bound.invoke("where is order 42?")
    assert isinstance(first, AIMessage)
    assert first.tool_calls[0]["args"] == {"order_id": "42"}
    assert first.response_metadata["finish_reason"] == "tool_calls"
    result = lookup.invoke(first.tool_calls[0])
    assert isinstance(result, ToolMessage)
    second = bound.invoke(["where is order 42?", first, result])

    assert second.content == "It shipped."
    assert model.calls[0].tools == ("lookup",)


def test_stream_yields_word_chunks_with_usage_on_the_last() -> None:
    model = ScriptedModel(["one two three"])
    chunks = list(model.stream("count"))

    assert [c.content for c in chunks] == ["one ", "two ", "three"]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert total.content == "one two three"
    assert total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] == 4


async def test_astream_streams_tool_calls() -> None:
    call = {"name": "lookup", "args": {"order_id": "7"}, "id": "c7"}
    model = ScriptedModel([AIMessage(content="", tool_calls=[call])])

    chunks = [chunk async for chunk in model.astream("x")]

    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert total.tool_calls[0]["args"] == {"order_id": "7"}


async def test_async_latency_overlaps_across_tasks() -> None:
    model = ScriptedModel([f"r{i}" for i in range(20)], latency=0.1)

    began = time.perf_counter()
    answers = await asyncio.gather(*(model.ainvoke(f"q{i}") for i in range(20)))
    elapsed = time.perf_counter() - began

    assert sorted(a.content for a in answers) == sorted(f"r{i}" for i in range(20))
    assert 0.1 <= elapsed < 1.0
    model.assert_exhausted()


def test_sync_latency_blocks() -> None:
    model = ScriptedModel(["a"], latency=0.05)
    began = time.perf_counter()
    model.invoke("x")
    assert time.perf_counter() - began >= 0.05


def test_threads_each_take_a_distinct_turn() -> None:
    model = ScriptedModel([str(i) for i in range(50)])
    seen: list[str] = []
    lock = threading.Lock()

    def call() -> None:
        content = str(model.invoke("x").content)
        with lock:
            seen.append(content)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(seen, key=int) == [str(i) for i in range(50)]


def test_errors_are_model_errors() -> None:
    assert issubclass(UnexpectedModelCall, ModelError)
    assert issubclass(UnexpectedModelCall, AssertionError)
