"""Reliability metrics of agents and sessions, computed from one stream of step events.

A step is one run of one agent (a graph node) in one session: when it started, when it ended
and whether it succeeded. Every figure below is a pure function of a list of steps and a time
window, so it can be checked on synthetic sequences with known answers.

Definitions (for one agent, one session, or everything, over the window `[start, end]`):

- **completion rate** / **error rate**: successful / failed steps over all steps.
- **response time p50/p95/p99**: percentiles of step durations (linear interpolation between
  the closest ranks, as numpy's default).
- **throughput**: steps that ended in the window per second of window.
- **load**: busy seconds over window seconds, i.e. the mean number of steps in flight.
- **utilisation**: load over capacity (`Agent.capacity` for an agent; 1 when not given).
- **uptime**: the share of the window the agent was up. It goes down when a step fails
  while it is up (one *failure*; further failures while down are the same incident) and
  comes back up when a later step succeeds (a *repair*).
- **MTBF**: up seconds over failures (None with no failure: no failure was seen).
- **MTTR**: mean seconds from a failure to the success that repaired it (None when none was
  repaired); an incident still open at the window's end counts as downtime, not as a repair.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accord.agents.errors import BadEventsFile
from accord.persistence import AuditEvent

if TYPE_CHECKING:  # feedback reads sessions through step_audit, which needs this module
    from accord.agents.metrics.feedback import Rating

STEP = "step"
"""The audit kind of a step event."""


@dataclass(frozen=True, slots=True)
class StepEvent:
    """One agent step.

    Attributes:
        agent: The agent (the graph node's name).
        session: The session (the LangGraph `thread_id`), None outside a session.
        start: When it started (seconds since the epoch).
        end: When it ended.
        ok: Whether it succeeded.
        error: The error's type name when it failed.
    """

    agent: str
    session: str | None
    start: float
    end: float
    ok: bool
    error: str | None = None

    @property
    def duration(self) -> float:
        """Seconds from start to end."""
        return self.end - self.start

    def to_audit(self) -> AuditEvent:
        """The audit event of this step (kind `"step"`, at its end; times kept exactly)."""
        return AuditEvent(
            session_id=self.session or "",
            kind=STEP,
            agent=self.agent,
            details={"start": self.start, "end": self.end, "ok": self.ok, "error": self.error},
            at=datetime.fromtimestamp(self.end, UTC),
        )

    def to_json(self) -> str:
        """One line of a JSONL events file."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepEvent:
        """The event `to_json` wrote (extra keys are ignored)."""
        return cls(
            agent=str(data["agent"]),
            session=None if data.get("session") is None else str(data["session"]),
            start=float(data["start"]),
            end=float(data["end"]),
            ok=bool(data["ok"]),
            error=data.get("error"),
        )


@dataclass(frozen=True, slots=True)
class Reliability:
    """The metrics of one group of steps (an agent, a session, or all) over one window.

    Rates are fractions in [0, 1]; times are seconds; None means "not defined here" (no
    steps for percentiles and rates, no failure for MTBF, no repair for MTTR, no rating for
    satisfaction).

    `ratings` and `satisfaction` (the mean score of users' ratings of the answers, 0 to 1)
    come from feedback, not from steps: `with_satisfaction` adds them.
    """

    steps: int
    ok: int
    errors: int
    completion_rate: float | None
    error_rate: float | None
    p50: float | None
    p95: float | None
    p99: float | None
    throughput: float
    load: float
    utilisation: float
    uptime: float
    failures: int
    mtbf: float | None
    mttr: float | None
    window: float
    ratings: int = 0
    satisfaction: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (for JSON)."""
        return asdict(self)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`-th percentile of `values`, interpolating linearly between ranks; None when empty.

    The one percentile of accord (metrics, evaluation scores). `q` is in percent, 0 to 100, as
    in `numpy.percentile`: `percentile(latencies, 95)` is the p95.
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(
    events: Iterable[StepEvent],
    *,
    start: float | None = None,
    end: float | None = None,
    capacity: float = 1.0,
) -> Reliability:
    """The metrics of `events` over `[start, end]` (default: from the first start to the last end).

    Steps that ended outside the window are left out.
    """
    steps = sorted(events, key=lambda e: e.end)
    if start is None:
        start = min((e.start for e in steps), default=0.0)
    if end is None:
        end = max((e.end for e in steps), default=start)
    steps = [e for e in steps if start <= e.end <= end]
    window = max(end - start, 0.0)
    count = len(steps)
    ok = sum(e.ok for e in steps)
    durations = [e.duration for e in steps]
    busy = sum(min(e.end, end) - max(e.start, start) for e in steps)
    load = busy / window if window else 0.0
    downtime, failures, repairs = _outages(steps, end)
    up = window - downtime
    return Reliability(
        steps=count,
        ok=ok,
        errors=count - ok,
        completion_rate=ok / count if count else None,
        error_rate=(count - ok) / count if count else None,
        p50=percentile(durations, 50),
        p95=percentile(durations, 95),
        p99=percentile(durations, 99),
        throughput=count / window if window else 0.0,
        load=load,
        utilisation=load / capacity,
        uptime=up / window if window else 1.0,
        failures=failures,
        mtbf=up / failures if failures else None,
        mttr=sum(repairs) / len(repairs) if repairs else None,
        window=window,
    )


def _outages(steps: Sequence[StepEvent], end: float) -> tuple[float, int, list[float]]:
    """Downtime, failure count and repair times of steps sorted by end time."""
    down_since: float | None = None
    downtime, failures, repairs = 0.0, 0, []
    for step in steps:
        if not step.ok and down_since is None:
            down_since, failures = step.end, failures + 1
        elif step.ok and down_since is not None:
            repairs.append(step.end - down_since)
            downtime += step.end - down_since
            down_since = None
    if down_since is not None:
        downtime += end - down_since
    return downtime, failures, repairs


def by_agent(
    events: Iterable[StepEvent],
    *,
    capacities: Mapping[str, float] | None = None,
    start: float | None = None,
    end: float | None = None,
    ratings: Iterable[Rating] = (),
) -> dict[str, Reliability]:
    """`summarise` per agent, all over the same window (that of all `events` by default).

    With `ratings` (users' feedback, `Rating.load`), each agent's figures carry the ratings of
    its answers and their mean score as `satisfaction`.
    """
    figures = _grouped(events, lambda e: e.agent, capacities or {}, start, end)
    return _rated(figures, {}, [(r.agent, r.score) for r in ratings])


def by_session(
    events: Iterable[StepEvent],
    *,
    start: float | None = None,
    end: float | None = None,
    ratings: Iterable[Rating] = (),
) -> dict[str, Reliability]:
    """`summarise` per session (steps outside a session are left out), each over its own span.

    A session's window runs from its first step's start to its last step's end unless `start`
    or `end` is given: sessions live at different times, so a shared window would dilute them.
    With `ratings`, each session's figures carry its satisfaction, as in `by_agent`.
    """
    groups: dict[str, list[StepEvent]] = defaultdict(list)
    for event in events:
        if event.session is not None:
            groups[event.session].append(event)
    figures = {key: summarise(group, start=start, end=end) for key, group in groups.items()}
    return _rated(figures, {}, [(r.session, r.score) for r in ratings])


def _rated(
    figures: dict[str, Reliability], scores: dict[str, list[float]], given: list[tuple[str, float]]
) -> dict[str, Reliability]:
    """`figures` with each group's ratings and mean score; a rated group with no steps too."""
    for key, score in given:
        scores.setdefault(key, []).append(score)
    for key, values in scores.items():
        base = figures.get(key) or summarise([])
        figures[key] = replace(base, ratings=len(values), satisfaction=sum(values) / len(values))
    return dict(sorted(figures.items()))


def _grouped(
    events: Iterable[StepEvent],
    key: Callable[[StepEvent], str],
    capacities: Mapping[str, float],
    start: float | None,
    end: float | None,
) -> dict[str, Reliability]:
    steps = list(events)
    if start is None:
        start = min((e.start for e in steps), default=0.0)
    if end is None:
        end = max((e.end for e in steps), default=start)
    groups: dict[str, list[StepEvent]] = defaultdict(list)
    for event in steps:
        groups[key(event)].append(event)
    return {
        name: summarise(group, start=start, end=end, capacity=capacities.get(name, 1.0))
        for name, group in sorted(groups.items())
    }


def write_events(path: str | Path, events: Iterable[StepEvent]) -> None:
    """Appends `events` to a JSONL file, one per line."""
    with Path(path).open("a", encoding="utf-8") as out:
        out.writelines(event.to_json() + "\n" for event in events)


def read_events(path: str | Path) -> list[StepEvent]:
    """The events of a JSONL file that `write_events` (or `EventLog.dump`) wrote.

    Raises:
        BadEventsFile: The file is missing, or a line is not a step event.
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadEventsFile(f"cannot read events from {path}: {exc.strerror}") from exc
    events = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            events.append(StepEvent.from_dict(json.loads(line)))
        except (ValueError, KeyError, TypeError) as exc:
            raise BadEventsFile(
                f"{path}:{number} is not a step event ({exc!r}); each line must be a JSON "
                'object with "agent", "session", "start", "end" and "ok"'
            ) from exc
    return events
