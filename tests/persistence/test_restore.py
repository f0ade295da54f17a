"""Point-in-time restore: the state at a moment or checkpoint becomes the new head.

The graphs are real compiled StateGraphs on the real savers; the restored state is compared
with the state recorded at the moment restored, and the history must keep every checkpoint.
"""

from __future__ import annotations

import operator
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, StateSnapshot, interrupt

from accord.persistence import NothingToRestore, SQLAlchemySaver, arestore, restore
from accord.persistence.restoring import RESTORED_FROM


class Chat(TypedDict):
    turn: int
    said: Annotated[list[str], operator.add]


def _reply(state: Chat) -> dict[str, Any]:
    return {"turn": state["turn"] + 1, "said": [f"reply {state['turn']}"]}


def _review(state: Chat) -> dict[str, Any]:
    return {"said": [f"reviewed {state['turn']}"]}


def _graph() -> StateGraph[Chat]:
    builder = StateGraph(Chat)
    builder.add_node("reply", _reply)
    builder.add_node("review", _review)
    builder.add_edge(START, "reply")
    builder.add_edge("reply", "review")
    builder.add_edge("review", END)
    return builder


def _thread() -> RunnableConfig:
    return {"configurable": {"thread_id": f"t-{uuid.uuid4().hex}"}}


async def test_restore_at_a_moment_brings_back_that_state(saver_url: str) -> None:
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        graph = _graph().compile(checkpointer=saver)
        config = _thread()
        recorded: list[tuple[datetime, dict[str, Any], str]] = []
        for turn in range(3):
            await graph.ainvoke({"turn": turn * 10, "said": [f"user {turn}"]}, config)
            state = await graph.aget_state(config)
            recorded.append(
                (datetime.now(UTC), state.values, state.config["configurable"]["checkpoint_id"])
            )
        before = [t.checkpoint["id"] async for t in saver.alist(config)]

        moment, values, checkpoint_id = recorded[1]
        new = await arestore(saver, config["configurable"]["thread_id"], at=moment)
        restored = await graph.aget_state(new)
        assert restored.values == values
        assert restored.next == ()
        assert restored.metadata is not None
        assert restored.metadata[RESTORED_FROM] == checkpoint_id  # type: ignore[literal-required]
        assert restored.parent_config is not None
        assert restored.parent_config["configurable"]["checkpoint_id"] == before[0]

        # History kept: every earlier checkpoint is still there, below the new head.
        after = [t.checkpoint["id"] async for t in saver.alist(config)]
        assert after == [new["configurable"]["checkpoint_id"], *before]
        assert (await graph.aget_state(config)).values == values

        # The conversation goes on from the restored state.
        final = await graph.ainvoke({"turn": 99, "said": ["user again"]}, config)
        assert final["said"] == [*values["said"], "user again", "reply 99", "reviewed 100"]


async def test_restore_mid_run_checkpoint_resumes_the_pending_node(saver_url: str) -> None:
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        graph = _graph().compile(checkpointer=saver)
        config = _thread()
        await graph.ainvoke({"turn": 1, "said": ["hi"]}, config)
        await graph.ainvoke({"turn": 5, "said": ["again"]}, config)
        history = [s async for s in graph.aget_state_history(config)]
        # The first run's state between "reply" and "review".
        (mid,) = [s for s in history if s.next == ("review",) and s.values["turn"] == 2]

        new = await arestore(
            saver,
            config["configurable"]["thread_id"],
            checkpoint_id=mid.config["configurable"]["checkpoint_id"],
        )
        restored = await graph.aget_state(new)
        assert restored.values == mid.values
        assert restored.next == ("review",)
        final = await graph.ainvoke(None, config)
        assert final == {"turn": 2, "said": ["hi", "reply 1", "reviewed 2"]}


def test_sync_restore_on_any_saver() -> None:
    saver = InMemorySaver()
    graph = _graph().compile(checkpointer=saver)
    config = _thread()
    graph.invoke({"turn": 0, "said": ["one"]}, config)
    first = graph.get_state(config)
    graph.invoke({"turn": 7, "said": ["two"]}, config)
    thread_id = config["configurable"]["thread_id"]
    new = restore(saver, thread_id, checkpoint_id=first.config["configurable"]["checkpoint_id"])
    assert graph.get_state(new).values == first.values
    assert len(list(graph.get_state_history(config))) == 1 + 2 * 4  # two runs + the restore


async def test_nothing_to_restore_is_typed(saver_url: str) -> None:
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        graph = _graph().compile(checkpointer=saver)
        config = _thread()
        thread_id = config["configurable"]["thread_id"]
        long_ago = datetime.now(UTC) - timedelta(days=1)
        with pytest.raises(NothingToRestore, match="pick a later time"):
            await arestore(saver, thread_id, at=long_ago)
        await graph.ainvoke({"turn": 0, "said": []}, config)
        with pytest.raises(NothingToRestore):
            await arestore(saver, thread_id, at=long_ago.replace(tzinfo=None))
        with pytest.raises(NothingToRestore):
            restore(saver, thread_id, checkpoint_id=str(uuid.uuid4()))
        with pytest.raises(ValueError, match="exactly one"):
            await arestore(saver, thread_id)
        with pytest.raises(ValueError, match="exactly one"):
            restore(saver, thread_id, at=long_ago, checkpoint_id="x")
        assert len([t async for t in saver.alist(config)]) == 4  # nothing written


def _ask(state: Chat) -> dict[str, Any]:
    return {"said": [f"answer {interrupt('which plan?')}"]}


async def test_restore_in_a_subgraph_namespace(saver_url: str) -> None:
    inner = StateGraph(Chat)
    inner.add_node("reply", _reply)
    inner.add_node("ask", _ask)
    inner.add_edge(START, "reply")
    inner.add_edge("reply", "ask")
    outer = StateGraph(Chat)
    outer.add_node("desk", inner.compile())
    outer.add_edge(START, "desk")
    async with SQLAlchemySaver.from_url(saver_url) as saver:
        graph = outer.compile(checkpointer=saver)
        config = _thread()
        await graph.ainvoke({"turn": 0, "said": ["hi"]}, config)  # stops at the interrupt
        waiting = (await graph.aget_state(config, subgraphs=True)).tasks[0].state
        assert isinstance(waiting, StateSnapshot)
        assert waiting.values == {"turn": 1, "said": ["hi", "reply 0"]}
        ns = waiting.config["configurable"]["checkpoint_ns"]
        history = [
            t
            async for t in saver.alist(
                {"configurable": {**config["configurable"], "checkpoint_ns": ns}}
            )
        ]
        (entry,) = [t for t in history if t.metadata.get("step") == 0]

        new = await arestore(
            saver,
            config["configurable"]["thread_id"],
            checkpoint_ns=ns,
            checkpoint_id=entry.checkpoint["id"],
        )
        assert new["configurable"]["checkpoint_ns"] == ns
        restored = (await graph.aget_state(config, subgraphs=True)).tasks[0].state
        assert isinstance(restored, StateSnapshot)
        assert restored.values == {"turn": 0, "said": ["hi"]}
        assert restored.next == ("reply",)
        # Resuming runs the subgraph again from the restored state.
        final = await graph.ainvoke(Command(resume="pro"), config)
        assert final["said"][-2:] == ["reply 0", "answer pro"]
