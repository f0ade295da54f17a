"""The model router by log-probabilities (issue 13): one token of a name, weighed with the fit."""

from __future__ import annotations

import math

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from support import assert_exhausted, ranked_desks

from accord.agents import Agent, AgentSpecError, Router, ScriptedModel
from accord.graphs import ModelRouter, routed
from accord.graphs.patterns.logprobs import (
    FLOOR,
    combined,
    fit_distribution,
    model_distribution,
)
from accord.graphs.patterns.routed import ScoringRouter


def _reply(chosen: str, tops: dict[str, float]) -> AIMessage:
    """A reply as an OpenAI-compatible server sends it with `logprobs=True, top_logprobs=n`:
    the chosen token, and the likeliest first tokens with their probabilities."""
    alternatives = [{"token": t, "logprob": math.log(p), "bytes": []} for t, p in tops.items()]
    content = [{"token": chosen, "logprob": math.log(tops[chosen]), "top_logprobs": alternatives}]
    return AIMessage(chosen, response_metadata={"logprobs": {"content": content}})


_FIT = [0.9 / 1.7, 0.6 / 1.7, 0.2 / 1.7]
"""The fit's distribution over billing, refunds and tech (the desks' scores, normalised)."""


def _desks(
    *triage_script: object, answers: dict[str, object] | None = None
) -> tuple[Agent, list[Agent], Router]:
    """Triage and three desks ranked by a scripted fit: billing, refunds, then tech (each
    with its scripted answer, if any)."""
    scores = {"tech": 0.2, "billing": 0.9, "refunds": 0.6}
    answering = {name: (answer,) for name, answer in (answers or {}).items()}
    return ranked_desks(scores, *triage_script, answers=answering)


def _model(agent: Agent) -> ScriptedModel:
    model = agent.models[0]
    assert isinstance(model, ScriptedModel)
    return model


def test_the_model_distribution_reads_the_tokens_that_begin_a_name() -> None:
    tops = {"ref": 0.5, " Refunds": 0.1, "billing": 0.2, "The": 0.1, "tech": 0.05}
    reply = _reply("ref", tops)
    three = ["billing", "refunds", "tech"]
    assert model_distribution(reply, three) == pytest.approx([0.2 / 0.85, 0.6 / 0.85, 0.05 / 0.85])
    # sales is begun by no top token: it gets what they leave (0.05), at most the least (0.05)
    four = [*three, "sales"]
    assert model_distribution(reply, four) == pytest.approx(
        [p / 0.9 for p in (0.2, 0.6, 0.05, 0.05)]
    )
    # a token that begins two names is shared; one the name begins ("tech" of "te") counts too
    shared = _reply("re", {"re": 0.6, "te": 0.4})
    assert model_distribution(shared, ["refunds", "returns", "tech"]) == pytest.approx(
        [0.3, 0.3, 0.4]
    )
    longer = _reply("techs", {"techs": 0.9, "bill": 0.1})
    assert model_distribution(longer, ["billing", "tech"]) == pytest.approx([0.1, 0.9])


def test_a_name_missing_gets_no_more_than_the_least_listed_token() -> None:
    reply = _reply("billing", {"billing": 0.5, "refunds": 0.01})
    three = ["billing", "refunds", "tech"]
    assert model_distribution(reply, three) == pytest.approx([p / 0.52 for p in (0.5, 0.01, 0.01)])


def test_no_logprobs_is_none_and_no_name_is_uniform() -> None:
    assert model_distribution(AIMessage("billing"), ["billing", "tech"]) is None
    reply = _reply("The", {"The": 0.9, "I": 0.1})
    assert model_distribution(reply, ["billing", "refunds", "tech", "sales"]) == [0.25] * 4


def test_the_product_of_experts_weighs_the_model_against_the_fit() -> None:
    fit, model = [0.7, 0.2, 0.1], [0.1, 0.6, 0.3]
    assert combined(fit, model, 0.0) == pytest.approx(fit)
    assert combined(fit, model, 1.0) == pytest.approx(model)
    both = combined(fit, model, 0.5)
    geometric = [math.sqrt(f * m) for f, m in zip(fit, model, strict=True)]
    assert both == pytest.approx([g / sum(geometric) for g in geometric])
    assert combined([1.0, 0.0], [0.0, 1.0], 0.5) == pytest.approx([0.5, 0.5])  # no veto
    assert min(combined([1.0, 0.0], [1.0, 0.0], 0.5)) >= FLOOR / 2


def test_the_fit_distribution_normalises_the_shortlisted_fits() -> None:
    _, _, ranks = _desks()
    decision = ranks.decide("money back")
    assert fit_distribution(decision, ["billing", "refunds"]) == pytest.approx([0.6, 0.4])
    assert fit_distribution(None, ["billing", "refunds"]) == [0.5, 0.5]


