"""Real LangGraph graphs on every backend: same state, history and forks as InMemorySaver."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.channels.delta import DeltaChannel
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph
from sqlalchemy import create_engine, select
from sqlalchemy.pool import NullPool

from accord.persistence import SQLAlchemySaver
from accord.persistence.schema import blobs, checkpoints, writes

FILLER = "lorem ipsum dolor sit amet " * 11  # ~300 characters, like a real chat message


class Chat(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def _reply(state: Chat) -> dict[str, Any]:
    return _answer(state)


def _answer(state: Any) -> dict[str, Any]:
    turn = sum(isinstance(m, HumanMessage) for m in state["messages"])
    last = state["messages"][-1]
    return {"messages": [AIMessage(id=f"a-{last.id}", content=f"{turn}: {FILLER}")]}


def chat_graph(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any]:
    builder = StateGraph(Chat)
    builder.add_node("reply", _reply)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", END)
    return builder.compile(checkpointer=checkpointer)


def _ask(turn: int, tag: str = "h") -> dict[str, Any]:
    return {"messages": [HumanMessage(id=f"{tag}{turn}", content=f"question {turn} {FILLER}")]}


def _config(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


async def _history(graph: CompiledStateGraph[Any], config: RunnableConfig) -> list[Any]:
    """The history without ids and timestamps, which differ between savers."""
    return [
        (
            snap.values,
            snap.next,
            snap.metadata.get("source") if snap.metadata else None,
            snap.metadata.get("step") if snap.metadata else None,
            snap.parent_config is None,
            [(w.name, w.path) for w in snap.tasks],
        )
        async for snap in graph.aget_state_history(config)
    ]


def stored_bytes(url: str, thread_id: str) -> int:
    """Bytes of payload a thread occupies across the checkpointer's tables."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            total = 0
            for table, columns in (
                (checkpoints, ("checkpoint", "metadata")),
                (blobs, ("data",)),
                (writes, ("value",)),
            ):
                query = select(*(table.c[c] for c in columns)).where(table.c.thread_id == thread_id)
                for row in conn.execute(query):
                    total += sum(len(v) for v in row)
            return total
    finally:
        engine.dispose()


async def test_many_turns_match_in_memory_and_stay_flat(
    saver: SQLAlchemySaver, saver_url: str
) -> None:
    ours, reference = chat_graph(saver), chat_graph(InMemorySaver())
    thread, config = "flat-turns", _config("flat-turns")
    sizes = [stored_bytes(saver_url, thread)]
    for turn in range(150):
        await ours.ainvoke(_ask(turn), config)
        await reference.ainvoke(_ask(turn), config)
        if turn % 50 == 49:
            sizes.append(stored_bytes(saver_url, thread))

    assert (await ours.aget_state(config)).values == (await reference.aget_state(config)).values
    assert await _history(ours, config) == await _history(reference, config)
    first, last = sizes[1] - sizes[0], sizes[3] - sizes[2]
    assert last <= first * 1.15, f"bytes per 50 turns grew from {first} to {last}"
    assert first / 50 < 8_000, f"{first / 50:.0f} bytes per turn"


async def test_forks_and_edits_match_in_memory(saver_url: str) -> None:
    reference = chat_graph(InMemorySaver())
    config = _config("forks")
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        ours = chat_graph(saver)
        for turn in range(12):
            await ours.ainvoke(_ask(turn), config)
            await reference.ainvoke(_ask(turn), config)
    # A new saver (cold cache), as after a restart: fork from an old checkpoint, then edit.
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        ours = chat_graph(saver)
        for graph in (ours, reference):
            old = [s async for s in graph.aget_state_history(config)][20]
            await graph.ainvoke(_ask(100, "fork"), old.config)
            await graph.ainvoke(_ask(101, "fork"), config)
            edited = AIMessage(id="a-h3", content="edited answer")
            await graph.aupdate_state(config, {"messages": [edited]})
            await graph.ainvoke(_ask(102, "fork"), config)
        assert await _history(ours, config) == await _history(reference, config)
        state = await ours.aget_state(config)
        assert [m.id for m in state.values["messages"]][-6:] == [
            "fork100",
            "a-fork100",
            "fork101",
            "a-fork101",
            "fork102",
            "a-fork102",
        ]


async def test_sync_invoke_matches_in_memory(saver_url: str) -> None:
    config = _config("sync-turns")
    reference = chat_graph(InMemorySaver())
    with SQLAlchemySaver.from_url(saver_url) as saver:
        ours = chat_graph(saver)
        for turn in range(15):
            ours.invoke(_ask(turn), config)
            reference.invoke(_ask(turn), config)
        old = list(ours.get_state_history(config))[9]
        ours.invoke(_ask(50, "fork"), old.config)
        old = list(reference.get_state_history(config))[9]
        reference.invoke(_ask(50, "fork"), old.config)
        assert ours.get_state(config).values == reference.get_state(config).values
        assert len(list(ours.get_state_history(config))) == len(
            list(reference.get_state_history(config))
        )


def _merge(state: list[AnyMessage], batches: Sequence[list[AnyMessage]]) -> list[AnyMessage]:
    return functools.reduce(add_messages, batches, state)  # type: ignore[arg-type]


class DeltaChat(TypedDict):
    messages: Annotated[list[AnyMessage], DeltaChannel(_merge, snapshot_frequency=4)]


def _delta_reply(state: DeltaChat) -> dict[str, Any]:
    return _answer(state)


async def test_langgraph_delta_channel_matches_in_memory(saver: SQLAlchemySaver) -> None:
    def build(checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any]:
        builder = StateGraph(DeltaChat)
        builder.add_node("reply", _delta_reply)
        builder.add_edge(START, "reply")
        builder.add_edge("reply", END)
        return builder.compile(checkpointer=checkpointer)

    ours, reference = build(saver), build(InMemorySaver())
    config = _config("delta-channel")
    for turn in range(10):
        await ours.ainvoke(_ask(turn), config)
        await reference.ainvoke(_ask(turn), config)
    assert (await ours.aget_state(config)).values == (await reference.aget_state(config)).values
    assert await _history(ours, config) == await _history(reference, config)
