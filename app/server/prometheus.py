"""The server's Prometheus metrics: reliability per agent and session, requests, streams.

Each app keeps its own registry (so several apps in one process do not collide); `/metrics`
serves it after prometheus_client's default registry (process and platform metrics, and
whatever else the process registered there). The reliability figures (`accord_agent_*`,
`accord_session_*`: steps, response time, uptime, MTBF, MTTR, ...) come from
`accord.agents`' `ReliabilityCollector` over the sessions' `MetricsRecorder`.
"""

from __future__ import annotations

import time

from accord.agents import Reliabilities, ReliabilityCollector
from accord.app.errors import server_extra

with server_extra():
    from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
    from prometheus_client.exposition import generate_latest
    from starlette.routing import BaseRoute
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SESSION_FAMILY = b"accord_session_"
"""The prefix of the reliability families labelled by session id."""


class Metrics:
    """The counters one server keeps.

    Args:
        reliability: The reliability figures to serve too (None: none).
    """

    def __init__(self, reliability: Reliabilities | None = None) -> None:
        self.registry = CollectorRegistry()
        if reliability is not None:
            self.registry.register(ReliabilityCollector(reliability))
        self.requests = Counter(
            "accord_http_requests",
            "HTTP requests answered, by route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "accord_http_request_seconds",
            "Seconds from request to the end of the response (a stream's whole run).",
            ["method", "route"],
            registry=self.registry,
        )
        self.runs = Counter(
            "accord_stream_runs",
            "Session runs streamed, by how they ended (done or error).",
            ["outcome"],
            registry=self.registry,
        )
        self.events = Counter(
            "accord_stream_events",
            "Events sent to clients over SSE, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "accord_stream_runs_in_progress",
            "Session runs going on now (a client that left does not stop its run).",
            registry=self.registry,
        )

    def exposition(self, *, sessions: bool = True) -> bytes:
        """The Prometheus text format of the default registry and this server's own.

        Without `sessions`, the per-session families (`accord_session_*`, labelled with
        session ids) are left out: the aggregates only.
        """
        text = generate_latest(REGISTRY) + generate_latest(self.registry)
        if sessions:
            return text
        lines = text.splitlines(keepends=True)
        return b"".join(line for line in lines if SESSION_FAMILY not in line)


class Measure:
    """ASGI middleware counting each HTTP request by route template (not raw path) and status."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sent)
        finally:
            route = scope.get("route")
            name = route.path if isinstance(route, BaseRoute) and hasattr(route, "path") else "-"
            method = scope["method"]
            self.metrics.requests.labels(method, name, str(status)).inc()
            self.metrics.latency.labels(method, name).observe(time.perf_counter() - started)
