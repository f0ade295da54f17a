"""Resume after SIGKILL: real worker processes are killed at random points mid-run.

Each worker sends every session its messages (with fixed ids) and prints an ack per reply;
the test kills it with SIGKILL at a random moment, starts another, and so on; the last one
runs to the end. No acknowledged message may be lost, and none may appear twice.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
from pathlib import Path

from crash_worker import team
from langchain_core.messages import AIMessage, HumanMessage

from accord.graphs import Sessions

WORKER = Path(__file__).parents[1] / "crash_worker.py"
SESSIONS = 4
MESSAGES = 5
KILLS = 4


async def _worker(
    url: str, session_ids: list[str], kill_after: float | None
) -> tuple[list[str], bool]:
    """Runs a worker; returns its acks and whether it was killed before it finished."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(WORKER),
        url,
        str(MESSAGES),
        *session_ids,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    lines: list[str] = []
    acked = asyncio.Event()

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            lines.append(raw.decode().strip())
            if lines[-1].startswith("ACK"):
                acked.set()

    reader = asyncio.create_task(read())
    if kill_after is None:
        _, stderr = await asyncio.gather(process.wait(), process.stderr.read())
        await reader
        assert process.returncode == 0, stderr.decode()[-3000:]
        assert lines[-1] == "DONE"
    else:
        # Kill once the worker is into its runs (its first ack), then after a random delay.
        waiters = [asyncio.create_task(acked.wait()), asyncio.create_task(process.wait())]
        _, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()
        await asyncio.sleep(kill_after)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
        await reader
    acks = [line for line in lines if line.startswith("ACK")]
    return acks, process.returncode == -signal.SIGKILL


async def test_killed_workers_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    async with Sessions(team(), db=url) as sessions:
        session_ids = [(await sessions.aopen("alice")).id for _ in range(SESSIONS)]

    rng = random.Random(20261124)
    acked: list[tuple[str, int]] = []
    killed = 0
    for _ in range(KILLS):
        acks, was_killed = await _worker(url, session_ids, kill_after=rng.uniform(0.0, 0.6))
        killed += was_killed
        acked += [(line.split(" ")[1], int(line.split(" ")[2])) for line in acks]
    acks, _ = await _worker(url, session_ids, kill_after=None)
    acked += [(line.split(" ")[1], int(line.split(" ")[2])) for line in acks]

    assert killed >= KILLS - 1, "the workers finished before they could be killed"
    # Re-sent messages are acknowledged again, with the answer they already had.
    assert set(acked) == {(s, k) for s in session_ids for k in range(MESSAGES)}
    recovered = 0
    async with Sessions(team(), db=url) as sessions:
        for session_id in session_ids:
            trail = await sessions.aaudit(session_id, "alice")
            recovered += sum(event.kind == "recovered" for event in trail)
            session = await sessions.aresume(session_id, "alice")
            history = await session.ahistory()
            # Every message once, in order, each followed by exactly one decision.
            assert [type(m) for m in history] == [HumanMessage, AIMessage] * MESSAGES, [
                (m.id, m.text[:20]) for m in history
            ]
            assert [m.id for m in history[::2]] == [f"{session_id}-m{k}" for k in range(MESSAGES)]
            assert all(m.text.startswith("Decision: yes") for m in history[1::2])
            state = await session.astate()
            assert state["outcome"]["voters"] == 3
    # At least one kill landed mid-run, leaving work that a later worker finished.
    assert recovered >= 1
