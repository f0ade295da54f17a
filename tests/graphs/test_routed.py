"""The routed pattern on scripted models: a model router, a callable router, the decision kept."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import SecretStr
from support import Runner, assert_exhausted, ranked_desks, scripted, thread, topology

from accord.agents import Agent, AgentSpecError, FaultServer, Router, ScriptedModel, canned
from accord.agents.errors import EmptyRequest, MalformedOutput
from accord.agents.routing import (
    ArrivalForecast,
    EmbeddingFit,
    LoadCounter,
    PerformanceHistory,
)
from accord.graphs import ModelRouter, RoutedState, routed
from accord.graphs.patterns.routes import REASON_ASKED, REASON_CHARS, route_schema


def _model(agent: Agent) -> ScriptedModel:
    model = agent.models[0]
    assert isinstance(model, ScriptedModel)
    return model


async def test_the_model_router_picks_by_description_and_skills(run: Runner) -> None:
    triage = scripted("triage", {"agent": "billing", "reason": "an invoice question"})
    billing = scripted("billing", {"reply": "Your invoice is paid."}, skills=("invoices",))
    tech = scripted("tech", skills=("outages",))
    graph = routed([billing, tech], router=triage, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("Is my invoice paid?")]}, thread())

    assert state["route"] == {"agent": "billing", "reason": "an invoice question", "by": "model"}
    assert state["active_agent"] == "billing"
    assert state["messages"][-1].text == "Your invoice is paid."
    assert state["messages"][-1].name == "billing"
    prompt = _model(triage).calls[0].messages[0].text
    assert "- billing: the billing desk (skills: invoices)" in prompt
    assert "- tech: the tech desk (skills: outages)" in prompt
    for agent in (triage, billing, tech):
        _model(agent).assert_exhausted()


async def test_the_default_router_uses_the_first_agents_models() -> None:
    first = ScriptedModel([{"agent": "tech", "reason": "an outage"}])
    billing = Agent(name="billing", description="Bills.", models=(first,))
    tech = scripted("tech", {"reply": "Rebooting."})
    graph = routed([billing, tech], checkpointer=InMemorySaver())

    state = await graph.ainvoke({"messages": [HumanMessage("The site is down")]}, thread())

    assert state["route"]["agent"] == "tech"
    assert state["messages"][-1].text == "Rebooting."
    assert "Choose who should answer" in first.calls[0].messages[0].text
    first.assert_exhausted()
    _model(tech).assert_exhausted()


async def test_a_callable_router_asks_no_model(run: Runner) -> None:
    billing, tech = scripted("billing"), scripted("tech", {"reply": "Looking into it."})

    def by_keyword(state: RoutedState) -> str:
        return "tech" if "down" in state["messages"][-1].text else "billing"

    graph = routed([billing, tech], router=by_keyword, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("The site is down")]}, thread())

    assert state["route"] == {
        "agent": "tech",
        "reason": "chosen by the router callable",
        "by": "callable",
    }
    assert state["messages"][-1].text == "Looking into it."
    _model(tech).assert_exhausted()


async def test_a_callable_router_naming_a_stranger_is_refused() -> None:
    graph = routed([scripted("billing")], router=lambda _: "ghost", checkpointer=InMemorySaver())
    with pytest.raises(AgentSpecError, match="the router chose 'ghost'"):
        await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread())


def _desks(*billing_script: object) -> tuple[Agent, Agent]:
    billing = scripted("billing", *billing_script, skills=("invoices", "refunds"))
    tech = scripted("tech", skills=("outages", "login"))
    return billing, tech


async def test_a_scoring_router_decides_with_no_model_and_explains_itself(run: Runner) -> None:
    billing, tech = _desks({"reply": "Refund issued."})
    router = Router([billing, tech], load=LoadCounter(), explain=2)
    graph = routed([billing, tech], router=router, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("Please refund my invoice")]}, thread())

    route = state["route"]
    assert route["agent"] == "billing"
    assert route["by"] == "router"
    assert route["strategy"] == "score"
    assert route["reason"] == (
        "score: billing scored 8 (capacity 8 x fit 1 x performance 1 / (1 + load 0)); "
        "next best fit tech 0.05; words 'invoic', 'refund'; confidence 1.00"
    )
    assert route["confidence"] == pytest.approx(1.0, abs=0.005)
    assert [c["agent"] for c in route["scores"]] == ["billing", "tech"]
    assert route["scores"][1]["fit"] == 0.05
    assert state["messages"][-1].text == "Refund issued."
    assert_exhausted(billing, tech)  # tech was never asked: the router itself asked no model


async def test_the_chosen_agent_counts_as_load_while_it_runs(run: Runner) -> None:
    load, history = LoadCounter(), PerformanceHistory()
    seen: list[float] = []

    def answer(messages: object) -> dict[str, str]:
        seen.append(load.in_flight("billing"))
        return {"reply": "Paid."}

    billing, tech = _desks(answer)
    router = Router([billing, tech], load=load, history=history)
    graph = routed([billing, tech], router=router, checkpointer=InMemorySaver())

    await run(graph, {"messages": [HumanMessage("Is my invoice paid?")]}, thread())

    assert seen == [1]
    assert load.in_flight("billing") == 0
    stats = history.stats("billing")
    assert stats is not None
    assert (stats.steps, stats.success) == (1, 1.0)


async def test_a_failing_step_releases_its_load_and_counts_as_a_failure(run: Runner) -> None:
    load, history = LoadCounter(), PerformanceHistory()
    billing, tech = _desks(ConnectionError("billing endpoint down"))
    router = Router([billing, tech], load=load, history=history)
    graph = routed([billing, tech], router=router, checkpointer=InMemorySaver())

    with pytest.raises(Exception, match="billing endpoint down"):
        await run(graph, {"messages": [HumanMessage("Refund my invoice")]}, thread())

    assert load.in_flight("billing") == 0
    stats = history.stats("billing")
    assert stats is not None
    assert stats.success < 1.0
    assert history.factor("billing") < history.factor("tech")


async def test_the_router_follows_load_across_sessions() -> None:
    load = LoadCounter()
    a = Agent(name="a", description="Answers.", models=(ScriptedModel([{"reply": "A"}]),))
    b = Agent(name="b", description="Answers.", models=(ScriptedModel([{"reply": "B"}]),))
    graph = routed([a, b], router=Router([a, b], load=load), checkpointer=InMemorySaver())

    with load.running("a"):  # another session of the process is on `a`
        state = await graph.ainvoke({"messages": [HumanMessage("hi")]}, thread("s2"))

    assert state["route"]["agent"] == "b"
    assert state["route"]["scores"][1] == {
        "agent": "a",
        "score": 4.0,
        "capacity": 8.0,
        "fit": 1.0,
        "performance": 1.0,
        "load": 1.0,
        "expected": None,
    }


def test_a_session_running_on_an_agent_steers_the_next_session_away() -> None:
    load = LoadCounter()
    inner: list[RoutedState] = []
    graph: Any = None

    def busy_a(messages: object) -> dict[str, str]:
        # While this session's step runs on `a`, another session of the process arrives.
        inner.append(graph.invoke({"messages": [HumanMessage("hi")]}, thread("second")))
        return {"reply": "A"}

    a = Agent(name="a", description="Answers.", models=(ScriptedModel([busy_a]),))
    b = Agent(name="b", description="Answers.", models=(ScriptedModel([{"reply": "B"}]),))
    graph = routed([a, b], router=Router([a, b], load=load), checkpointer=InMemorySaver())

    first = graph.invoke({"messages": [HumanMessage("hi")]}, thread("first"))

    assert first["route"]["agent"] == "a"
    assert inner[0]["route"]["agent"] == "b"
    assert inner[0]["route"]["scores"][1]["load"] == 1.0
    assert load.in_flight("a") == load.in_flight("b") == 0


async def test_a_predictive_router_records_each_arrival(run: Runner) -> None:
    billing, tech = _desks({"reply": "Refunded."})
    forecast = ArrivalForecast(bucket_s=60.0, seasons=(2,), horizon=1)
    router = Router(
        [billing, tech],
        strategy="predictive",
        load=LoadCounter(),
        forecast=forecast,
        clock=lambda: 30.0,
    )
    graph = routed([billing, tech], router=router, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("refund my invoice")]}, thread())

    assert state["route"]["strategy"] == "predictive"
    assert state["route"]["scores"][0]["expected"] == 0.0
    assert forecast.expected(["billing", "tech"], 30.0) == [0.0, 0.0]  # one arrival, as forecast
    assert forecast.expected(["billing", "tech"], 60.0)[0] > 0.0  # learned when the bucket closed


def test_a_router_built_for_another_team_is_refused() -> None:
    billing, tech = _desks()
    with pytest.raises(AgentSpecError, match="the Router serves billing, tech but the team is"):
        routed([billing], router=Router([billing, tech]))


def test_topology() -> None:
    graph = routed([scripted("billing"), scripted("tech")])
    assert topology(graph) == MERMAID


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(AgentSpecError, match="two agents are named 'a'"):
        routed([scripted("a"), scripted("a")])


MERMAID = """\
__start__([<p>__start__</p>]):::first
router(router)
billing(billing)
tech(tech)
__end__([<p>__end__</p>]):::last
__start__ --> router;
billing -.-> __end__;
router -.-> billing;
router -.-> tech;
tech -.-> __end__;"""


# --- "no agent fits", the model router alone, bad input (issue 13) -------------------------


async def test_a_request_no_agent_fits_goes_to_the_fallback_agent(run: Runner) -> None:
    billing, tech = _desks()
    helper = scripted("helper", {"reply": "I can help with anything else."})
    router = Router([billing, tech], load=LoadCounter(), threshold=0.5)
    graph = routed([billing, tech], router=router, fallback=helper, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("what a lovely day")]}, thread())

    route = state["route"]
    assert route["agent"] == "helper"
    assert route["fallback"] is True
    assert route["confidence"] < 0.5
    assert "no agent fits" in route["reason"]
    assert state["messages"][-1].text == "I can help with anything else."
    assert_exhausted(billing, tech, helper)


async def test_a_request_that_fits_never_goes_to_the_fallback(run: Runner) -> None:
    billing, tech = _desks({"reply": "Refund issued."})
    helper = scripted("helper")
    router = Router([billing, tech], load=LoadCounter(), threshold=0.5)
    graph = routed([billing, tech], router=router, fallback=helper, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("refund my invoice")]}, thread())

    assert state["route"]["agent"] == "billing"
    assert "fallback" not in state["route"]
    assert_exhausted(billing, tech, helper)


async def test_a_clarifying_reply_answers_a_request_no_agent_fits(run: Runner) -> None:
    billing, tech = _desks()
    router = Router([billing, tech], load=LoadCounter(), threshold=0.5)
    ask = "Is this about a bill or a technical problem?"
    graph = routed([billing, tech], router=router, fallback=ask, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("what a lovely day")]}, thread())

    assert state["route"]["fallback"] is True
    assert state["messages"][-1].text == ask
    assert state["messages"][-1].name == "router"
    assert_exhausted(billing, tech)


def test_a_fallback_needs_a_scoring_router_and_a_real_reply() -> None:
    billing, tech = _desks()
    with pytest.raises(AgentSpecError, match="fallback= and cascade= need a scoring router"):
        routed([billing, tech], fallback="Which one?")
    with pytest.raises(AgentSpecError, match="clarifying reply given as fallback= is empty"):
        routed([billing, tech], router=Router([billing, tech]), fallback="  ")


async def test_an_empty_request_is_refused_not_routed() -> None:
    billing, tech = _desks()
    graph = routed([billing, tech], router=Router([billing, tech], load=LoadCounter()))
    with pytest.raises(EmptyRequest, match="request to route is empty"):
        await graph.ainvoke({"messages": [HumanMessage("   ")]}, thread())


async def test_the_model_routers_decision_runs_alone() -> None:
    """Issue 13: there was no public way to run only the model router's decision."""
    triage = scripted("triage", {"agent": "tech", "reason": "an outage"})
    billing, tech = _desks()
    route = await ModelRouter([billing, tech], triage).ainvoke("The site is down")
    assert route == {"agent": "tech", "reason": "an outage", "by": "model"}
    assert "Choose who should answer" in _model(triage).calls[0].messages[0].text
    assert_exhausted(triage, billing, tech)


