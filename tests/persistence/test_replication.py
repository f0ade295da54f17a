"""ReplicatedSaver on real databases: copies, failover mid-run, lagging replicas, verify().

Each test puts the primary and its replica on different backends (and always on different
databases). "The primary dies" is done for real on a database the test created: PostgreSQL
drops it with FORCE (ending its sessions), MariaDB kills its connections and drops it, and
SQLite loses its file (see `AnyDatabases.take_away` for what that takes honestly).
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.graph import END, START, StateGraph
from sqlalchemy.engine import make_url

from accord.persistence import (
    AuditTrail,
    DatabaseUnavailable,
    LeaseStore,
    ReplicatedSaver,
    SessionBusy,
    SessionStore,
    SQLAlchemySaver,
    arestore,
)

PAIRS = [("postgres", "sqlite"), ("sqlite", "mariadb"), ("mariadb", "postgres")]
STEPS = 6
KILL_AT = 3


class Counter(TypedDict):
    n: int
    log: Annotated[list[str], operator.add]


class Recording(ReplicatedSaver):
    """Remembers every checkpoint it acknowledged to LangGraph."""

    def __init__(self, *savers: SQLAlchemySaver, cooldown: float) -> None:
        super().__init__(*savers, cooldown=cooldown)
        self.acknowledged: list[RunnableConfig] = []

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stored = await super().aput(config, checkpoint, metadata, new_versions)
        self.acknowledged.append(stored)
        return stored


def counting(on_step: Callable[[int], Any] | None = None) -> Any:
    """A graph that counts to STEPS one node run at a time, calling `on_step(n)` first."""

    async def count(state: Counter) -> dict[str, Any]:
        if on_step is not None:
            await on_step(state["n"])
        return {"n": state["n"] + 1, "log": [f"step {state['n']}"]}

    builder = StateGraph(Counter)
    builder.add_node("count", count)
    builder.add_edge(START, "count")
    builder.add_conditional_edges("count", lambda s: END if s["n"] >= STEPS else "count")
    return builder


def _thread() -> RunnableConfig:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4().hex}"}}


@pytest.fixture(params=PAIRS, ids=lambda p: f"{p[0]}-to-{p[1]}")
def pair(request: pytest.FixtureRequest, any_databases: Any) -> tuple[str, str]:
    """URLs of a fresh primary and a fresh replica on the pair's backends."""
    primary, replica = request.param
    return any_databases.create(primary), any_databases.create(replica)


async def test_graph_continues_on_replica_when_primary_dies(
    pair: tuple[str, str], any_databases: Any
) -> None:
    primary_url, replica_url = pair
    primary, replica = SQLAlchemySaver(primary_url), SQLAlchemySaver(replica_url)
    async with Recording(primary, replica, cooldown=60) as saver:
        await saver.asetup()
        sessions, audit = SessionStore(saver), AuditTrail(saver)
        config = _thread()
        record = await sessions.acreate(
            owner="alice", session_id=config["configurable"]["thread_id"]
        )
        await audit.aappend(record.session_id, "opened", actor="alice")

        async def die(n: int) -> None:
            if n == KILL_AT:
                any_databases.take_away(primary_url)
                await primary.aclose()  # SQLite: drop the handles on the unlinked file

        graph = counting(die).compile(checkpointer=saver)
        final = await graph.ainvoke({"n": 0, "log": []}, config, durability="sync")
        assert final == {"n": STEPS, "log": [f"step {n}" for n in range(STEPS)]}

        # The replica acts now; the dead primary is remembered as such and lagging.
        assert saver.acting() is saver.members[1]
        assert saver.members[0].lagging
        # Every acknowledged checkpoint is on the replica, and its head is the final state.
        for acked in saver.acknowledged:
            assert await replica.aget_tuple(acked) is not None
        head = await replica.aget_tuple(config)
        assert head is not None
        assert head.checkpoint["channel_values"] == final
        assert (await graph.aget_state(config)).values == final

        # Session rows written before and after the failover are on the replica.
        updated = await sessions.aupdate(record.session_id, status="closed")
        await audit.aappend(record.session_id, "closed", actor="alice")
        on_replica = SessionStore(replica)
        assert (await on_replica.aget(record.session_id)).status == updated.status == "closed"
        kinds = [e.kind for e in await AuditTrail(replica).aevents(record.session_id)]
        assert kinds == ["opened", "closed"]

        # A restore after the failover lands on the replica, keeping history.
        history = [t async for t in saver.alist(config)]
        (first,) = [
            t.checkpoint["id"] for t in history if t.checkpoint["channel_values"].get("n") == 1
        ]
        restored = await arestore(saver, config["configurable"]["thread_id"], checkpoint_id=first)
        assert (await graph.aget_state(restored)).values == {"n": 1, "log": ["step 0"]}


