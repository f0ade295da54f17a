"""OpenTelemetry spans around traced operations (checkpoint writes), under the caller's span.

Only the OpenTelemetry API is used: without an SDK configured the spans cost next to nothing
and go nowhere; with one (`OTEL_*` variables, or the application's own provider) they nest
under the session turn that made the write.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from opentelemetry import trace

_tracer = trace.get_tracer("accord.persistence")


def traced(span: tuple[str, Mapping[str, Any]] | None) -> AbstractContextManager[Any]:
    """A current span named and attributed by `span`, or nothing when it is None."""
    if span is None:
        return nullcontext()
    name, attributes = span
    return _tracer.start_as_current_span(name, attributes=dict(attributes))
