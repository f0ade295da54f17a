"""The routed pattern: a router in front of specialists sends each user message to one of them."""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.errors import GraphBubbleUp
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from accord.agents import (
    Agent,
    AgentSpecError,
    CallRefused,
    Decision,
    FlowRunnable,
    Invoke,
    Router,
    check_team,
)
from accord.graphs.node import AgentNode
from accord.graphs.patterns.handoff import HandoffTask
from accord.graphs.patterns.logprobs import LogprobChooser
from accord.graphs.patterns.routes import (
    ROUTER,
    SHORTLIST,
    WITHIN,
    Chooser,
    Route,
    RoutedState,
    RouteTask,
)
from accord.persistence import Call, Flow


def routed(
    agents: Sequence[Agent],
    *,
    router: Agent | Router | Chooser | None = None,
    fallback: Agent | str | None = None,
    cascade: float | None = None,
    cascade_router: Agent | ModelRouter | None = None,
    shortlist: Router | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = "routed",
) -> CompiledStateGraph[RoutedState, Any, RoutedState, RoutedState]:
    """Builds a team where a router sends each user message to one specialist, who answers.

    The decision is recorded in `state["route"]` and the answering agent in
    `state["active_agent"]`.

    Args:
        agents: The specialists.
        router: How to choose. None: a model picks by the agents' descriptions and skills,
            using the first agent's models. An `Agent`: that agent's models and instructions
            pick. A `Router` (accord.agents): it scores the agents on the last user message
            with no model call, and every agent step is counted as in-flight load while it
            runs and reported to the router's performance history when it ends. A callable:
            `state -> agent name`; no model is asked.
        fallback: What happens when a `Router` finds that no agent fits (its confidence is
            below `Router.threshold`): an `Agent` (of the team or a generalist added to it)
            answers, or a string is sent back as a clarifying reply. None: the best agent
            answers anyway.
        cascade: With a `Router`: when its confidence is below this (but the request fits),
            the model router decides instead, so the model is asked only about unclear
            requests. None: never.
        cascade_router: The agent whose model decides in the cascade (default: a triage
            agent on the first specialist's models), choosing among the scoring router's best
            `SHORTLIST` (3); or a `ModelRouter` of the team (`weight=`: by log-probabilities).
        shortlist: With a model router (None or an `Agent`): a scoring `Router` of the team
            ranks the agents first and the model chooses among the best `SHORTLIST` (3), each
            shown with a few example requests (`ModelRouter(shortlist=...)`).
        checkpointer: Where sessions are persisted.
        name: The graph's name.

    Raises:
        AgentSpecError: The team is invalid, a `Router` was built for another team, a
            fallback is given without a `Router`, or a shortlist with a router that is no
            model. (At run time, a callable router naming an agent not in the team raises
            it too.)
    """
    team = check_team(agents)
    names = list(team)
    extra = isinstance(fallback, Agent) and fallback.name not in team
    if (fallback is not None or cascade is not None) and not isinstance(router, Router):
        raise AgentSpecError(
            "fallback= and cascade= need a scoring router, which says how sure it is: "
            "routed(agents, router=Router(agents), ...)"
        )
    if shortlist is not None and router is not None and not isinstance(router, Agent):
        raise AgentSpecError(
            "shortlist= narrows a model router's choice; with a Router or a callable there "
            "is no model to ask: drop shortlist= or pass router=None or an Agent"
        )
    if isinstance(fallback, str) and not fallback.strip():
        raise AgentSpecError("the clarifying reply given as fallback= is empty; write one")
    if extra:
        check_team([*agents, fallback])  # type: ignore[list-item]
    destinations = (*names, fallback.name) if isinstance(fallback, Agent) and extra else names
    builder = StateGraph(RoutedState)
    if isinstance(router, Router):
        _same_team(router, names)
        model = cascade_router if isinstance(cascade_router, ModelRouter) else None
        if cascade is not None and model is None:
            model = ModelRouter(agents, cascade_router)  # type: ignore[arg-type]
        scoring = ScoringRouter(router, fallback, cascade=cascade, model=model)
        builder.add_node(ROUTER, scoring, destinations=(*destinations, END))
    elif callable(router) and not isinstance(router, Agent):
        builder.add_node(ROUTER, CallableRouter(router, names), destinations=tuple(names))
    elif shortlist is not None:
        chooser = _Shortlisted(ModelRouter(agents, router, shortlist=shortlist))
        builder.add_node(ROUTER, chooser, destinations=tuple(names))
    else:
        builder.add_node(
            ROUTER,
            AgentNode(_chooser(agents, router), RouteTask(agents)),
            destinations=tuple(names),
        )
    answer = HandoffTask((), max_hops=1)
    members = [*agents, fallback] if isinstance(fallback, Agent) and extra else list(agents)
    for agent in members:
        node: Runnable[Any, Any] = AgentNode(agent, answer)
        if isinstance(router, Router) and agent.name in team:
            node = Measured(node, agent.name, router)
        builder.add_node(agent.name, node, destinations=(END,))
    builder.add_edge(START, ROUTER)
    return builder.compile(checkpointer=checkpointer, name=name)