def test_sync_run_fails_over_and_stays_on_the_replica(any_databases: Any) -> None:
    primary_url, replica_url = any_databases.create("sqlite"), any_databases.create("postgres")
    primary, replica = SQLAlchemySaver(primary_url), SQLAlchemySaver(replica_url)
    with ReplicatedSaver(primary, replica, cooldown=60) as saver:
        graph = StateGraph(Counter)
        graph.add_node("count", lambda s: {"n": s["n"] + 1, "log": [f"step {s['n']}"]})
        graph.add_edge(START, "count")
        compiled = graph.compile(checkpointer=saver)
        config = _thread()
        compiled.invoke({"n": 0, "log": []}, config, durability="sync")
        any_databases.take_away(primary_url)
        primary.close()
        compiled.invoke({"n": 10, "log": []}, config, durability="sync")
        assert compiled.get_state(config).values == {"n": 11, "log": ["step 0", "step 10"]}
        down_until = saver.members[0].down_until
        # Later calls do not touch the dead primary again within its cooldown.
        compiled.invoke({"n": 20, "log": []}, config, durability="sync")
        assert saver.members[0].down_until == down_until
        assert saver.acting() is saver.members[1]
        assert len(list(replica.list(config))) == len(list(saver.list(config)))


async def test_lagging_replica_never_fails_the_caller(any_databases: Any) -> None:
    primary_url, replica_url = any_databases.create("postgres"), any_databases.create("sqlite")
    primary, replica = SQLAlchemySaver(primary_url), SQLAlchemySaver(replica_url)
    async with ReplicatedSaver(primary, replica, cooldown=60) as saver:
        graph = counting().compile(checkpointer=saver)
        config = _thread()
        await graph.ainvoke({"n": 0, "log": []}, config, durability="sync")
        assert (await saver.averify()).ok

        any_databases.take_away(replica_url)
        await replica.aclose()
        config2 = _thread()
        final = await graph.ainvoke({"n": 0, "log": []}, config2, durability="sync")
        assert final["n"] == STEPS
        assert saver.acting() is saver.members[0]
        assert saver.members[1].lagging
        leases = LeaseStore(saver)
        await leases.aacquire(config2["configurable"]["thread_id"], "me", 30)

        # Sync: a failed aiosqlite connect as a test's last await races the loop's closing
        # (its worker thread then reports to a closed loop), an aiosqlite quirk, not ours.
        report = saver.verify()
        assert not report.ok
        (lagging,) = report.replicas
        assert lagging.missed_writes > 0
        assert lagging.error is not None


async def test_verify_detects_a_divergent_replica(any_databases: Any) -> None:
    primary = SQLAlchemySaver(any_databases.create("mariadb"))
    replica = SQLAlchemySaver(any_databases.create("sqlite"))
    async with ReplicatedSaver(primary, replica) as saver:
        graph = counting().compile(checkpointer=saver)
        threads = [_thread() for _ in range(3)]
        for config in threads:
            await graph.ainvoke({"n": 0, "log": []}, config, durability="sync")
        report = await saver.averify()
        assert report.ok
        assert report.replicas[0].threads_checked == 3
        assert saver.verify() == report

        # One thread moves on behind the replicated saver's back, on the replica only.
        on_replica = counting().compile(checkpointer=replica)
        await on_replica.ainvoke({"n": 0, "log": []}, threads[1], durability="sync")
        report = saver.verify()
        assert not report.ok
        (diverged,) = report.replicas
        assert diverged.thread_ids == (threads[1]["configurable"]["thread_id"],)
        assert diverged.threads_checked == 3
        assert diverged.missed_writes == 0


