"""Soak: worker processes SIGKILLed mid-run, and a replicated failover followed by a restart.

Kills: N worker processes each converse with their own sessions (every message with a fixed
id, a two-agent handoff team answering after a pause); every round all of them are SIGKILLed
at a random moment, then started again and resend what they have not seen acknowledged; the
last round runs to the end. Counted, and each must be 0: acknowledged messages lost, messages
stored twice, acknowledgements carrying another message's reply, sessions left leased
(stuck), and replies without exactly one `message_out` audit event (audit gaps).

Failover + restart: sessions run on a `ReplicatedSaver` (two SQLite files); midway the
primary's file goes away (moved aside, a directory in its place) and the turns go on on the
replica; then the file comes back and a new process-like saver starts on the same pair.
Counted: sessions whose visible history lost acknowledged turns (rolled back), which must be 0.

Run: python bench/soak.py [--workers 2] [--sessions 3] [--messages 4] [--rounds 4]
     [--db URL] [--seed 1]. Prints the figures, the load average and the CPU time.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import resource
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from accord.agents import Agent, ScriptedModel
from accord.graphs import Sessions, handoff
from accord.persistence import ReplicatedSaver, SQLAlchemySaver

USER = "soak"


def team() -> Any:
    """intake hands over to support, which answers each message quoting it, after a pause."""

    def answer(messages: list[BaseMessage]) -> dict[str, Any]:
        return {"reply": f"answer to <{messages[-1].text}>", "handoff_to": "none"}

    intake = ScriptedModel(
        [{"reply": "Passing you to support.", "handoff_to": "support"}], cycle=True, latency=0.03
    )
    support = ScriptedModel([answer], cycle=True, latency=0.05)
    return handoff(
        [
            Agent(name="intake", description="Greets.", models=(intake,)),
            Agent(name="support", description="Answers.", models=(support,)),
        ]
    )


def text_of(session_id: str, k: int) -> str:
    """The k-th message of a session (its id is f"{session_id}-m{k}")."""
    return f"question {k} of {session_id[:8]}"


# --- the worker process ---------------------------------------------------------------------


async def worker(url: str, messages: int, session_ids: list[str]) -> None:
    """Sends each session its messages (fixed ids), printing `ACK session k reply` for each."""
    async with Sessions(team(), db=url, lease_ttl=1.0, wait=30) as sessions:

        async def converse(session_id: str) -> None:
            session = await sessions.aresume(session_id, USER)
            for k in range(messages):
                reply = await session.asend(text_of(session_id, k), message_id=f"{session_id}-m{k}")
                print(f"ACK {session_id} {k} {reply.text}", flush=True)

        await asyncio.gather(*(converse(s) for s in session_ids))
    print("DONE", flush=True)


# --- kills ----------------------------------------------------------------------------------


async def run_worker(
    url: str, messages: int, session_ids: list[str], kill_after: float | None
) -> tuple[list[str], bool]:
    """One worker process; its ACK lines and whether it was SIGKILLed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "worker",
        url,
        str(messages),
        *session_ids,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    lines: list[str] = []

    async def read() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            lines.append(raw.decode().rstrip("\n"))

    reader = asyncio.create_task(read())
    if kill_after is not None:
        await asyncio.sleep(kill_after)
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
    await process.wait()
    await reader
    return [line for line in lines if line.startswith("ACK ")], process.returncode == -9


async def kills(args: argparse.Namespace, url: str) -> dict[str, int]:
    rng = random.Random(args.seed)
    async with Sessions(team(), db=url) as sessions:
        groups = [
            [(await sessions.aopen(USER)).id for _ in range(args.sessions)]
            for _ in range(args.workers)
        ]
    acks: list[str] = []
    killed = 0
    for round_ in range(args.rounds + 1):
        last = round_ == args.rounds
        results = await asyncio.gather(
            *(
                run_worker(url, args.messages, group, None if last else rng.uniform(0.2, 1.2))
                for group in groups
            )
        )
        for lines, was_killed in results:
            acks += lines
            killed += was_killed
    return {"killed": killed, "acks": len(acks)} | await check(url, groups, acks, args.messages)


