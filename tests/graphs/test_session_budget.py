"""Session budgets: refused before the call, typed, stored, and local to one session."""

from __future__ import annotations

import asyncio
import gc
import warnings
from typing import Any

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from support import scripted

from accord.graphs import BudgetExceeded, Limits, Sessions, Usage, consensus, handoff


def _chatty(turns: int = 6, *, latency: float = 0.0) -> Any:
    replies = [{"reply": f"answer {i}", "handoff_to": "none"} for i in range(turns)]
    return handoff([scripted("desk", *replies, latency=latency)])


def _vote(choice: str) -> dict[str, Any]:
    return {"choice": choice, "confidence": 0.9, "rationale": f"I say {choice}."}


async def _until_refused(session: Any) -> Any:
    with pytest.raises(BudgetExceeded) as caught:  # noqa: PT012 - sends until the limit
        for _ in range(5):
            await session.asend("and again, with a longer message to spend more tokens")
    return caught


async def test_model_call_limit_stops_before_the_call_and_keeps_usage(db: str) -> None:
    graph = _chatty()
    async with Sessions(graph, db=db) as sessions:
        session = await sessions.aopen("alice", limits=Limits(model_calls=2))
        await session.asend("one")
        await session.asend("two")
        with pytest.raises(BudgetExceeded) as caught:
            await session.asend("three")

        error = caught.value
        assert (error.limit, error.used.model_calls, error.limits.model_calls) == (
            "model_calls",
            2,
            2,
        )
        assert "raise the session's limits" in str(error)
        record = await sessions.aget(session.id, "alice")
        assert record.usage["model_calls"] == 2
        trail = await sessions.aaudit(session.id, "alice")
        assert trail[-1].kind == "budget_hit"
        assert trail[-1].details["limit"] == "model_calls"
        # The refused call never reached the model: one scripted turn per answered message.
        model = graph.nodes["desk"].bound.agent.models[0]
        assert len(model.calls) == 2
        assert trail[-1].details["refused"] is True
        # Refused before it arrived: the third message is not kept, unanswered, in the history.
        assert "three" not in [m.text for m in await session.ahistory()]
        # Sent by id (as the server does), the refusal resolves `started` before any event.
        started = asyncio.get_running_loop().create_future()
        events = sessions.astream(session.id, "alice", "four", started=started)
        with pytest.raises(BudgetExceeded):
            await anext(events)
        assert isinstance(started.exception(), BudgetExceeded)


async def test_token_limit_counts_prompt_and_completion_of_every_call(db: str) -> None:
    async with Sessions(_chatty(), db=db) as sessions:
        session = await sessions.aopen("alice", limits=Limits(tokens=400))
        first = await session.asend("hello")
        assert 0 < first.usage.tokens < 400
        assert first.usage.tokens == first.usage.tokens_in + first.usage.tokens_out
        caught = await _until_refused(session)
        assert caught.value.limit == "tokens"
        assert caught.value.used.tokens <= 400


async def test_parallel_calls_reserve_their_share_before_they_start(db: str) -> None:
    panel = [scripted(name, _vote("yes")) for name in ("a", "b", "c", "d")]
    graph = consensus(panel, options=["yes", "no"])
    async with Sessions(graph, db=db) as sessions:
        session = await sessions.aopen("alice", limits=Limits(tokens=1200))
        with pytest.raises(BudgetExceeded) as caught:
            await session.asend("Ship it?")
    # Four voters at once would need four reservations of prompt + 512 completion tokens;
    # the budget admits fewer, and the refusal came before the others were sent.
    calls = sum(len(agent.models[0].calls) for agent in panel)  # type: ignore[union-attr,misc]
    assert 1 <= calls < 4
    assert caught.value.used.model_calls == calls
    assert caught.value.used.tokens <= 1200


async def test_step_limit(db: str) -> None:
    async with Sessions(_chatty(), db=db) as sessions:
        session = await sessions.aopen("alice", limits=Limits(steps=3))
        await session.asend("one")
        with pytest.raises(BudgetExceeded) as caught:
            await session.asend("two")
        assert caught.value.limit == "steps"
        assert caught.value.used.steps == 3