async def test_the_model_routers_reason_is_kept_to_one_short_line() -> None:
    """Issue 13: a small model used the unbounded reason to answer the user at length."""
    rambling = "Because the user\nasks about outages. " * 40
    triage = scripted("triage", {"agent": "tech", "reason": rambling})
    billing, tech = _desks()
    route = ModelRouter([billing, tech], triage).invoke("The site is down")
    assert len(route["reason"]) == REASON_CHARS
    assert "\n" not in route["reason"]
    assert route["reason"].startswith("Because the user asks about outages.")


async def test_an_embedding_decision_runs_off_the_event_loop() -> None:
    """Issue 13: the embedding call blocked the event loop inside `ainvoke`."""
    loop_thread: list[int] = []

    class Threads(Embeddings):
        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [[1.0, float("refund" in t or "invoice" in t)] for t in texts]

        def embed_query(self, text: str) -> list[float]:
            loop_thread.append(threading.get_ident())
            return [1.0, 1.0]

    billing, tech = _desks({"reply": "Refunded."})
    router = Router(
        [billing, tech], load=LoadCounter(), fit=lambda team: EmbeddingFit(team, Threads())
    )
    graph = routed([billing, tech], router=router)
    state = await graph.ainvoke({"messages": [HumanMessage("refund please")]}, thread())
    assert state["route"]["agent"] == "billing"
    assert loop_thread
    assert loop_thread[0] != threading.get_ident()


