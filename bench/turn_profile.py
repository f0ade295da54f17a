"""Python calls and database round trips per warm turn: load-independent figures for issue 16.

The same three sides as `bench/sessions.py` (plain LangGraph on the official saver, plain
LangGraph on accord's `SQLAlchemySaver`, accord `Session.asend`), on SQLite and PostgreSQL,
counted under cProfile in every thread (SQLite's work runs in worker threads: aiosqlite's,
accord's offload pool). A side runs one session of 1 + `--turns` turns and one of 1 turn; the
difference is `--turns` warm turns (the session's opening and cold first turn cancel out);
the median of three such counts is kept.

Printed per warm turn: Python calls in the event loop's thread, in all threads, and database
statements: on SQLite those SQLite runs (its trace callback sees each, BEGIN and COMMIT
included), on PostgreSQL the statements psycopg sends, BEGIN and COMMIT included (one round
trip each, but in pipeline mode, which the official saver uses for `put_writes`). The calls
miss C code that C calls: aiosqlite's thread runs sqlite3 through `functools.partial`, so the
official saver's SQLite work is under-counted; compare CPU there (`bench/sessions.py`).
`--top N` also lists the N functions an asend turn calls most more often than plain
LangGraph on accord's saver. `--concurrent N` counts instead `bench/sessions.py`'s concurrent
load: N conversations of two turns at once on a 50 ms model, openings included, per turn.
Run: `.venv/bin/python bench/turn_profile.py [--turns 20] [--top 0] [--concurrent 0]
[--no-postgres]`
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import sqlite3
import tempfile
import threading
import time
import uuid
from collections import Counter
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from psycopg import _connection_base, _cursor_base
from sessions import CONCURRENT_TURNS, LATENCY, PG_ADMIN, SIDES, Turns, _load, _postgres, _sqlite

PROFILES: list[tuple[cProfile.Profile, bool]] = []
"""Every thread's profiler, and whether it is the event loop's thread."""


def _profile_thread(*_: Any) -> None:
    """`threading.setprofile` hook: the thread's first event gives it a profiler of its own."""
    profile = cProfile.Profile()
    PROFILES.append((profile, False))
    profile.enable()  # replaces this hook in this thread


def _counted(original: Any) -> Any:
    """`original`, through a function whose calls the profiler counts as statements sent."""

    def pq_statement_sent(*args: Any, **kwargs: Any) -> Any:
        return original(*args, **kwargs)

    return pq_statement_sent


# psycopg's libpq calls are Cython, which cProfile does not see: count the functions that send
# every statement (`_exec_command` is a generator, whose resumptions cProfile would count).
_connection_base.BaseConnection._exec_command = _counted(  # type: ignore[method-assign]
    _connection_base.BaseConnection._exec_command
)
for _name in ("_execute_send", "_send_prepare", "_send_query_prepared"):
    setattr(_cursor_base.BaseCursor, _name, _counted(getattr(_cursor_base.BaseCursor, _name)))


def sqlite_statement_run(statement: str) -> None:
    """SQLite's trace callback: the profiler counts its calls (and leaves them out of totals)."""


def _traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    connection = _connect(*args, **kwargs)
    connection.set_trace_callback(sqlite_statement_run)
    return connection


# aiosqlite connects through `sqlite3.connect`, SQLAlchemy's pysqlite through `dbapi2`.
_connect = sqlite3.connect
sqlite3.connect = sqlite3.dbapi2.connect = _traced  # type: ignore[assignment]
COUNTERS = ("(pq_statement_sent)", "(sqlite_statement_run)")


def _label(code: Any) -> str:
    if isinstance(code, str):
        return code
    return (
        f"{code.co_filename.rsplit('site-packages/', 1)[-1]}:{code.co_firstlineno}({code.co_name})"
    )


def _snapshot() -> tuple[Counter[str], Counter[str]]:
    """Calls so far by function: in the loop's thread, and in all threads."""
    loop, every = Counter[str](), Counter[str]()
    for profile, main in list(PROFILES):
        for entry in profile.getstats():
            label = _label(entry.code)
            every[label] += entry.callcount
            if main:
                loop[label] += entry.callcount
    return loop, every