async def test_the_model_router_asks_for_a_number_and_combines_both_experts() -> None:
    # The fit prefers billing 0.9 : 0.6 : 0.2; the model says refunds at 0.7.
    triage, desks, ranks = _desks(_reply("ref", {"ref": 0.7, "billing": 0.2, " tech": 0.1}))
    router = ModelRouter(desks, triage, shortlist=ranks, within=0.0, weight=0.5)
    route = await router.ainvoke("money back")

    assert route["agent"] == "refunds"
    assert route["by"] == "model"
    assert route["shortlist"] == ["billing", "refunds", "tech"]
    fit = _FIT
    assert route["distributions"]["fit"] == pytest.approx(fit, abs=1e-3)
    assert route["distributions"]["model"] == pytest.approx([0.2, 0.7, 0.1], abs=1e-3)
    assert route["distributions"]["combined"] == pytest.approx(
        combined(fit, [0.2, 0.7, 0.1], 0.5), abs=1e-3
    )
    assert route["reason"].startswith("refunds at 0.5")
    assert "the model said refunds at 0.70" in route["reason"]
    prompt = _model(triage).calls[0].messages[0].text
    assert "- billing: the billing desk (skills: billing)" in prompt
    assert prompt.index("- billing") < prompt.index("- refunds") < prompt.index("- tech")
    assert "Reply with the name of that agent only (billing, refunds, tech)." in prompt
    assert_exhausted(triage)


async def test_the_fit_outweighs_a_model_unsure_between_its_choices() -> None:
    triage, desks, ranks = _desks(_reply("ref", {"ref": 0.4, "bill": 0.35, "tech": 0.25}))
    route = await ModelRouter(desks, triage, shortlist=ranks, within=0.0, weight=0.5).ainvoke(
        "money back"
    )
    assert route["agent"] == "billing"
    assert "the model said refunds" in route["reason"]


async def test_a_provider_without_logprobs_gets_the_structured_choice_from_then_on() -> None:
    triage, desks, ranks = _desks(
        "refunds",  # a reply with no log-probabilities: asked again, the structured way
        {"agent": "refunds", "reason": "a refund"},
        {"agent": "tech", "reason": "an outage"},  # the next decision goes there at once
    )
    router = ModelRouter(desks, triage, shortlist=ranks, within=0.0, weight=0.5)
    first = await router.ainvoke("money back")
    second = await router.ainvoke("site down")

    assert first == {
        "agent": "refunds",
        "reason": "a refund",
        "by": "model",
        "shortlist": ["billing", "refunds", "tech"],
    }
    assert second["agent"] == "tech"
    assert "distributions" not in second
    calls = _model(triage).calls
    assert [c.schema is not None for c in calls] == [False, True, True]
    assert_exhausted(triage)


def test_the_weight_is_a_share() -> None:
    _, desks, ranks = _desks()
    with pytest.raises(AgentSpecError, match="within and weight in"):
        ModelRouter(desks, shortlist=ranks, weight=1.5)


async def test_a_cascade_keeps_both_distributions_in_its_route() -> None:
    triage, desks, ranks = _desks(_reply("tech", {"tech": 0.9, "bill": 0.05, "ref": 0.05}))
    model = ModelRouter(desks, triage, weight=0.5)
    scoring = ScoringRouter(ranks, cascade=1.0, model=model)  # always unsure: always asked
    command = await scoring.ainvoke({"messages": [HumanMessage("money back")]})

    assert isinstance(command.update, dict)
    route = command.update["route"]
    assert command.goto == "tech"
    assert route["by"] == "model"
    assert route["distributions"]["model"] == pytest.approx([0.05, 0.05, 0.9], abs=1e-3)
    assert route["distributions"]["fit"] == pytest.approx(_FIT, abs=1e-3)
    assert "(the router was unsure: " in route["reason"]
    assert_exhausted(triage)


async def test_a_routed_team_takes_the_log_probability_router_for_its_cascade() -> None:
    triage, desks, ranks = _desks(
        _reply("tech", {"tech": 0.9, "bill": 0.05, "ref": 0.05}),
        answers={"tech": {"reply": "Let me look at the site.", "handoff_to": "none"}},
    )
    team = routed(
        desks, router=ranks, cascade=1.0, cascade_router=ModelRouter(desks, triage, weight=0.5)
    )
    state = await team.ainvoke({"messages": [HumanMessage("money back")]})

    assert state["active_agent"] == "tech"
    assert state["route"]["by"] == "model"
    assert state["route"]["distributions"]["fit"] == pytest.approx(_FIT, abs=1e-3)
    assert_exhausted(triage)
    assert state["messages"][-1].text == "Let me look at the site."
