"""Where the `accord` command sends its traces: the standard OpenTelemetry variables decide.

`OTEL_TRACES_EXPORTER=console` prints each span as JSON to stderr; `otlp` sends them to
`OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) over HTTP, with
`pip install opentelemetry-exporter-otlp-proto-http`; unset or `none` sends none.
`OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` name the service. Nothing is imported
unless a trace exporter is asked for, so the command starts as fast without it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from accord.app.errors import INSTALL_SERVER, TracesNotInstalled, UnknownTraceExporter

EXPORTERS = ("console", "otlp", "none")


def traces_from_env() -> bool:
    """Sets the process's tracer provider from `OTEL_TRACES_EXPORTER`; whether it did.

    Raises:
        UnknownTraceExporter: The variable names an exporter other than console, otlp, none.
        TracesNotInstalled: The OpenTelemetry SDK, or the OTLP exporter, is missing.
    """
    names = [n.strip().lower() for n in os.environ.get("OTEL_TRACES_EXPORTER", "").split(",")]
    names = [n for n in names if n and n != "none"]
    unknown = sorted(set(names) - set(EXPORTERS))
    if unknown:
        raise UnknownTraceExporter(
            f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}; accord exports traces to "
            f"{', '.join(EXPORTERS)}"
        )
    if not names:
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise TracesNotInstalled(
            f"exporting traces needs the OpenTelemetry SDK: {INSTALL_SERVER}"
        ) from None
    # Resource.create() reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
    provider = TracerProvider(resource=Resource.create())
    for name in names:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    return True


def _exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)  # stdout is the command's own output
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter,
        )
    except ImportError:
        raise TracesNotInstalled(
            "OTEL_TRACES_EXPORTER=otlp needs the OTLP exporter: "
            "pip install opentelemetry-exporter-otlp-proto-http"
        ) from None
    return OTLPSpanExporter()  # its endpoint and headers come from OTEL_EXPORTER_OTLP_*
