"""Hot standby: a session moves to the backup agent mid-conversation when its agent is down or full.

The models are real `ChatOpenAI` clients talking HTTP to fault-injection servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import SecretStr
from support import Runner, thread

from accord.agents import (
    Agent,
    ChainPolicy,
    FaultServer,
    MalformedOutput,
    ScriptedModel,
    breakers,
    canned,
    standby,
)
from accord.agents.models import Backoff
from accord.agents.models.chain import set_default_policy
from accord.agents.routing.standby import FAILOVER, OVERLOAD
from accord.graphs import handoff, routed


@pytest.fixture(autouse=True)
def _fresh_process() -> Iterator[None]:
    """Endpoint health and agent load are process-wide: each test starts with none."""
    breakers().reset()
    standby().reset()
    fast = ChainPolicy(backoff=Backoff(initial=0.001, max_interval=0.01))
    previous = set_default_policy(fast)
    yield
    set_default_policy(previous)
    breakers().reset()
    standby().reset()


ALONE: dict[str, list[str]] = {"intake": [], "support": []}
"""No chosen handoffs: only a failover moves a session."""


class Desk:
    """A fault server answering as one agent, remembering the prompts it was sent."""

    def __init__(self, reply: str) -> None:
        self.prompts: list[list[str]] = []
        self.server = FaultServer(canned(data=self._answer))
        self.reply = reply

    def _answer(self, request: dict[str, Any]) -> dict[str, Any]:
        self.prompts.append([str(m["content"]) for m in request["messages"]])
        return {"reply": self.reply}

    def model(self) -> ChatOpenAI:
        return ChatOpenAI(model="m", base_url=self.server.url, api_key=SecretStr("x"))


@pytest.fixture
def desks() -> Iterator[tuple[Desk, Desk]]:
    primary, standby = Desk("Intake here, how can I help?"), Desk("Support here, carrying on.")
    with primary.server, standby.server:
        yield primary, standby


def _team(primary: Desk, standby: Desk) -> list[Agent]:
    return [
        Agent(name="intake", description="Greets", models=(primary.model(),), backup="support"),
        Agent(name="support", description="Helps", models=(standby.model(),)),
    ]


async def test_an_outage_mid_session_moves_it_to_the_backup(
    desks: tuple[Desk, Desk], run: Runner
) -> None:
    primary, standby = desks
    graph = handoff(_team(*desks), routes=ALONE, checkpointer=InMemorySaver())
    await run(graph, {"messages": [HumanMessage("Hi, my router is broken.")]}, thread())

    primary.server.faults.rate_500 = 1.0  # the outage starts between two turns
    state = await run(graph, {"messages": [HumanMessage("It blinks red.")]}, thread())

    assert [m.text for m in state["messages"]] == [
        "Hi, my router is broken.",
        "Intake here, how can I help?",
        "It blinks red.",
        "Support here, carrying on.",
    ]
    assert state["messages"][-1].name == "support"
    assert state["active_agent"] == "support"
    assert state["handoffs"] == [{"source": "intake", "target": "support", "reason": FAILOVER}]
    (prompt,) = standby.prompts  # the backup saw the whole conversation
    assert prompt[1:] == [
        "The conversation so far:\nuser: Hi, my router is broken.\n"
        "intake: Intake here, how can I help?\n"
        "Now answer the user's latest message without repeating earlier replies.",
        "It blinks red.",
    ]

    state = await run(graph, {"messages": [HumanMessage("Still red.")]}, thread())
    assert state["messages"][-1].text == "Support here, carrying on."
    assert primary.server.counts == {"ok": 1, "500": 3}  # the session stays with the backup


async def test_once_the_breaker_is_open_other_sessions_fail_over_without_a_request(
    desks: tuple[Desk, Desk],
) -> None:
    primary, _ = desks
    graph = handoff(_team(*desks), routes=ALONE, checkpointer=InMemorySaver())
    primary.server.down()
    for session in ("a", "b", "c"):
        state = await graph.ainvoke({"messages": [HumanMessage("hello")]}, thread(session))
        assert state["active_agent"] == "support"
    assert primary.prompts == []  # the dead endpoint cost the first session three fast refusals


async def test_a_routed_specialist_that_is_down_hands_over_to_its_backup(
    desks: tuple[Desk, Desk], run: Runner
) -> None:
    primary, _ = desks
    graph = routed(_team(*desks), router=lambda state: "intake", checkpointer=InMemorySaver())
    primary.server.faults.rate_reset = 1.0

    state = await run(graph, {"messages": [HumanMessage("Where is my parcel?")]}, thread())

    assert state["route"]["agent"] == "intake"
    assert state["active_agent"] == "support"
    assert state["handoffs"] == [{"source": "intake", "target": "support", "reason": FAILOVER}]
    assert state["messages"][-1].text == "Support here, carrying on."
    assert primary.server.counts == {"reset": 3}


async def test_when_the_backup_is_down_too_the_error_surfaces_once(
    desks: tuple[Desk, Desk],
) -> None:
    primary, standby = desks
    team = [
        Agent(name="intake", description="Greets", models=(primary.model(),), backup="support"),
        Agent(name="support", description="Helps", models=(standby.model(),), backup="intake"),
    ]
    graph = handoff(team, routes=ALONE, checkpointer=InMemorySaver())
    primary.server.faults.rate_500 = standby.server.faults.rate_500 = 1.0

    with pytest.raises(openai.InternalServerError):
        await graph.ainvoke({"messages": [HumanMessage("hello")]}, thread())
    # Support did not pass the session back to intake, whose breaker it found open.
    assert (primary.server.requests, standby.server.requests) == (3, 3)


async def test_a_bad_answer_is_not_a_reason_to_fail_over() -> None:
    with FaultServer(canned(data={"unexpected": True})) as sloppy:
        model = ChatOpenAI(model="m", base_url=sloppy.url, api_key=SecretStr("x"))
        spare = ScriptedModel([])
        team = [
            Agent(name="intake", description="Greets", models=(model,), backup="support"),
            Agent(name="support", description="Helps", models=(spare,)),
        ]
        graph = handoff(team, routes=ALONE, checkpointer=InMemorySaver())
        with pytest.raises(MalformedOutput):
            await graph.ainvoke({"messages": [HumanMessage("hello")]}, thread())


async def test_an_agent_over_capacity_hands_new_work_to_its_backup() -> None:
    busy = ScriptedModel([{"reply": "Intake, slowly."}], latency=1.0)
    spare = ScriptedModel([{"reply": "Support, right away."}])
    team = [
        Agent(name="intake", description="Greets", models=(busy,), capacity=1, backup="support"),
        Agent(name="support", description="Helps", models=(spare,)),
    ]
    graph = handoff(team, routes=ALONE, checkpointer=InMemorySaver())

    first = asyncio.create_task(graph.ainvoke({"messages": [HumanMessage("hi")]}, thread("a")))
    async with asyncio.timeout(10):
        # Wait until the first session's step is in flight; the load is a counter, not an event.
        while standby().load("intake") == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    second = await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread("b"))
    done = await first

    assert done["messages"][-1].text == "Intake, slowly."
    assert second["messages"][-1].text == "Support, right away."
    assert second["handoffs"] == [{"source": "intake", "target": "support", "reason": OVERLOAD}]
    assert standby().load("intake") == 0
    busy.assert_exhausted()
    spare.assert_exhausted()


async def test_within_one_agent_a_fallback_model_answers_tool_rounds_and_all(
    desks: tuple[Desk, Desk], run: Runner
) -> None:
    primary, standby = desks

    @tool
    def parcel_status(parcel: str) -> str:
        """Where a parcel is."""
        return "in transit"

    agent = Agent(
        name="intake",
        description="Greets",
        models=(primary.model(), standby.model()),
        tools=(parcel_status,),
    )
    graph = handoff([agent], checkpointer=InMemorySaver())
    primary.server.faults.rate_500 = 1.0

    state = await run(graph, {"messages": [HumanMessage("Where is my parcel?")]}, thread())

    assert state["messages"][-1].text == "Support here, carrying on."
    assert state["active_agent"] == "intake"  # no failover: the agent itself stayed up
    assert not state.get("handoffs")
    assert primary.server.counts == {"500": 3}  # the tool round found it down; then skipped
    assert standby.server.counts == {"ok": 2}  # the tool round and the answer