def _chooser(agents: Sequence[Agent], router: Agent | None) -> Agent:
    """The agent whose model routes: the one given, or a triage agent on the team's models."""
    return router or Agent(
        name="triage",
        description="Sends each user message to the specialist best suited to it.",
        models=agents[0].models,
    )


class ModelRouter(FlowRunnable[str | Sequence[AnyMessage], Route]):
    """The model router's decision alone: which agent should answer, with no agent run.

    What `routed(agents)` asks its model, as a runnable of its own (for a cascade, an
    evaluation or a test): `ModelRouter(team).invoke("Where is my parcel?")["agent"]`.

    With a `shortlist` (a scoring `Router` of the same team), the model chooses only among the
    `top` agents that fit the request best, listed likeliest first, each with a few example
    requests: a small model routes far better among a few plausible agents than among a whole
    roster, and the shorter prompt is faster. When the runner-up's fit is below `within` (the
    best agent is clear), the best agent is routed to with no model call (`by` "router").
    The route names the shortlist.

    Args:
        agents: The specialists to choose from.
        router: The agent whose models and instructions choose (default: a triage agent on
            the first specialist's models).
        shortlist: Ranks the agents by fit before the model is asked (None: all are shown).
        top: How many of the best fitting agents the model sees.
        within: The runner-up's fit (the best's is 1) from which the model is asked, in
            [0, 1] (0: always).
        weight: Ask for a shortlisted agent's name in one token, weigh the model's odds by this
            against the fit's (`LogprobChooser`). None: the structured choice (name and reason).

    Raises:
        AgentSpecError: The team is invalid, the shortlist was built for another team, `top`
            is below 1, or `within` or `weight` outside [0, 1].
    """

    def __init__(
        self,
        agents: Sequence[Agent],
        router: Agent | None = None,
        *,
        shortlist: Router | None = None,
        top: int = SHORTLIST,
        within: float = WITHIN,
        weight: float | None = None,
    ) -> None:
        check_team(agents)
        if shortlist is not None:
            _same_team(shortlist, [a.name for a in agents])
        if top < 1 or not 0 <= within <= 1 or not 0 <= (weight or 0) <= 1:
            raise AgentSpecError(
                f"top must be at least 1, within and weight in [0, 1]: {top}, {within}, {weight}"
            )
        chooser = _chooser(agents, router)
        self.node = AgentNode(chooser, RouteTask(agents))
        self.logprobs = None if weight is None else LogprobChooser(chooser, agents, weight)
        self.shortlist = shortlist
        self.top = top
        self.within = within

    def flow(
        self, input: str | Sequence[AnyMessage], config: RunnableConfig | None, **kwargs: Any
    ) -> Flow[Route]:
        """Asks the model once (re-asked on a malformed reply) and returns its route."""
        messages: list[AnyMessage] = (
            [HumanMessage(input)] if isinstance(input, str) else list(input)
        )
        names: list[str] = []
        decision: Decision | None = None
        if self.shortlist is not None:
            decision = yield from _decide(self.shortlist, _request({"messages": messages}))
            names = decision.shortlist(self.top)
            if _clear(decision, self.within):
                return {
                    "agent": decision.agent,
                    "reason": f"clear fit, no model asked: {decision.reason}",
                    "by": "router",
                    "shortlist": [decision.agent],
                }
        return (yield from self.choosing(messages, names, config, decision))

    def choosing(
        self,
        messages: list[AnyMessage],
        names: Sequence[str],
        config: RunnableConfig | None,
        decision: Decision | None = None,
    ) -> Flow[Route]:
        """The model's choice among `names` (all when empty), weighed with `decision`'s fit."""
        state = RoutedState(messages=messages)
        if len(names) == 1:  # nothing to choose: no model call
            return {"agent": names[0], "reason": "the only agent shortlisted", "by": "model"}
        odds = self.logprobs
        if odds and (chosen := (yield from odds.choose(messages, names, decision, config))):
            return chosen
        if names:
            state["shortlist"] = list(names)
        command = yield Invoke(self.node, state, config)
        route: Route = command.update["route"]
        return route


def _decide(router: Router, request: str) -> Flow[Decision]:
    """A scoring decision, off the event loop under `ainvoke` when it embeds the request."""
    if not router.slow:
        return router.decide(request)
    decision: Decision = yield Call(
        lambda: router.decide(request), lambda: asyncio.to_thread(router.decide, request)
    )
    return decision


def _clear(decision: Decision, within: float) -> bool:
    """Whether the runner-up's fit is below `within` of the best's (False with no fit)."""
    fit = decision.terms.fit
    if fit is None or len(fit) < 2:
        return fit is not None
    best, runner = heapq.nlargest(2, fit)
    return runner < within * best


