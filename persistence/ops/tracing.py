"""OpenTelemetry spans around traced operations (checkpoint writes), under the caller's span.

Only the OpenTelemetry API is used: without an SDK configured no span is made at all (even a
no-op span costs a turn's hot path its context switches); with one (`OTEL_*` variables, or the
application's own provider) they nest under the session turn that made the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import trace

_tracer = trace.get_tracer("accord.persistence")


def tracing() -> bool:
    """Whether spans go anywhere: an SDK tracer provider is set (checked per call, as an
    application may set one at any time; the API's default is a no-op proxy)."""
    return not isinstance(
        trace.get_tracer_provider(), (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
    )


def traced(span: tuple[str, Mapping[str, Any]] | None) -> AbstractContextManager[Any]:
    """A current span named and attributed by `span`, or nothing when it is None or no SDK
    is set up."""
    if span is None or not tracing():
        return nullcontext()
    name, attributes = span
    return _tracer.start_as_current_span(name, attributes=dict(attributes))
