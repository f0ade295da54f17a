"""Predictive balancing: forecast each agent's arrivals from recent traffic.

`ArrivalForecast` counts arrivals per agent in fixed time buckets and fits additive Holt-Winters
to each series: a level, a damped trend and one seasonal component per period (daily and weekly
by default, Taylor's double-seasonal form). The router adds the work those arrivals bring to an
agent's current load, so a surge is avoided before it lands: arrivals over the next `horizon`
buckets, turned into sessions in flight by Little's law (in flight = arrival rate x time each
one runs, `step_s`), so a 15-minute bucket's hundred arrivals are not a hundred sessions.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections.abc import Iterable, Sequence
from itertools import repeat
from typing import Protocol

DAY_S = 86_400.0
WEEK_S = 7 * DAY_S


class Forecast(Protocol):
    """Learns arrivals and tells the work expected to land on each agent soon."""

    def observe(self, agent: str, at: float) -> None:
        """Records one arrival for `agent` at `at` (seconds, on the router's clock)."""
        ...

    def expected(self, names: Sequence[str], now: float) -> list[float]:
        """The load (sessions in flight) the arrivals expected soon after `now` will bring to
        every agent in `names`, in that order."""
        ...


class _Series:
    """One agent's Holt-Winters state; `count` is the arrivals in the open bucket so far."""

    __slots__ = ("count", "first", "level", "rest", "seasons", "trend")

    def __init__(self, periods: Sequence[int]) -> None:
        self.level = 0.0
        self.trend = 0.0
        self.seasons = [array("d", bytes(8 * p)) for p in periods]
        self.count = 0
        self.first = 0.0  # forecast of the open bucket
        self.rest = 0.0  # forecasts of the buckets after it, within the horizon

    def expected(self) -> float:
        return max(0.0, self.first - self.count) + self.rest


class ArrivalForecast:
    """Holt-Winters forecasts of arrivals per agent over time buckets.

    For the bucket `t` just closed with `y` arrivals and seasonal terms `s_j` (one per period):

    - level `l = alpha (y - sum s) + (1 - alpha)(l' + phi b')`
    - trend `b = beta (l - l') + (1 - beta) phi b'`
    - season `s_j = gamma (y - l - (sum s - s_j)) + (1 - gamma) s_j`
    - forecast of bucket `t + k`: `l + (phi + ... + phi^k) b + sum_j s_j[(t + k) mod m_j]`

    The expected arrivals are those still to come in the open bucket plus those of the next
    `horizon - 1` buckets, never negative; the expected load is that count times
    `step_s / (horizon x bucket_s)`: the arrival rate times how long each one keeps its agent
    busy (Little's law), in the same unit as the in-flight load and the capacity.

    Args:
        bucket_s: Bucket width in seconds.
        seasons: Periods in buckets (default: a day and a week of 15-minute buckets).
        horizon: Buckets ahead counted as expected load (>= 1).
        alpha: Level smoothing. beta: Trend smoothing. gamma: Seasonal smoothing.
        phi: Trend damping (1 = none), so a short rise is not extrapolated forever.
        step_s: Seconds one arrival keeps its agent busy (a routed turn's step).
    """

    def __init__(
        self,
        *,
        bucket_s: float = 900.0,
        seasons: Sequence[int] = (int(DAY_S // 900), int(WEEK_S // 900)),
        horizon: int = 1,
        alpha: float = 0.3,
        beta: float = 0.05,
        gamma: float = 0.3,
        phi: float = 0.9,
        step_s: float = 5.0,
    ) -> None:
        """Start with no history: every agent is expected to get nothing until it is seen."""
        if bucket_s <= 0 or step_s <= 0 or horizon < 1 or any(p < 2 for p in seasons):
            raise ValueError(
                "bucket_s and step_s must be positive, horizon >= 1 and every season >= 2"
            )
        self.bucket_s = bucket_s
        self.periods = tuple(seasons)
        self.horizon = horizon
        self.scale = step_s / (horizon * bucket_s)
        self.alpha, self.beta, self.gamma, self.phi = alpha, beta, gamma, phi
        self._series: dict[str, _Series] = {}
        self._expected: dict[str, float] = {}
        self._bucket: int | None = None
        self._lock = threading.Lock()

    def observe(self, agent: str, at: float, count: int = 1) -> None:
        """Records `count` arrivals for `agent` at `at` (seconds, on the router's clock);
        a count replays a bucket's arrivals kept elsewhere (a fleet's, in Redis) at once."""
        with self._lock:
            self._advance(at)
            series = self._series.get(agent)
            if series is None:
                series = self._series[agent] = _Series(self.periods)
                if self._bucket is not None:
                    self._predict(series, self._bucket - 1)
            series.count += count
            self._expected[agent] = series.expected()

    def expected(self, names: Sequence[str], now: float) -> list[float]:
        """The load expected from arrivals for every agent in `names` soon after `now`."""
        if self._bucket is None or int(now // self.bucket_s) > self._bucket:
            with self._lock:
                self._advance(now)
        scale = self.scale
        return [scale * n for n in map(self._expected.get, names, repeat(0.0))]

    def forecast(self, agent: str, buckets: int) -> list[float]:
        """The raw forecasts for `agent` of the open bucket and the `buckets - 1` after it."""
        series = self._series.get(agent)
        if series is None or self._bucket is None:
            return [0.0] * buckets
        return [self._at(series, self._bucket - 1, k) for k in range(1, buckets + 1)]

    def _advance(self, now: float) -> None:
        """Closes every bucket before the one `now` falls in, updating each series."""
        bucket = int(now // self.bucket_s)
        if self._bucket is None:
            self._bucket = bucket
            return
        if bucket <= self._bucket:
            return
        # Beyond the longest season, further empty buckets change nothing worth the time.
        gap = min(bucket - self._bucket, max(self.periods, default=1) + 1)
        start = bucket - gap
        for name, series in self._series.items():
            for k in range(gap):
                self._update(series, start + k, series.count if k == 0 else 0)
                series.count = 0
            self._predict(series, bucket - 1)
            self._expected[name] = series.expected()
        self._bucket = bucket

    def _update(self, series: _Series, t: int, y: float) -> None:
        slots = [t % p for p in self.periods]
        terms = [s[i] for s, i in zip(series.seasons, slots, strict=True)]
        total = sum(terms)
        last_level = series.level
        level = self.alpha * (y - total) + (1 - self.alpha) * (last_level + self.phi * series.trend)
        series.trend = self.beta * (level - last_level) + (1 - self.beta) * self.phi * series.trend
        series.level = level
        for season, slot, term in zip(series.seasons, slots, terms, strict=True):
            residual = y - level - (total - term)
            season[slot] = self.gamma * residual + (1 - self.gamma) * term

    def _predict(self, series: _Series, last: int) -> None:
        """Caches the forecasts of the buckets after `last` (the last closed one)."""
        series.first = self._at(series, last, 1)
        series.rest = sum(max(0.0, self._at(series, last, k)) for k in range(2, self.horizon + 1))

    def _at(self, series: _Series, last: int, k: int) -> float:
        damped = sum(self.phi**i for i in range(1, k + 1))
        seasonal = sum(s[(last + k) % p] for s, p in zip(series.seasons, self.periods, strict=True))
        return series.level + damped * series.trend + seasonal


FLEET = "fleet"
"""The one series `workers_needed` forecasts: every turn a fleet is sent, whatever its agent."""


def workers_needed(
    arrivals: Iterable[tuple[float, int]],
    *,
    now: float,
    in_flight: float,
    per_worker: float,
    step_s: float,
    bucket_s: float = 60.0,
    horizon: int = 5,
    seasons: Sequence[int] = (1440,),
    utilisation: float = 0.8,
    minimum: int = 1,
) -> tuple[int, float]:
    """How many workers a fleet needs soon: the predictive forecast, sized by Little's law.

    The arrivals (bucket start, count) are replayed into an `ArrivalForecast` of one series;
    the work they will bring over the next `horizon` buckets (turns in flight: the forecast
    arrival rate times `step_s`, the seconds one turn runs) is compared with the work in
    flight now (`in_flight`, backlog included), and the larger is spread over workers that
    each run `per_worker` turns at once, kept `utilisation` full.

    Returns:
        The recommended worker count (at least `minimum`) and the forecast load.
    """
    if per_worker <= 0 or not 0 < utilisation <= 1:
        raise ValueError("per_worker must be positive and utilisation in (0, 1]")
    forecast = ArrivalForecast(
        bucket_s=bucket_s, seasons=seasons, horizon=horizon, step_s=max(step_s, 1e-9)
    )
    for at, count in sorted(arrivals):
        if count > 0:
            forecast.observe(FLEET, at, count)
    [expected] = forecast.expected([FLEET], now)
    demand = max(in_flight, expected)
    return max(minimum, math.ceil(demand / (per_worker * utilisation) - 1e-9)), expected