def _database(calls: Counter[str]) -> int:
    """Statements among `calls` (see the module's docstring)."""
    return sum(count for label, count in calls.items() if label.endswith(COUNTERS))


def _python(calls: Counter[str]) -> int:
    """Calls, less the statement counters' own."""
    return sum(calls.values()) - _database(calls)


async def _window(
    run: Turns, turns: int, concurrent: int
) -> tuple[Counter[str], Counter[str], float, float]:
    """Calls (loop thread, all threads), CPU s and wall s of `turns` warm turns of `run`, or
    (`concurrent`) of that many conversations at once."""
    loops, everys = [], []
    cpu, wall = 0.0, 0.0
    shapes = [(1, 1, 1 + turns, 0.0), (-1, 1, 1, 0.0)]
    if concurrent:
        shapes = [(1, concurrent, CONCURRENT_TURNS, LATENCY)]
    for sign, sessions, count, latency in shapes:
        before = _snapshot()
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        await run(f"profile-{uuid.uuid4().hex[:8]}", sessions, count, latency)
        cpu += sign * (time.process_time() - started_cpu)
        wall += sign * (time.perf_counter() - started_wall)
        after = _snapshot()
        loops.append((after[0] - before[0], sign))
        everys.append((after[1] - before[1], sign))
    loop, every = Counter[str](), Counter[str]()
    for got, sign in loops:
        loop.update({k: sign * v for k, v in got.items()})
    for got, sign in everys:
        every.update({k: sign * v for k, v in got.items()})
    return loop, every, cpu, wall


async def _bench(name: str, opened: AbstractAsyncContextManager[Any], args: Any) -> None:
    async with opened as sides:
        for run in sides.values():
            await run(f"warm-{uuid.uuid4().hex[:8]}", 1, 3, 0.0)
        measured = {}
        for side in SIDES:
            # The median of three counts: background work (a psycopg pool's upkeep) now and
            # then lands in a count, on either side of its difference.
            windows = [await _window(sides[side], args.turns, args.concurrent) for _ in range(3)]
            measured[side] = sorted(windows, key=lambda window: _python(window[1]))[1]
    turns = args.concurrent * CONCURRENT_TURNS or args.turns
    shape = f"{args.concurrent} at once" if args.concurrent else "warm"
    print(f"\n{name}: per {shape} turn ({turns} turns; CPU/wall under the profiler, indicative)")
    print(
        f"{'':<22}{'loop calls':>11}{'all calls':>10}{'statements':>11}{'x loop':>7}{'x all':>6}"
        f"{'CPU ms':>8}{'wall ms':>8}"
    )
    base_loop = _python(measured["official"][0]) / turns
    base_all = _python(measured["official"][1]) / turns
    for side in SIDES:
        loop, every, cpu, wall = measured[side]
        in_loop, in_all = _python(loop) / turns, _python(every) / turns
        db = _database(every) / turns
        print(
            f"{side:<22}{in_loop:11.0f}{in_all:10.0f}{db:11.1f}{in_loop / base_loop:7.2f}"
            f"{in_all / base_all:6.2f}{cpu * 1000 / turns:8.2f}{wall * 1000 / turns:8.2f}"
        )
    if args.top:
        gained = measured["accord asend"][1]
        gained.subtract(measured["accord saver"][1])
        print(f"  the {args.top} functions asend calls most more often than plain LangGraph:")
        for label, count in gained.most_common(args.top):
            print(f"  {count / turns:9.1f}  {label}")


async def main(args: argparse.Namespace) -> None:
    print(f"load average before: {_load()}")
    with tempfile.TemporaryDirectory() as folder:
        await _bench("SQLite", _sqlite(Path(folder)), args)
        if not args.no_postgres:
            await _bench("PostgreSQL", _postgres(args.postgres), args)
    print(f"load average after: {_load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="warm turns counted per side")
    parser.add_argument("--top", type=int, default=0, help="list the asend turn's top functions")
    parser.add_argument("--concurrent", type=int, default=0, help="conversations at once")
    parser.add_argument("--postgres", default=PG_ADMIN, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parsed = parser.parse_args()
    threading.setprofile(_profile_thread)  # before any thread starts
    main_profile = cProfile.Profile()
    PROFILES.append((main_profile, True))
    main_profile.enable()
    asyncio.run(main(parsed))