async def test_a_cascade_asks_the_model_only_when_the_router_is_unsure(run: Runner) -> None:
    triage = scripted("triage", {"agent": "tech", "reason": "sounds like a bug"})
    billing = scripted("billing", {"reply": "Refunded."}, skills=("invoices", "refunds"))
    tech = scripted("tech", {"reply": "Fixed."}, skills=("outages", "login"))
    router = Router([billing, tech], load=LoadCounter(), threshold=0.0)
    graph = routed(
        [billing, tech],
        router=router,
        cascade=0.9,
        cascade_router=triage,
        checkpointer=InMemorySaver(),
    )

    clear = await graph.ainvoke({"messages": [HumanMessage("refund my invoice")]}, thread("a"))
    unsure = await graph.ainvoke({"messages": [HumanMessage("it is weird")]}, thread("b"))

    assert clear["route"]["by"] == "router"
    assert clear["messages"][-1].text == "Refunded."
    assert unsure["route"]["by"] == "model"
    assert unsure["route"]["agent"] == "tech"
    assert unsure["route"]["reason"].startswith("sounds like a bug (the router was unsure: ")
    assert unsure["route"]["shortlist"] == ["billing", "tech"]  # no word matched: a tie
    assert "listed from the likeliest" in _model(triage).calls[0].messages[0].text
    assert unsure["messages"][-1].text == "Fixed."
    assert_exhausted(triage, billing, tech)  # one model decision, for the unclear request


