"""Traces: a session turn's span holds its agent steps, their model calls (GenAI conventions)
and the turn's checkpoint writes, all carrying the session id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from support import scripted

from accord.graphs import Sessions, handoff
from accord.graphs.sessions.traces import tracing

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The spans the test makes, from the process's SDK tracer provider (set up once)."""
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    if not getattr(provider, "_accord_test_exporter", False):
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        provider._accord_test_exporter = True  # type: ignore[attr-defined]
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def _team() -> Any:
    intake = scripted("intake", {"reply": "Welcome Dana.", "handoff_to": "support"})
    support = scripted("support", {"reply": "How can I help?", "handoff_to": "none"})
    return handoff([intake, support])


def _children(span: ReadableSpan, every: list[ReadableSpan]) -> list[ReadableSpan]:
    return [s for s in every if s.parent is not None and s.parent.span_id == span.context.span_id]


async def test_a_turn_span_holds_its_steps_model_calls_and_checkpoint_writes(
    db: str, spans: InMemorySpanExporter
) -> None:
    async with Sessions(_team(), db=db) as sessions:
        session = await sessions.aopen("alice")
        spans.clear()  # opening the session is no turn
        await session.asend("Hi, I'm Dana")
    every = list(spans.get_finished_spans())

    (root,) = [s for s in every if s.name == "accord.session.turn"]
    assert root.parent is None
    assert root.attributes is not None
    assert dict(root.attributes) == {
        "accord.session.id": session.id,
        "accord.user": "alice",
        "accord.turn": "message",
    }
    under = _children(root, every)
    steps = [s for s in under if s.name.startswith("accord.step ")]
    assert [s.name for s in sorted(steps, key=lambda s: s.start_time or 0)] == [
        "accord.step intake",
        "accord.step support",
    ]
    writes = [s for s in under if s.name == "accord.checkpoint.write"]
    assert len(writes) >= 3  # the input, then each step (durability "sync")
    for step in steps:
        (call,) = _children(step, every)
        attributes = dict(call.attributes or {})
        assert call.name == "chat scripted"
        assert call.kind == trace.SpanKind.CLIENT
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.request.model"] == "scripted"
        assert attributes["gen_ai.provider.name"] == "scriptedmodel"
        assert int(attributes["gen_ai.usage.input_tokens"]) > 0  # type: ignore[arg-type]
        assert int(attributes["gen_ai.usage.output_tokens"]) > 0  # type: ignore[arg-type]
        assert (call.end_time or 0) >= (call.start_time or 0)  # the duration is the latency
    # Every span of the turn says whose session it was, and belongs to the one trace.
    assert {dict(s.attributes or {}).get("accord.session.id") for s in every} == {session.id}
    assert {s.context.trace_id for s in every} == {root.context.trace_id}


async def test_a_failed_turn_is_an_error_span(db: str, spans: InMemorySpanExporter) -> None:
    broken = scripted("desk", RuntimeError("model down"))
    async with Sessions(handoff([broken]), db=db) as sessions:
        session = await sessions.aopen("alice")
        with pytest.raises(RuntimeError):
            await session.asend("Hi")
    every = list(spans.get_finished_spans())
    (root,) = [s for s in every if s.name == "accord.session.turn"]
    assert root.status.status_code == trace.StatusCode.ERROR
    (call,) = [s for s in every if s.name.startswith("chat ")]
    assert call.status.status_code == trace.StatusCode.ERROR


def test_without_an_sdk_runs_make_no_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    # The API's default provider is a no-op proxy: no Traces handler, turn or checkpoint spans.
    monkeypatch.setattr(trace, "get_tracer_provider", trace.ProxyTracerProvider)
    assert not tracing()
    monkeypatch.setattr(trace, "get_tracer_provider", trace.NoOpTracerProvider)
    assert not tracing()
    monkeypatch.setattr(trace, "get_tracer_provider", TracerProvider)
    assert tracing()
