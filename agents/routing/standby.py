"""What the hot-standby decision needs: each agent's in-flight work and its endpoints' health.

An agent hands a session to its `backup` when it is over capacity (its in-flight steps across
every session of the process reach `Agent.capacity`) or when all its models are unhealthy. The
backup takes it only if it is neither: a standby that is itself down or full helps nobody, and
two agents that back each other up must not pass a session back and forth.

Agents are known here by name, as graph nodes are: two graphs in one process that use the same
agent name share its load figure. The count is a `LoadCounter` of its own rather than the
router's `process_load()`, which the routed pattern already counts its agents' steps in: sharing
it would count those steps twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from contextlib import AbstractContextManager

from langchain_core.language_models import BaseChatModel

from accord.agents.agent import Agent
from accord.agents.models.breaker import Breakers, BreakerState, endpoint_key
from accord.agents.models.breaker import breakers as _process_breakers
from accord.agents.models.chain import unhealthy
from accord.agents.routing.load import LoadCounter

FAILOVER = "failover"
"""The `reason` of a handoff to a backup because the agent's models are down."""

OVERLOAD = "failover: over capacity"
"""The `reason` of a handoff to a backup because the agent was over capacity."""


class Standby:
    """The load and endpoint register that standby decisions read (`standby()`: the process's).

    Args:
        breakers: Where endpoint health is kept (default: the process's, `breakers()`).
        load: Where in-flight steps are counted.
    """

    def __init__(self, breakers: Breakers | None = None, load: LoadCounter | None = None) -> None:
        self.breakers = breakers if breakers is not None else _process_breakers()
        self.counter = load if load is not None else LoadCounter()
        self._endpoints: dict[str, tuple[str | None, ...]] = {}
        self._capacity: dict[str, int] = {}
        self._lock = threading.Lock()

    def running(self, agent: str) -> AbstractContextManager[None]:
        """Counts a step of `agent` as in flight while the block runs."""
        return self.counter.running(agent)

    def load(self, agent: str) -> int:
        """Steps of `agent` in flight now, across every session of the process."""
        return self.counter.in_flight(agent)

    def register(self, agent: Agent, models: Iterable[BaseChatModel]) -> None:
        """Records the endpoints behind `agent`'s resolved models, and its capacity."""
        endpoints = tuple(endpoint_key(model) for model in models)
        with self._lock:
            self._endpoints[agent.name] = endpoints
            self._capacity[agent.name] = agent.capacity

    def full(self, agent: Agent) -> bool:
        """Whether `agent` has as many steps in flight as its capacity."""
        return self.load(agent.name) >= agent.capacity

    def down(self, agent: str) -> bool:
        """Whether every model of `agent` is behind an open breaker (unknown agents are up)."""
        endpoints = self._endpoints.get(agent)
        if not endpoints or None in endpoints:
            return False
        states = self.breakers.states()
        return all(states.get(e) is BreakerState.OPEN for e in endpoints if e is not None)

    def can_take(self, agent: str) -> bool:
        """Whether `agent` may take over a session: it is up and has room."""
        capacity = self._capacity.get(agent)
        full = capacity is not None and self.load(agent) >= capacity
        return not full and not self.down(agent)

    def handover(self, agent: Agent, error: BaseException | None = None) -> str | None:
        """Why a step of `agent` goes to its backup now, or None when it stays.

        Args:
            agent: The agent whose step it is.
            error: None before the step: hand over when `agent` is full (`OVERLOAD`). The
                step's error after it: hand over when its models are down (`FAILOVER`).

        Returns:
            The handoff's reason, only when `agent` has a backup that can take the step.
        """
        if agent.backup is None:
            return None
        if error is None:
            reason = OVERLOAD if self.full(agent) else None
        else:
            reason = FAILOVER if unhealthy(error) else None
        return reason if reason is not None and self.can_take(agent.backup) else None

    def reset(self) -> None:
        """Forgets everything (tests start from a clean process state)."""
        with self._lock:
            self.counter = LoadCounter()
            self._endpoints.clear()
            self._capacity.clear()


_PROCESS = Standby()


def standby() -> Standby:
    """The register of this process: every agent node reports to it."""
    return _PROCESS
