"""The reliability metrics of an `EventLog`, exported to OpenTelemetry and Prometheus.

Both exports read the log when they are collected (observable instruments, a custom
Prometheus collector), so nothing is counted twice and the figures always agree with
`by_agent`/`by_session` on the same events. The window ends at collection time, so an agent
that is down keeps losing uptime while nothing happens.

OpenTelemetry names (`agent` or `session` attribute): `accord.<scope>.steps` (counter, with
`outcome` ok/error), `accord.<scope>.response_time` (seconds, with `quantile` 0.5/0.95/0.99),
`.throughput`, `.utilisation`, `.uptime`, `.completion_rate`, `.error_rate`, `.mtbf`, `.mttr`.
Prometheus uses the same names with underscores (`accord_agent_uptime`,
`accord_agent_steps_total`, ...). prometheus-client is needed only for the Prometheus part
(`pip install 'accord[server]'`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

from accord.agents.metrics.recorder import EventLog
from accord.agents.metrics.reliability import Reliability, by_agent, by_session

SCOPES = ("agent", "session")
QUANTILES = {"0.5": "p50", "0.95": "p95", "0.99": "p99"}
GAUGES = {
    "throughput": ("{step}/s", "Steps ended per second over the window."),
    "utilisation": ("1", "Mean steps in flight over capacity."),
    "uptime": ("1", "Share of the window the agent was up (not in an unrepaired failure)."),
    "completion_rate": ("1", "Successful steps over all steps."),
    "error_rate": ("1", "Failed steps over all steps."),
    "mtbf": ("s", "Mean time between failures: up seconds over failures."),
    "mttr": ("s", "Mean time to repair: seconds from a failure to the next success."),
}
"""The gauge fields of `Reliability`: unit and description."""


class Reliabilities:
    """The metrics of a log per agent and per session, for a window ending now.

    Args:
        log: The events.
        capacities: Each agent's capacity (`Agent.capacity`), for utilisation; 1 if absent.
        window: Seconds back from now to look at (None: from the oldest event kept).
        clock: Seconds since the epoch.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        capacities: Mapping[str, float] | None = None,
        window: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log
        self.capacities = dict(capacities or {})
        self.window = window
        self.clock = clock

    def compute(self) -> dict[str, dict[str, Reliability]]:
        """`{"agent": {name: Reliability}, "session": {id: Reliability}}` as of now."""
        events = self.log.snapshot()
        end = max(self.clock(), max((e.end for e in events), default=0.0))
        start = None if self.window is None else end - self.window
        return {
            "agent": by_agent(events, capacities=self.capacities, start=start, end=end),
            "session": by_session(events, start=start, end=end),
        }


def instrument(source: Reliabilities, meter: Meter | None = None) -> None:
    """Registers observable OpenTelemetry instruments that read `source` on each collection.

    Args:
        source: The log and settings to report.
        meter: Where to register (default: the global meter provider's `accord` meter).
    """
    meter = meter or metrics.get_meter("accord")
    for scope in SCOPES:
        meter.create_observable_counter(
            f"accord.{scope}.steps",
            callbacks=[_observe(source, scope, _steps)],
            unit="{step}",
            description=f"Steps per {scope}, by outcome.",
        )
        meter.create_observable_gauge(
            f"accord.{scope}.response_time",
            callbacks=[_observe(source, scope, _quantiles)],
            unit="s",
            description="Step duration percentiles.",
        )
        for field, (unit, description) in GAUGES.items():
            meter.create_observable_gauge(
                f"accord.{scope}.{field}",
                callbacks=[_observe(source, scope, _field(field))],
                unit=unit,
                description=description,
            )


Values = Callable[[Reliability], Iterator[tuple[float, dict[str, str]]]]


def _steps(figures: Reliability) -> Iterator[tuple[float, dict[str, str]]]:
    yield figures.ok, {"outcome": "ok"}
    yield figures.errors, {"outcome": "error"}


def _quantiles(figures: Reliability) -> Iterator[tuple[float, dict[str, str]]]:
    for quantile, field in QUANTILES.items():
        value = getattr(figures, field)
        if value is not None:
            yield value, {"quantile": quantile}


def _field(field: str) -> Values:
    def values(figures: Reliability) -> Iterator[tuple[float, dict[str, str]]]:
        value = getattr(figures, field)
        if value is not None:  # undefined (no failure, no repair) is left out, not zero
            yield value, {}

    return values


def _observe(
    source: Reliabilities, scope: str, values: Values
) -> Callable[[CallbackOptions], Iterable[Observation]]:
    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return [
            Observation(value, {scope: key, **labels})
            for key, figures in source.compute()[scope].items()
            for value, labels in values(figures)
        ]

    return callback


class ReliabilityCollector:
    """A prometheus-client collector of the same figures (`registry.register(collector)`)."""

    def __init__(self, source: Reliabilities) -> None:
        self.source = source

    def describe(self) -> list[Any]:
        """Nothing up front: the families depend on the events (avoids a collect on register)."""
        return []

    def collect(self) -> Iterator[Any]:
        """The metric families as of now."""
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        computed = self.source.compute()
        for scope in SCOPES:
            groups = computed[scope]
            steps = CounterMetricFamily(
                f"accord_{scope}_steps",
                f"Steps per {scope}, by outcome.",
                labels=[scope, "outcome"],
            )
            latency = GaugeMetricFamily(
                f"accord_{scope}_response_time_seconds",
                "Step duration percentiles.",
                labels=[scope, "quantile"],
            )
            for key, figures in groups.items():
                for value, labels in _steps(figures):
                    steps.add_metric([key, labels["outcome"]], value)
                for value, labels in _quantiles(figures):
                    latency.add_metric([key, labels["quantile"]], value)
            yield steps
            yield latency
            for field, (unit, description) in GAUGES.items():
                suffix = "_seconds" if unit == "s" else ""
                gauge = GaugeMetricFamily(
                    f"accord_{scope}_{field}{suffix}", description, labels=[scope]
                )
                for key, figures in groups.items():
                    for value, _ in _field(field)(figures):
                        gauge.add_metric([key], value)
                yield gauge


def prometheus_text(source: Reliabilities) -> str:
    """The figures in the Prometheus text exposition format (what `/metrics` serves)."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    registry.register(ReliabilityCollector(source))
    return generate_latest(registry).decode()