def _cut_at_length(times: int) -> tuple[Any, list[bytes]]:
    """An OpenAI-compatible answer whose first `times` replies stop at the token limit in the
    middle of the reason (as the small model did when it used it to answer the user)."""
    answered = canned(data={"agent": "tech", "reason": "an outage"})
    seen: list[bytes] = []

    def answer(method: str, path: str, body: bytes) -> Any:
        reply = answered(method, path, body)
        if method != "POST":
            return reply
        seen.append(body)
        if len(seen) > times:
            return reply
        completion = json.loads(reply.body)
        completion["choices"][0]["finish_reason"] = "length"
        completion["choices"][0]["message"]["content"] = '{"agent": "tech", "reason": "Dear user'
        return reply._replace(body=json.dumps(completion).encode())

    return answer, seen


def _triage_at(server: FaultServer) -> Agent:
    model = ChatOpenAI(model="m", base_url=server.url, api_key=SecretStr("x"), max_retries=0)
    return Agent(name="triage", description="Routes requests.", models=(model,))


async def test_a_route_cut_at_the_token_limit_is_asked_again() -> None:
    """Issue 13: a reply cut at `max_tokens` escaped the model router as
    `openai.LengthFinishReasonError`, with no re-ask."""
    answer, seen = _cut_at_length(1)
    billing, tech = _desks()
    with FaultServer(answer) as server:
        route = await ModelRouter([billing, tech], _triage_at(server)).ainvoke("Site down")
    assert route == {"agent": "tech", "reason": "an outage", "by": "model"}
    assert len(seen) == 2
    assert b"cut off at the token limit" in seen[1]


async def test_a_route_always_cut_at_the_token_limit_is_malformed_output() -> None:
    billing, tech = _desks()
    with FaultServer(_cut_at_length(99)[0]) as server, pytest.raises(MalformedOutput):
        await ModelRouter([billing, tech], _triage_at(server)).ainvoke("Site down")


# --- the shortlisting model router (issue 13: a small model routes among a few agents) ------