async def check(
    url: str, groups: list[list[str]], acks: list[str], messages: int
) -> dict[str, int]:
    """Lost, duplicated, wrong-reply, stuck and audit-gap counts over every session."""
    figures = Counter(lost=0, duplicated=0, wrong_reply=0, stuck=0, audit_gaps=0)
    for line in acks:
        _, session_id, k, reply = line.split(" ", 3)
        figures["wrong_reply"] += reply != f"answer to <{text_of(session_id, int(k))}>"
    acked = {(line.split(" ")[1], int(line.split(" ")[2])) for line in acks}
    async with Sessions(team(), db=url) as sessions:
        for session_id in (s for group in groups for s in group):
            history = await (await sessions.aresume(session_id, USER)).ahistory()
            ids = Counter(m.id for m in history if isinstance(m, HumanMessage))
            for k in range(messages):
                wanted = f"{session_id}-m{k}"
                figures["lost"] += (session_id, k) in acked and ids[wanted] == 0
                figures["duplicated"] += ids[wanted] > 1
            figures["stuck"] += await sessions.leases.aholder(session_id) is not None
            trail = await sessions.aaudit(session_id, USER)
            outs = Counter(e.details.get("message_id") for e in trail if e.kind == "message_out")
            replies = [m.id for m in history if isinstance(m, AIMessage)]
            figures["audit_gaps"] += sum(outs[r] != 1 for r in replies)
    return dict(figures)


# --- failover and restart -------------------------------------------------------------------


async def failover(args: argparse.Namespace, folder: Path) -> dict[str, int]:
    primary, replica = folder / "primary.db", folder / "replica.db"
    urls = (f"sqlite:///{primary}", f"sqlite:///{replica}")
    turns = max(args.messages, 2)
    acknowledged: dict[str, int] = {}
    saver = ReplicatedSaver(*(SQLAlchemySaver(u) for u in urls), cooldown=60)
    async with Sessions(team(), db=saver) as sessions:
        opened = [await sessions.aopen(USER) for _ in range(args.sessions * args.workers)]
        for turn in range(turns):
            if turn == turns // 2:  # the primary goes away for the rest of the run
                primary.rename(folder / "away.db")
                primary.mkdir()
                await saver.members[0].saver.aclose()
            await asyncio.gather(*(s.asend(f"turn {turn}") for s in opened))
            for session in opened:
                acknowledged[session.id] = turn + 1
    await saver.aclose()
    primary.rmdir()
    (folder / "away.db").rename(primary)
    # A restart: new savers on the same pair, nothing remembered in memory.
    restarted = ReplicatedSaver(*(SQLAlchemySaver(u) for u in urls))
    rolled_back = 0
    async with Sessions(team(), db=restarted) as sessions:
        for session_id, count in acknowledged.items():
            history = await (await sessions.aresume(session_id, USER)).ahistory()
            rolled_back += sum(isinstance(m, HumanMessage) for m in history) < count
        stale = sum(m.stale is not None for m in restarted.members)
    await restarted.aclose()
    return {"sessions": len(acknowledged), "turns": turns, "rolled_back": rolled_back} | {
        "stale_copies_refused": stale
    }


async def main(args: argparse.Namespace) -> None:
    # The failover logs each write the lost primary misses; the figures say it once.
    logging.getLogger("accord.persistence").setLevel(logging.ERROR)
    wall, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory() as folder:
        url = args.db or f"sqlite:///{Path(folder) / 'soak.db'}"
        killing = await kills(args, url)
        print(
            f"kills: {args.workers} workers x {args.sessions} sessions x {args.messages} messages,"
        )
        print("  " + ", ".join(f"{k} {v}" for k, v in killing.items()))
        replicated = await failover(args, Path(folder))
        print("failover + restart: " + ", ".join(f"{k} {v}" for k, v in replicated.items()))
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"wall {time.perf_counter() - wall:.1f} s, CPU {time.process_time() - cpu:.1f} s here"
        f" + {children.ru_utime + children.ru_stime:.1f} s in workers,"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    bad = {k: v for k, v in {**killing, **replicated}.items() if k in BAD and v}
    if bad:
        sys.exit(f"FAILED: {bad}")


BAD = ("lost", "duplicated", "wrong_reply", "stuck", "audit_gaps", "rolled_back")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sessions", type=int, default=3, help="per worker")
    parser.add_argument("--messages", type=int, default=4, help="per session")
    parser.add_argument("--rounds", type=int, default=4, help="rounds of SIGKILLs")
    parser.add_argument("--db", help="database URL (default: an SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        asyncio.run(worker(sys.argv[2], int(sys.argv[3]), sys.argv[4:]))
    else:
        asyncio.run(main(parse()))
