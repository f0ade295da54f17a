"""Failover during an outage: accord's model chain vs LangChain's `with_fallbacks`, side by side.

Two real OpenAI-compatible HTTP servers on 127.0.0.1 (`accord.agents.FaultServer` with canned
answers): the primary fails every request (500s, or connection resets), or 30% of them
(a flaky endpoint), and the fallback is healthy. Both chains are `ChatOpenAI` clients of the
same two servers:

- accord: `model_chain([primary, fallback])`, its default retries (3 attempts, 50 ms backoff
  with jitter) and circuit breaker (opens on a failure rate, or at once when a call fails while
  the endpoint served no one else);
- LangChain: `primary.with_fallbacks([fallback])`, with ChatOpenAI's default retries.

For each, the first call (which discovers the outage) is reported apart. Every call through a
chain is paired with a direct call to the healthy fallback just before it; "added" is the
median (and p95) of the differences over the later calls, so machine noise cancels out.
Targets: added p50 <= 5 ms with the breaker open; success >= 99%.

Run: `.venv/bin/python bench/failover.py`
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from accord.agents import ChainPolicy, FaultServer, canned, model_chain
from accord.agents.models import Breakers

OURS = 200
THEIRS = 8  # each of its calls retries the dead primary with backoff: seconds per call
BASELINE = 200
SCENARIOS = (
    ("HTTP 500", "rate_500", 1.0),
    ("reset", "rate_reset", 1.0),
    ("30% 500", "rate_500", 0.3),
)


@dataclass
class Row:
    scenario: str
    chain: str
    calls: int
    success: float
    first_ms: float
    added_p50_ms: float
    added_p95_ms: float
    primary_hits: int


def _client(server: FaultServer, **options: Any) -> ChatOpenAI:
    return ChatOpenAI(model="m", base_url=server.url, api_key=SecretStr("x"), **options)


def _call(chain: Runnable[Any, Any]) -> tuple[float, bool]:
    start = time.perf_counter()
    try:
        ok = bool(chain.invoke("Where is my parcel?").text)
    except Exception:
        ok = False
    return time.perf_counter() - start, ok


def _timed(
    chain: Runnable[Any, Any], direct: Runnable[Any, Any], calls: int
) -> tuple[list[float], list[float], int]:
    """Latencies of `calls` calls through `chain`, each paired with a call to `direct`."""
    latencies, added, ok = [], [], 0
    for _ in range(calls):
        plain, _ = _call(direct)
        took, answered = _call(chain)
        latencies.append(took)
        added.append(took - plain)
        ok += answered
    return latencies, added, ok


def _row(
    scenario: str,
    name: str,
    build: Callable[[], Runnable[Any, Any]],
    calls: int,
    primary: FaultServer,
    direct: Runnable[Any, Any],
) -> Row:
    before = primary.requests
    latencies, added, ok = _timed(build(), direct, calls)
    hits = primary.requests - before
    later = sorted(added[1:])
    p95 = later[min(len(later) - 1, int(0.95 * len(later)))]
    return Row(
        scenario,
        name,
        calls,
        ok / calls,
        latencies[0] * 1e3,
        statistics.median(later) * 1e3,
        p95 * 1e3,
        hits,
    )


def main() -> None:
    with FaultServer(canned("primary")) as primary, FaultServer(canned("fallback")) as fallback:
        direct = _client(fallback, max_retries=0)
        baseline = statistics.median(_timed(direct, direct, BASELINE)[0])
        rows = []
        for scenario, fault, rate in SCENARIOS:
            primary.faults = type(primary.faults)()
            setattr(primary.faults, fault, rate)

            def ours() -> Runnable[Any, Any]:
                # A fresh breaker registry: the run starts before the outage is known.
                policy = ChainPolicy(breakers=Breakers())
                return model_chain([_client(primary), _client(fallback)], policy=policy)

            def theirs() -> Runnable[Any, Any]:
                return _client(primary).with_fallbacks([_client(fallback)])

            rows.append(_row(scenario, "accord model_chain", ours, OURS, primary, direct))
            rows.append(_row(scenario, "langchain with_fallbacks", theirs, THEIRS, primary, direct))
    _print(rows, baseline)


def _print(rows: list[Row], baseline: float) -> None:
    print(f"fallback healthy; a direct call to it takes {baseline * 1e3:.2f} ms (median)")
    head = ("outage", "chain", "calls", "success", "1st call ms", "added p50", "added p95", "hits")
    print(f"{head[0]:<10}{head[1]:<26}" + "".join(f"{h:>12}" for h in head[2:]))
    for r in rows:
        print(
            f"{r.scenario:<10}{r.chain:<26}{r.calls:>12}{r.success:>12.1%}{r.first_ms:>12.1f}"
            f"{r.added_p50_ms:>12.2f}{r.added_p95_ms:>12.2f}{r.primary_hits:>12}"
        )
    print("hits: requests that reached the primary. added: ms per call over a direct call to the")
    print("fallback, after the first call. Targets: accord added p50 <= 5 ms, success >= 99%.")
    for scenario in dict.fromkeys(r.scenario for r in rows):
        ours, theirs = (r for r in rows if r.scenario == scenario)
        ratio = (theirs.added_p50_ms + baseline * 1e3) / (ours.added_p50_ms + baseline * 1e3)
        print(f"{scenario}: median call {ratio:.1f}x faster with accord")


if __name__ == "__main__":
    main()