def _four(
    *triage_script: object, refunds: tuple[object, ...] = ()
) -> tuple[Agent, list[Agent], Router]:
    """Triage and four desks, ranked by a scripted fit: billing 0.9, refunds 0.8, tech 0.3,
    sales 0.01 (relative to the best: 1, 0.89, 0.33, 0.05)."""
    scores = {"sales": 0.01, "tech": 0.3, "billing": 0.9, "refunds": 0.8}
    return ranked_desks(scores, *triage_script, answers={"refunds": refunds}, examples=5)


async def test_a_shortlisted_model_router_sees_only_the_best_agents_with_examples() -> None:
    triage, desks, ranks = _four({"agent": "refunds", "reason": "a refund"})
    route = await ModelRouter(desks, triage, shortlist=ranks, top=2).ainvoke("money back")

    assert route == {
        "agent": "refunds",
        "reason": "a refund",
        "by": "model",
        "shortlist": ["billing", "refunds"],
    }
    prompt = _model(triage).calls[0].messages[0].text
    assert "- billing: the billing desk" in prompt
    assert prompt.index("- billing") < prompt.index("- refunds")  # likeliest first
    assert '"billing example 0"; "billing example 1"; "billing example 2"' in prompt
    assert "billing example 3" not in prompt
    assert "- tech" not in prompt
    assert "- sales" not in prompt
    assert '"enum": ["billing", "refunds"]' in prompt  # only shortlisted names are allowed
    assert_exhausted(triage, *desks)


async def test_a_clear_fit_needs_no_model_call() -> None:
    triage, desks, ranks = _four()  # the model has nothing to say: a call would fail
    router = ModelRouter(desks, triage, shortlist=ranks, within=0.95)
    route = await router.ainvoke("money back")
    assert route["agent"] == "billing"
    assert route["by"] == "router"
    assert route["shortlist"] == ["billing"]
    assert route["reason"].startswith("clear fit, no model asked: specialization: billing")
    assert_exhausted(triage)


async def test_a_shortlist_of_one_agent_needs_no_model_call() -> None:
    triage, desks, ranks = _four()
    route = await ModelRouter(desks, triage, shortlist=ranks, top=1, within=0.0).ainvoke("hi")
    assert route == {"agent": "billing", "reason": "the only agent shortlisted", "by": "model"}
    assert_exhausted(triage)


def test_the_shortlist_is_ranked_by_fit() -> None:
    _, desks, ranks = _four()
    decision = ranks.decide("money back")
    assert decision.shortlist(3) == ["billing", "refunds", "tech"]
    assert decision.shortlist(99) == ["billing", "refunds", "tech", "sales"]
    assert decision.shortlist(0) == ["billing"]
    turns = Router(desks, strategy="round-robin").decide("money back")
    assert turns.shortlist(2) == ["sales", "tech"]  # no fit, no scores: team order


async def test_routed_with_a_shortlist_routes_by_the_model_among_the_best(run: Runner) -> None:
    triage, desks, ranks = _four(
        {"agent": "refunds", "reason": "a refund"}, refunds=({"reply": "Refunded."},)
    )
    graph = routed(desks, router=triage, shortlist=ranks, checkpointer=InMemorySaver())

    state = await run(graph, {"messages": [HumanMessage("money back")]}, thread())

    assert state["route"]["agent"] == "refunds"
    assert state["route"]["shortlist"] == ["billing", "refunds", "tech"]
    assert state["messages"][-1].text == "Refunded."
    assert_exhausted(triage, *desks)


def test_a_shortlist_needs_a_model_router_and_the_same_team() -> None:
    _, desks, ranks = _four()
    with pytest.raises(AgentSpecError, match="shortlist= narrows a model router's choice"):
        routed(desks, router=ranks, shortlist=ranks)
    with pytest.raises(AgentSpecError, match="the Router serves"):
        ModelRouter(desks[:2], shortlist=ranks)
    with pytest.raises(AgentSpecError, match="top must be at least 1"):
        ModelRouter(desks, shortlist=ranks, top=0)


def test_the_reason_is_bounded_in_the_schema_the_model_is_held_to() -> None:
    """Issue 13: the reason was unbounded; every character of it costs generation time."""
    schema = route_schema(("billing", "tech"), bounded=True).model_json_schema()
    assert schema["properties"]["reason"]["maxLength"] == REASON_ASKED
