"""Performance history: each agent's EWMA latency and success rate, folded into one factor."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Protocol

MIN_FACTOR = 1e-3
"""The lowest factor: an agent that always fails still ranks, below every working one."""


class History(Protocol):
    """Learns from finished steps and rates each agent; 1.0 is neutral (an unseen agent)."""

    def observe(self, agent: str, latency_s: float, ok: bool) -> None:
        """Records one finished step of `agent`: how long it took and whether it succeeded."""
        ...

    def factors(self, names: Sequence[str]) -> list[float]:
        """The factor of every agent in `names`, in that order."""
        ...


@dataclass(frozen=True, slots=True)
class Stats:
    """What the history knows of one agent.

    Attributes:
        latency_s: EWMA of the latency of successful steps, in seconds.
        success: EWMA of the success rate (1 = every step succeeded).
        steps: Steps observed.
    """

    latency_s: float
    success: float
    steps: int


class PerformanceHistory:
    """EWMA latency and success rate per agent.

    `factor = max(MIN_FACTOR, success * (scale + prior_latency) / (scale + latency))`: an unseen
    agent (success 1, latency `prior_latency_s`) gets exactly 1; a faster one up to
    `1 + prior/scale`; a slower or failing one less. Only successful steps update the latency,
    so a fast failure cannot look like speed. Thread-safe: many sessions report at once.

    An agent that fails gets little traffic, so it would have no chance to show it recovered:
    each `recover_s` without an observation counts as one neutral observation (success, prior
    latency), pulling its factor back towards 1 until real steps speak again.

    Args:
        alpha: Weight of the newest observation in both averages (0 < alpha <= 1).
        scale_s: Latency at which the latency part halves relative to a zero-latency agent.
        prior_latency_s: The latency assumed for an unseen agent (default `scale_s`).
        recover_s: Silence that counts as one neutral observation (None: never recover).
        clock: Monotonic seconds, for `recover_s`.
    """

    def __init__(
        self,
        *,
        alpha: float = 0.2,
        scale_s: float = 2.0,
        prior_latency_s: float | None = None,
        recover_s: float | None = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start with no observations."""
        if not 0 < alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {alpha}")
        if scale_s <= 0:
            raise ValueError(f"scale_s must be positive, got {scale_s}")
        self.alpha = alpha
        self.scale_s = scale_s
        self.prior_latency_s = scale_s if prior_latency_s is None else prior_latency_s
        self._stats: dict[str, Stats] = {}
        self._factors: dict[str, float] = {}
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self.recover_s = recover_s
        self.clock = clock
        self._sweep_at = clock() + recover_s if recover_s is not None else math.inf

    def observe(self, agent: str, latency_s: float, ok: bool) -> None:
        """Records one finished step of `agent`: how long it took and whether it succeeded."""
        a = self.alpha
        with self._lock:
            old = self._stats.get(agent) or Stats(self.prior_latency_s, 1.0, 0)
            latency = (1 - a) * old.latency_s + a * max(0.0, latency_s) if ok else old.latency_s
            new = Stats(latency, (1 - a) * old.success + a * (1.0 if ok else 0.0), old.steps + 1)
            self._stats[agent] = new
            self._factors[agent] = self._factor(new)
            self._seen[agent] = self.clock()

    def stats(self, agent: str) -> Stats | None:
        """What is known of `agent`, or None if it was never observed."""
        return self._stats.get(agent)

    def factor(self, agent: str) -> float:
        """The factor of one agent."""
        return self._factors.get(agent, 1.0)

    def factors(self, names: Sequence[str]) -> list[float]:
        """The factor of every agent in `names`, in that order."""
        if self._sweep_at <= self.clock():
            self._recover()
        return list(map(self._factors.get, names, repeat(1.0)))

    def _recover(self) -> None:
        """Counts a neutral observation for every agent silent for `recover_s` or longer."""
        if self.recover_s is None:
            return
        a, now = self.alpha, self.clock()
        with self._lock:
            for agent, seen in list(self._seen.items()):
                periods = int((now - seen) // self.recover_s)
                if periods < 1:
                    continue
                old, keep = self._stats[agent], (1 - a) ** periods
                prior = self.prior_latency_s
                new = Stats(
                    prior + (old.latency_s - prior) * keep, 1 - (1 - old.success) * keep, old.steps
                )
                self._stats[agent] = new
                self._factors[agent] = self._factor(new)
                self._seen[agent] = seen + periods * self.recover_s
            # Sweep a few times per period: an agent waits at most a quarter period too long.
            self._sweep_at = now + self.recover_s / 4

    def _factor(self, stats: Stats) -> float:
        speed = (self.scale_s + self.prior_latency_s) / (self.scale_s + stats.latency_s)
        return max(MIN_FACTOR, stats.success * speed)