def _same_team(router: Router, names: Sequence[str]) -> None:
    if set(router.names) != set(names):
        raise AgentSpecError(
            f"the Router serves {', '.join(router.names)} but the team is "
            f"{', '.join(names)}; build it with the same agents: Router(agents)"
        )


class _Shortlisted(FlowRunnable[RoutedState, Command[str]]):
    """The routed graph's model router with a shortlist: the model sees the best few agents."""

    def __init__(self, model: ModelRouter) -> None:
        self.model = model

    def flow(
        self, input: RoutedState, config: RunnableConfig | None, **kwargs: Any
    ) -> Flow[Command[str]]:
        route = yield Invoke(self.model, input.get("messages", []), config)
        return Command(goto=route["agent"], update={"route": route})


class CallableRouter(Runnable[RoutedState, Command[str]]):
    """Routes by a plain function of the state (no model), recording the decision.

    A `Runnable` rather than a function node, so LangGraph does not inspect it on every call.
    """

    def __init__(self, choose: Chooser, names: Sequence[str]) -> None:
        self.choose = choose
        self.names = tuple(names)

    def invoke(
        self, input: RoutedState, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Command[str]:
        chosen = self.choose(input)
        if chosen not in self.names:
            raise AgentSpecError(
                f"the router chose {chosen!r}, which is not in the team ({', '.join(self.names)})"
            )
        route: Route = {
            "agent": chosen,
            "reason": "chosen by the router callable",
            "by": "callable",
        }
        return Command(goto=chosen, update={"route": route})


class ScoringRouter(FlowRunnable[RoutedState, Command[str]]):
    """Routes by a `Router`'s decision on the last user message (a decision that embeds runs
    in a worker thread under `ainvoke`); with a cascade, a fitting request whose confidence is
    below `cascade` is decided by the model router instead, among its best `ModelRouter.top`.
    """

    def __init__(
        self,
        router: Router,
        fallback: Agent | str | None = None,
        *,
        cascade: float | None = None,
        model: ModelRouter | None = None,
    ) -> None:
        self.router = router
        self.fallback = fallback
        self.cascade = cascade
        self.model = model

    def flow(
        self, input: RoutedState, config: RunnableConfig | None, **kwargs: Any
    ) -> Flow[Command[str]]:
        """Refreshes the router's outside readings (shared load), then decides."""
        yield from self.router.refreshing()
        router = self.router
        decision = yield from _decide(router, _request(input))
        route: Route = {
            "agent": decision.agent,
            "reason": decision.reason,
            "by": "router",
            "strategy": decision.strategy,
            "scores": decision.candidates(top=router.explain),
        }
        if decision.confidence is not None:
            route["confidence"] = decision.confidence
        unsure = self.cascade is not None and (decision.confidence or 0.0) < self.cascade
        if (decision.fits or self.fallback is None) and unsure and self.model is not None:
            names = decision.shortlist(self.model.top)
            messages = list(input.get("messages", []))
            chosen = yield from self.model.choosing(messages, names, config, decision)
            route["agent"], route["by"] = chosen["agent"], "model"
            route["shortlist"] = chosen.get("shortlist", names)
            route["reason"] = f"{chosen['reason']} (the router was unsure: {decision.reason})"
            if "distributions" in chosen:
                route["distributions"] = chosen["distributions"]
            return Command(goto=chosen["agent"], update={"route": route})
        if decision.fits or self.fallback is None:
            return Command(goto=decision.agent, update={"route": route})
        route["fallback"] = True
        if isinstance(self.fallback, Agent):
            route["agent"] = self.fallback.name
            return Command(goto=self.fallback.name, update={"route": route})
        route["agent"] = ROUTER
        reply = AIMessage(self.fallback, name=ROUTER)
        return Command(goto=END, update={"route": route, "messages": [reply]})


class Measured(FlowRunnable[Any, Any]):
    """Runs an agent's step as in-flight load of its router, and reports how it went.

    The load is released when the step ends, whether it returns or raises. Interrupts and
    refused calls (a spent budget) are not the agent's doing: they are not reported.
    """

    def __init__(self, node: Runnable[Any, Any], agent: str, router: Router) -> None:
        self.node = node
        self.agent = agent
        self.router = router
        self.name = agent

    def flow(self, input: Any, config: RunnableConfig | None, **kwargs: Any) -> Flow[Any]:
        """The agent's step, timed and counted as load while it runs."""
        with self.router.running(self.agent):
            start = time.perf_counter()
            try:
                result = yield Invoke(self.node, input, config)
            except (GraphBubbleUp, CallRefused):
                raise
            except Exception:
                self.router.observe(self.agent, time.perf_counter() - start, ok=False)
                raise
            self.router.observe(self.agent, time.perf_counter() - start, ok=True)
            return result


def _request(state: RoutedState) -> str:
    """The text the router scores: the last user message."""
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return message.text
    return ""