async def test_no_reachable_copy_is_a_typed_error(any_databases: Any) -> None:
    primary_url, replica_url = any_databases.create("sqlite"), any_databases.create("sqlite")
    primary, replica = SQLAlchemySaver(primary_url), SQLAlchemySaver(replica_url)
    async with ReplicatedSaver(primary, replica) as saver:
        await saver.asetup()
        for url, member in ((primary_url, primary), (replica_url, replica)):
            any_databases.take_away(url)
            await member.aclose()
        with pytest.raises(DatabaseUnavailable, match="no up-to-date copy"):
            saver.get_tuple(_thread())  # sync: see test_lagging_replica_never_fails_the_caller
    with pytest.raises(ValueError, match="distinct replica"):
        ReplicatedSaver(primary)


async def test_leases_survive_the_failover(any_databases: Any) -> None:
    # PostgreSQL -> SQLite: LeaseStore's PostgreSQL insert-if-absent also runs on SQLite.
    primary_url, replica_url = any_databases.create("postgres"), any_databases.create("sqlite")
    primary, replica = SQLAlchemySaver(primary_url), SQLAlchemySaver(replica_url)
    async with ReplicatedSaver(primary, replica, cooldown=60) as saver:
        leases = LeaseStore(saver)
        held = await leases.aacquire("s1", "worker-a", ttl=60)
        any_databases.take_away(primary_url)
        # After the failover the replica still knows who holds the session.
        with pytest.raises(SessionBusy) as busy:
            await leases.aacquire("s1", "worker-b", ttl=60)
        assert busy.value.holder == "worker-a"
        assert saver.acting() is saver.members[1]
        await leases.arelease("s1", "worker-a")
        taken = await leases.aacquire("s1", "worker-b", ttl=60)
        assert taken.holder == "worker-b"
        assert held.holder == "worker-a"
        assert await LeaseStore(replica).aholder("s1") == taken
        # verify() now checks the old primary against the replica, and cannot read it.
        (old,) = (await saver.averify()).replicas
        assert old.replica == saver.members[0].name
        assert not old.ok
        assert old.error is not None


async def test_a_restart_after_failover_keeps_the_replica_authoritative(
    any_databases: Any, tmp_path: Path
) -> None:
    """Issue 14: which copy lagged lived only in memory, so a restarted process served the
    stale primary again and wrote to it (238 acknowledged turns -> 80 visible)."""
    primary_url, replica_url = any_databases.create("sqlite"), any_databases.create("postgres")
    primary_file = Path(str(make_url(primary_url).database))
    before, after = _thread(), _thread()
    async with ReplicatedSaver(
        SQLAlchemySaver(primary_url), SQLAlchemySaver(replica_url), cooldown=60
    ) as saver:
        graph = counting().compile(checkpointer=saver)
        await graph.ainvoke({"n": 0, "log": []}, before, durability="sync")
        # The primary goes away for a while (its file moved aside, its handles closed) ...
        _move(primary_file, tmp_path / "away.db")
        await saver.members[0].saver.aclose()
        await graph.ainvoke({"n": 0, "log": []}, after, durability="sync")
        await graph.ainvoke({"n": 2, "log": []}, before, durability="sync")
        assert saver.acting() is saver.members[1]
        acknowledged = (await graph.aget_state(before)).values
    # ... and is back, with what it had, when the process starts again.
    _move(tmp_path / "away.db", primary_file)
    stale_primary = SQLAlchemySaver(primary_url)
    async with ReplicatedSaver(stale_primary, SQLAlchemySaver(replica_url)) as saver:
        graph = counting().compile(checkpointer=saver)
        assert (await graph.aget_state(before)).values == acknowledged
        assert (await graph.aget_state(after)).values["n"] == STEPS
        old, new = saver.members
        assert saver.acting() is new
        assert old.stale is not None
        assert "rebuild it" in old.stale
        # Writes go to the authoritative copy only: the stale one is left as it was.
        await graph.ainvoke({"n": 1, "log": []}, after, durability="sync")
        stale_head = await stale_primary.aget_tuple(before)
        assert stale_head is not None
        assert stale_head.checkpoint["channel_values"]["n"] == STEPS  # its first run only
        assert await stale_primary.aget_tuple(after) is None
        assert (await saver.averify()).replicas[0].replica == old.name


def _move(source: Path, target: Path) -> None:
    """Moves an SQLite file; a directory stands in its place, which SQLite cannot open."""
    if target.is_dir():
        target.rmdir()
    source.rename(target)
    if target.name == "away.db":
        source.mkdir()
