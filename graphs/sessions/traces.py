"""OpenTelemetry spans of a session: each turn, each agent step, each model call.

A turn (`accord.session.turn`) is the current span while its run works, so the checkpoint
writes it makes (`accord.checkpoint.write`) nest under it. `Traces`, a LangChain callback
handler that each run adds to its config, opens a span per graph step (`accord.step NODE`)
under the turn and per model call (`chat MODEL`, OpenTelemetry's GenAI conventions:
`gen_ai.request.model`, `gen_ai.usage.input_tokens`/`output_tokens`; the span's duration is
the call's latency) under its step. Every span carries `accord.session.id`.

Only the OpenTelemetry API is used here; an SDK configured by the application (or by `accord`
from the standard `OTEL_*` variables) decides where spans go. Without one, a run makes no
spans and adds no `Traces` handler (`tracing()` is False): a callback handler costs every
runnable of every step its dispatch.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import Any, TypeVar
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult
from langgraph.errors import GraphBubbleUp
from opentelemetry import context, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from accord.graphs.sessions.cost import reported_tokens
from accord.persistence import tracing

__all__ = ["SESSION", "Traces", "traced_turn", "tracing"]

SESSION = "accord.session.id"
T = TypeVar("T")
_tracer = trace.get_tracer("accord.graphs")


async def traced_turn(
    events: AsyncGenerator[T, None], session_id: str, user: str, kind: str
) -> AsyncGenerator[T, None]:
    """`events`, one turn of a session, under the turn's span (a message, an answer...).

    The span is made current only while the next event is awaited, not across the `yield`:
    a sync caller pulls each event in a task of its own, and a context attached in one task
    cannot be detached in another.
    """
    attributes = {SESSION: session_id, "accord.user": user, "accord.turn": kind}
    span = _tracer.start_span("accord.session.turn", attributes=attributes)
    current = trace.set_span_in_context(span)
    try:
        async with aclosing(events):
            while True:
                token = context.attach(current)
                try:
                    event = await anext(events)
                except StopAsyncIteration:
                    return
                finally:
                    context.detach(token)
                yield event
    except Exception as error:
        span.record_exception(error)
        span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        raise
    finally:
        span.end()


class Traces(BaseCallbackHandler):
    """Spans for one run's graph steps and model calls, under the span current when it was made
    (the turn's)."""

    run_inline = True

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._root = trace.set_span_in_context(trace.get_current_span())
        self._spans: dict[UUID, Span] = {}
        self._parents: dict[UUID, UUID | None] = {}
        self._lock = threading.Lock()

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        node = (metadata or {}).get("langgraph_node")
        # A step is the node's own run (not the runnables inside it), at any graph depth;
        # LangGraph's own `__start__` is none.
        if node is None or kwargs.get("name") != node or node.startswith("__"):
            self._note(run_id, parent_run_id)
            return
        attributes = {SESSION: self.session_id, "accord.agent": node}
        step = (metadata or {}).get("langgraph_step")
        if isinstance(step, int):
            attributes["langgraph.step"] = step
        self._open(run_id, parent_run_id, f"accord.step {node}", attributes, SpanKind.INTERNAL)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        found: Mapping[str, Any] = metadata or {}
        model = str(found.get("ls_model_name") or "unknown")
        attributes = {
            SESSION: self.session_id,
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": str(found.get("ls_provider") or "unknown"),
            "gen_ai.request.model": model,
        }
        self._open(run_id, parent_run_id, f"chat {model}", attributes, SpanKind.CLIENT)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        tokens_in, tokens_out = reported_tokens(response)
        with self._lock:
            span = self._spans.get(run_id)
        if span is not None:
            span.set_attribute("gen_ai.usage.input_tokens", tokens_in)
            span.set_attribute("gen_ai.usage.output_tokens", tokens_out)
        self._close(run_id, None)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._close(run_id, error)

    def _note(self, run_id: UUID, parent_run_id: UUID | None) -> None:
        with self._lock:
            self._parents[run_id] = parent_run_id

    def _open(
        self,
        run_id: UUID,
        parent_run_id: UUID | None,
        name: str,
        attributes: dict[str, Any],
        kind: SpanKind,
    ) -> None:
        with self._lock:
            self._parents[run_id] = parent_run_id
            # The nearest traced ancestor: the runnables between a step and its model call
            # (chains, parsers, fallbacks) have no span of their own.
            ancestor, parent = parent_run_id, None
            while ancestor is not None and parent is None:
                parent = self._spans.get(ancestor)
                ancestor = self._parents.get(ancestor)
        context = trace.set_span_in_context(parent) if parent is not None else self._root
        span = _tracer.start_span(name, context=context, kind=kind, attributes=attributes)
        with self._lock:
            self._spans[run_id] = span

    def _close(self, run_id: UUID, error: BaseException | None) -> None:
        with self._lock:
            span = self._spans.pop(run_id, None)
        if span is None:
            return
        # An interrupt or a parent-graph command is control flow, not a failed step.
        if error is not None and not isinstance(error, GraphBubbleUp):
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()
