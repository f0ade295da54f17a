"""How values are stored: list deltas, forks, stale caches, chain limits, and upkeep."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import pytest
from langgraph.checkpoint.conformance.test_utils import (
    generate_checkpoint,
    generate_config,
    generate_metadata,
)
from sqlalchemy import delete, event

from accord.persistence import PersistenceError, SQLAlchemySaver
from accord.persistence.checkpoints import writes
from accord.persistence.checkpoints.codec import INLINE_MAX
from accord.persistence.errors import UnsupportedOperation
from accord.persistence.schema import blobs


def _thread(name: str) -> str:
    return f"{name}-{uuid.uuid4()}"


async def test_growing_list_is_stored_as_deltas(store: Any) -> None:
    thread = _thread("grow")
    config = None
    history: list[Any] = []
    for n in range(6):
        history = [*history, {"n": n, "text": "x" * 50}]
        count = {"n": n}  # not a scalar, so stored in a value row
        config = await store.put(thread, {"messages": history, "count": count}, parent=config)
    assert config is not None
    assert await store.values(config) == {"messages": history, "count": {"n": 5}}
    rows = [r for r in store.blob_rows(thread) if r.channel == "messages"]
    assert [r.depth for r in rows] == [0, 1, 2, 3, 4, 5]
    assert all(r.base == prev.version for prev, r in itertools.pairwise(rows))
    counts = [r for r in store.blob_rows(thread) if r.channel == "count"]
    assert len(counts) == 6
    assert all(r.base is None for r in counts)


async def test_scalars_and_short_strings_are_stored_in_the_checkpoint_row(store: Any) -> None:
    thread = _thread("inline")
    long = "x" * (INLINE_MAX + 1)
    values = {"n": 1, "s": "short", "none": None, "long": long, "b": b"xy", "m": [1]}
    first = await store.put(thread, values)
    second = await store.put(thread, {"n": 2, "m": [1, 2]}, parent=first)
    assert sorted({r.channel for r in store.blob_rows(thread)}) == ["b", "long", "m"]
    expected = {"n": 2, "s": "short", "none": None, "long": long, "b": b"xy", "m": [1, 2]}
    async with SQLAlchemySaver.from_url(store.url) as cold:
        assert await store.values(second, saver=cold) == expected
        listed = [t.checkpoint["channel_values"] async for t in cold.alist(second)]
        assert listed == [expected]


async def test_checkpoints_stored_before_values_went_inline_read_back(
    store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    thread = _thread("old")
    monkeypatch.setattr(writes, "inline_values", lambda values: {})
    first = await store.put(thread, {"n": 1, "m": [1]})
    monkeypatch.undo()
    second = await store.put(thread, {"m": [1, 2]}, parent=first)
    assert sorted(r.channel for r in store.blob_rows(thread)) == ["m", "m", "n"]
    async with SQLAlchemySaver.from_url(store.url) as cold:
        assert await store.values(first, saver=cold) == {"n": 1, "m": [1]}
        assert await store.values(second, saver=cold) == {"n": 1, "m": [1, 2]}


async def test_edits_and_shrinks_store_full_values(store: Any) -> None:
    thread = _thread("edit")
    first = await store.put(thread, {"m": [1, 2, 3]})
    edited = await store.put(thread, {"m": [1, 9, 3, 4]}, parent=first)
    shrunk = await store.put(thread, {"m": [1]}, parent=edited)
    grown = await store.put(thread, {"m": [1, 5]}, parent=shrunk)
    assert [r.base is None for r in store.blob_rows(thread)] == [True, True, True, False]
    for config, value in ((first, [1, 2, 3]), (edited, [1, 9, 3, 4]), (shrunk, [1])):
        assert await store.values(config) == {"m": value}
    assert await store.values(grown) == {"m": [1, 5]}


async def test_forks_read_back_their_own_branch(store: Any) -> None:
    thread = _thread("fork")
    a1 = await store.put(thread, {"m": ["a"]})
    a2 = await store.put(thread, {"m": ["a", "b"]}, parent=a1)
    a3 = await store.put(thread, {"m": ["a", "b", "c"]}, parent=a2)
    b3 = await store.put(thread, {"m": ["a", "b", "X"]}, parent=a2)  # time travel
    b4 = await store.put(thread, {"m": ["a", "b", "X", "Y"]}, parent=b3)
    async with SQLAlchemySaver.from_url(store.url) as cold:
        # A fresh process learns a2's value on reading it, then forks from it as a delta.
        await store.values(a2, saver=cold)
        c3 = await store.put(thread, {"m": ["a", "b", "Z"]}, parent=a2, saver=cold)
        expected = {
            "a1": (a1, ["a"]),
            "a2": (a2, ["a", "b"]),
            "a3": (a3, ["a", "b", "c"]),
            "b3": (b3, ["a", "b", "X"]),
            "b4": (b4, ["a", "b", "X", "Y"]),
            "c3": (c3, ["a", "b", "Z"]),
        }
        for saver in (store.saver, cold):
            for config, value in expected.values():
                assert await store.values(config, saver=saver) == {"m": value}
        listed = {
            t.config["configurable"]["checkpoint_id"]: t.checkpoint["channel_values"]["m"]
            async for t in cold.alist(generate_config(thread))
        }
        assert listed == {c["configurable"]["checkpoint_id"]: v for c, v in expected.values()}
    loaded = await store.saver.aget_tuple(c3)
    version = loaded.checkpoint["channel_versions"]["m"]
    assert next(r for r in store.blob_rows(thread) if r.version == version).base is not None


async def test_stale_cache_falls_back_to_a_full_value(store: Any) -> None:
    thread = _thread("stale")
    c1 = await store.put(thread, {"m": [1]})
    c2 = await store.put(thread, {"m": [1, 2]}, parent=c1)
    # Another process prunes the rows this saver's cache would build on.
    store.execute(delete(blobs).where(blobs.c.thread_id == thread))
    c3 = await store.put(thread, {"m": [1, 2, 3]}, parent=c2)
    assert await store.values(c3) == {"m": [1, 2, 3]}
    assert [(r.base, r.depth) for r in store.blob_rows(thread)] == [(None, 0)]


async def test_first_checkpoint_of_a_thread_never_reuses_the_cache(store: Any) -> None:
    thread = _thread("reuse")
    c1 = await store.put(thread, {"m": [1]})
    await store.put(thread, {"m": [1, 2]}, parent=c1)
    await store.saver.adelete_thread(thread)
    fresh = await store.put(thread, {"m": [1, 2, 3]})
    assert await store.values(fresh) == {"m": [1, 2, 3]}
    assert [r.base for r in store.blob_rows(thread)] == [None]


async def test_chains_are_capped(saver_url: str, store: Any) -> None:
    thread = _thread("cap")
    async with SQLAlchemySaver.from_url(saver_url, max_chain=2) as saver:
        config = None
        for n in range(1, 8):
            config = await store.put(thread, {"m": list(range(n))}, parent=config, saver=saver)
        assert [r.depth for r in store.blob_rows(thread)] == [0, 1, 2, 0, 1, 2, 0]
        assert await store.values(config, saver=saver) == {"m": list(range(7))}


async def test_listing_pages_filters_and_limits(store: Any) -> None:
    thread = _thread("pages")
    configs = []
    config = None
    for n in range(120):
        config = await store.put(
            thread,
            {"m": list(range(n + 1))},
            parent=config,
            step=n,
            even=n % 2 == 0,
            tag={"a": n % 3},
        )
        configs.append(config)
    listed = [t async for t in store.saver.alist(generate_config(thread))]
    assert len(listed) == 120
    assert [len(t.checkpoint["channel_values"]["m"]) for t in listed] == list(range(120, 0, -1))
    evens = store.saver.alist(generate_config(thread), filter={"even": True})
    assert [t.metadata["step"] async for t in evens] == list(range(118, -1, -2))
    tagged = store.saver.alist(generate_config(thread), filter={"tag": {"a": 0}}, limit=5)
    assert [t.metadata["step"] async for t in tagged] == [117, 114, 111, 108, 105]
    before = configs[100]
    page = [t async for t in store.saver.alist(generate_config(thread), before=before, limit=3)]
    assert [t.metadata["step"] for t in page] == [99, 98, 97]
    assert [t.metadata["step"] for t in store.saver.list(generate_config(thread), limit=2)] == [
        119,
        118,
    ]


async def test_prune_keeps_what_the_latest_checkpoint_needs(store: Any) -> None:
    thread = _thread("prune")
    config = None
    for n in range(1, 6):
        k = {"n": n}  # not a scalar, so stored in a value row
        config = await store.put(thread, {"m": list(range(n)), "k": k}, parent=config)
    assert config is not None
    await store.saver.aprune([thread])
    async with SQLAlchemySaver.from_url(store.url) as cold:
        latest = await cold.aget_tuple(generate_config(thread))
        assert latest is not None
        assert latest.checkpoint["channel_values"] == {"m": [0, 1, 2, 3, 4], "k": {"n": 5}}
        assert latest.parent_config is None
    rows = store.blob_rows(thread)
    assert len([r for r in rows if r.channel == "k"]) == 1
    assert len([r for r in rows if r.channel == "m"]) == 5  # the whole delta chain


async def test_delete_for_runs_keeps_chains_other_runs_build_on(store: Any) -> None:
    thread = _thread("runs")
    c1 = await store.put(thread, {"m": [1]}, run_id="r1")
    c2 = await store.put(thread, {"m": [1, 2]}, parent=c1, run_id="r1")
    c3 = await store.put(thread, {"m": [1, 2, 3]}, parent=c2, run_id="r2")
    await store.saver.adelete_for_runs(["r1"])
    async with SQLAlchemySaver.from_url(store.url) as cold:
        assert await store.values(c3, saver=cold) == {"m": [1, 2, 3]}
        assert await cold.aget_tuple(c1) is None
    await store.saver.adelete_for_runs(["r2"])
    assert store.blob_rows(thread) == []


async def test_copy_thread_carries_chains_and_refuses_to_merge(store: Any) -> None:
    source, target = _thread("src"), _thread("dst")
    c1 = await store.put(source, {"m": [1]})
    c2 = await store.put(source, {"m": [1, 2]}, parent=c1)
    store.saver.copy_thread(source, target)
    copied = generate_config(target, checkpoint_id=c2["configurable"]["checkpoint_id"])
    assert await store.values(copied) == {"m": [1, 2]}
    c3 = await store.put(target, {"m": [1, 2, 3]}, parent=copied)
    assert await store.values(c3) == {"m": [1, 2, 3]}
    assert await store.values(c2) == {"m": [1, 2]}
    with pytest.raises(PersistenceError, match="already has checkpoints"):
        await store.saver.acopy_thread(source, target)


async def test_prune_refuses_delta_channel_threads(store: Any) -> None:
    thread = _thread("deltachannel")
    await store.put(thread, {"m": [1]}, counters_since_delta_snapshot={"m": [1, 1]})
    with pytest.raises(UnsupportedOperation, match="DeltaChannel"):
        await store.saver.aprune([thread])
    with pytest.raises(ValueError, match="unknown prune strategy"):
        await store.saver.aprune([thread], strategy="sometimes")
    await store.saver.aprune([thread], strategy="delete")
    assert store.blob_rows(thread) == []


async def test_values_this_saver_wrote_read_back_without_fetching_them(store: Any) -> None:
    """The latest checkpoint of a thread this process writes (a session's next turn) reads in
    one statement: lists and small values come from memory, a consumed trigger is known
    empty; a cold saver (another process) fetches them and reads the same."""
    saver = store.saver
    thread = _thread("kept")
    first = await store.put(thread, {"messages": ["hi"], "input": {"text": "hi"}})
    before = await saver.aget_tuple(first)
    assert before is not None
    versions = dict(before.checkpoint["channel_versions"])
    # The list grows; the trigger is versioned with no value (consumed): no row is stored.
    new = {
        "messages": saver.get_next_version(versions["messages"], None),
        "trigger": saver.get_next_version(None, None),
    }
    values = {"messages": ["hi", "hello"], "input": {"text": "hi"}}
    checkpoint = generate_checkpoint(channel_values=values, channel_versions=versions | new)
    config = generate_config(thread)
    config["configurable"]["checkpoint_id"] = first["configurable"]["checkpoint_id"]
    latest = await saver.aput(config, checkpoint, generate_metadata(), new)
    sent: list[str] = []

    def statement(conn: Any, cursor: Any, sql: str, *rest: Any) -> None:
        if not sql.startswith("BEGIN"):
            sent.append(sql)

    engine = _engine(saver)
    event.listen(engine, "before_cursor_execute", statement)
    try:
        read = await store.values(latest)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
    assert read == values
    assert len(sent) == 1, sent
    read["input"]["text"] = "changed by the caller"  # each read has a copy of its own
    assert await store.values(latest) == values
    async with SQLAlchemySaver.from_url(store.url) as cold:
        assert await store.values(latest, saver=cold) == values


def _engine(saver: SQLAlchemySaver) -> Any:
    """The sync engine the saver's async calls run on."""
    driver: Any = saver._async_driver()
    sync = getattr(driver, "_sync", None)
    return sync.engine if sync is not None else driver.engine.sync_engine