async def test_wall_time_limit_interrupts_a_slow_run(db: str) -> None:
    async with Sessions(_chatty(latency=0.5), db=db) as sessions:
        session = await sessions.aopen("alice", limits=Limits(wall_time=0.2))
        with pytest.raises(BudgetExceeded) as caught:
            await session.asend("one")
        assert caught.value.limit == "wall_time"
        assert caught.value.used.wall_time >= 0.2
        with pytest.raises(BudgetExceeded, match="wall_time limit"):
            await session.asend("two")  # nothing left: refused before it starts


async def test_concurrency_limit_bounds_parallel_branches(db: str) -> None:
    panel = [scripted(name, _vote("yes"), latency=0.05) for name in ("a", "b", "c", "d")]
    graph = consensus(panel, options=["yes", "no"])
    async with Sessions(graph, db=db) as sessions:
        session = await sessions.aopen("alice", limits=Limits(concurrency=1))
        reply = await session.asend("Ship it?")
    assert reply.values["outcome"]["decision"] == "yes"
    # One voter at a time: each call started after the previous one ended.
    assert reply.usage.wall_time >= 4 * 0.05


async def test_a_runaway_session_leaves_others_alone(db: str) -> None:
    async with Sessions(_chatty(turns=1000), db=db) as sessions:
        runaway = await sessions.aopen("alice", limits=Limits(model_calls=1))
        other = await sessions.aopen("bob", limits=Limits(model_calls=5))
        await runaway.asend("one")
        with pytest.raises(BudgetExceeded):
            await runaway.asend("two")
        for text in ("one", "two", "three"):
            assert (await other.asend(text)).text.startswith("answer")
        assert other.usage.model_calls == 3


def test_limits_and_usage_validate_and_round_trip() -> None:
    limits = Limits(tokens=10, wall_time=1.5)
    assert Limits.from_dict(limits.to_dict()) == limits
    assert Limits().to_dict() == {}
    with pytest.raises(ValueError, match=r"Limits\.tokens must be positive"):
        Limits(tokens=0)
    usage = Usage(1, 2, 3, 4, 5.0)
    assert Usage.from_dict(usage.to_dict()) == usage
    assert (usage + usage).tokens == 6


class _Bystander(BaseCallbackHandler):
    """A handler LangChain runs off the caller's thread (not inline), as many tracers are."""

    run_inline = False


async def test_a_refused_call_leaves_no_callback_coroutine_unawaited(db: str) -> None:
    # LangChain makes a coroutine per handler before the meter refuses; none may be dropped
    # un-awaited (Python's "coroutine 'ahandle_event' was never awaited" warning).
    async with Sessions(_chatty(), db=db, callbacks=[_Bystander(), _Bystander()]) as sessions:
        session = await sessions.aopen("alice", limits=Limits(model_calls=1))
        await session.asend("hello")
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(BudgetExceeded):
                await session.asend("and again")
            gc.collect()
    assert [str(w.message) for w in seen if w.category is RuntimeWarning] == []


async def test_a_refusal_is_not_logged_as_a_callback_fault(
    db: str, caplog: pytest.LogCaptureFixture
) -> None:
    # LangChain logs "Error in <handler>.on_chat_model_start callback" before re-raising; a
    # refusal reaches the caller as BudgetExceeded and must not also print as a fault (the
    # quickstart notebook showed it on stderr once the meter ran inside the run's hooks).
    async with Sessions(_chatty(), db=db) as sessions:
        session = await sessions.aopen("alice", limits=Limits(model_calls=1))
        await session.asend("hello")
        logger = "langchain_core.callbacks.manager"
        with caplog.at_level("WARNING", logger=logger), pytest.raises(BudgetExceeded):
            await session.asend("and again")
    assert [r.getMessage() for r in caplog.records if "callback" in r.getMessage()] == []
