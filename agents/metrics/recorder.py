"""Step events from any LangGraph graph, observed through a LangChain callback handler.

LangGraph runs each node as a child run tagged `graph:step:<n>`, named after the node, with
the node's name in `metadata["langgraph_node"]` and the config's `thread_id` in
`metadata["thread_id"]`. `MetricsRecorder` turns the start and end of those runs into
`StepEvent`s, so metrics need no change to the graph: pass it in the config's callbacks.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command

from accord.agents.errors import CallRefused
from accord.agents.metrics.reliability import StepEvent, write_events

_STEP_TAG = "graph:step:"
# Interrupts, refused calls (a spent budget) and cancellation (a session's wall-time limit,
# a client gone) stop a step without the agent failing.
_NOT_THE_AGENTS = (GraphBubbleUp, CallRefused, asyncio.CancelledError)


class EventLog:
    """The last `size` step events, in the order they ended; safe to share between threads.

    Old events fall off the front, so memory stays bounded however long the process runs.
    The deque comes with the first event: a session's run keeps a log of its own, and one
    waiting on its model (hundreds at once, on a fleet's worker) has none yet.
    """

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._events: deque[StepEvent] | None = None
        self._lock = threading.Lock()

    def add(self, event: StepEvent) -> None:
        """Keeps one event (dropping the oldest when full)."""
        with self._lock:
            if self._events is None:
                self._events = deque(maxlen=self._size)
            self._events.append(event)

    def snapshot(self) -> list[StepEvent]:
        """A copy of the events kept now, oldest first."""
        with self._lock:
            return list(self._events or ())

    def dump(self, path: str | Path) -> None:
        """Appends the events kept now to a JSONL file (`accord metrics --events` reads it)."""
        write_events(path, self.snapshot())

    def __len__(self) -> int:
        return len(self._events or ())


class MetricsRecorder(BaseCallbackHandler):
    """A callback handler that records one `StepEvent` per graph node run.

    A step fails when its run raises, or when it returns normally with a recorded failure
    of its own (`{"failures": [{"agent": <node>, "error": ...}]}`: accord's parallel steps
    record failures instead of raising, so one failing branch never cancels its siblings).
    Interrupts, refused calls (a spent budget) and cancellations are not the agent's doing:
    such steps are not recorded.

    Example:
        recorder = MetricsRecorder()
        graph.invoke(payload, {"configurable": {"thread_id": "s1"}, "callbacks": [recorder]})
        by_agent(recorder.log.snapshot())

    Args:
        log: Where events go (a new bounded `EventLog` when None).
        agents: Record only these nodes (default: every node but LangGraph's `__start__`).
        clock: Seconds since the epoch; injectable for tests.
    """

    # Called in the graph's own thread or task: no executor hop, so ends are never reordered.
    run_inline = True

    def __init__(
        self,
        log: EventLog | None = None,
        *,
        agents: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.log = log if log is not None else EventLog()
        self.agents = None if agents is None else frozenset(agents)
        self.clock = clock
        self._open: dict[UUID, tuple[str, str | None, float]] = {}

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Opens a step when the run is a graph node's."""
        metadata = metadata or {}
        node = metadata.get("langgraph_node")
        if not isinstance(node, str) or kwargs.get("name") != node:
            return
        if not any(tag.startswith(_STEP_TAG) for tag in tags or ()):
            return
        if self.agents is not None and node not in self.agents:
            return
        if node.startswith("__"):
            return  # LangGraph's own nodes (`__start__`) are plumbing, not agents
        session = metadata.get("thread_id")
        self._open[run_id] = (node, None if session is None else str(session), self.clock())

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        """Closes a step: failed if it returned a failure of its own agent."""
        opened = self._open.pop(run_id, None)
        if opened is not None:
            error = _own_failure(opened[0], outputs)
            self._close(opened, error is None, error)

    def on_chain_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        """Closes a step as failed, unless it was interrupted, refused or cancelled."""
        opened = self._open.pop(run_id, None)
        if opened is not None and not isinstance(error, _NOT_THE_AGENTS):
            self._close(opened, False, type(error).__name__)

    def _close(self, opened: tuple[str, str | None, float], ok: bool, error: str | None) -> None:
        agent, session, start = opened
        self.log.add(StepEvent(agent, session, start, self.clock(), ok, error))


def _own_failure(agent: str, outputs: Any) -> str | None:
    """The error name of a failure `agent` recorded in its own update, if any."""
    update = outputs.update if isinstance(outputs, Command) else outputs
    if not isinstance(update, Mapping):
        return None
    for failure in update.get("failures") or ():
        if isinstance(failure, Mapping) and failure.get("agent") == agent:
            return str(failure.get("error") or "Failure")
    return None
