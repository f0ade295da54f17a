"""Evaluators: each checks its own expectation, passes or fails it, and skips cases without it."""

from __future__ import annotations

from typing import Any

import pytest

from accord.agents import ScriptedModel
from accord.evals import Case, Judge, default_evaluators
from accord.evals.evaluators import (
    AgentPath,
    Budget,
    Confidence,
    ContainsAnswer,
    Decision,
    Evaluator,
    ExactAnswer,
    MaxLatency,
    MaxSteps,
    NeverAsks,
    RegexAnswer,
    RoutingChoice,
)
from accord.evals.trace import Trace

TRACE = Trace(
    answer="  Your Card looks SUSPICIOUS; block it.  ",
    path=("fraud",),
    route="fraud",
    decision="approve",
    confidence=0.75,
    steps=4,
    tokens=900,
    calls=2,
    latency=3.5,
)


def case(**expect: Any) -> Case:
    return Case(id="c", example="finance", input=("hi",), **expect)


@pytest.mark.parametrize(
    ("evaluator", "passing", "failing"),
    [
        (
            ExactAnswer(),
            {"answer": {"exact": "Your Card looks SUSPICIOUS; block it."}},
            {"answer": {"exact": "Your card"}},
        ),
        (
            ContainsAnswer(),
            {"answer": {"contains": ["card", "suspicious"]}},
            {"answer": {"contains": ["card", "refund"]}},
        ),
        (RegexAnswer(), {"answer": {"regex": r"block \w+"}}, {"answer": {"regex": r"^refund"}}),
        (AgentPath(), {"path": ["fraud"]}, {"path": ["router", "fraud"]}),
        (RoutingChoice(), {"route": "fraud"}, {"route": "liquidity"}),
        (Decision(), {"decision": "approve"}, {"decision": "reject"}),
        (Confidence(), {"min_confidence": 0.75}, {"min_confidence": 0.8}),
        (MaxSteps(), {"max_steps": 4}, {"max_steps": 3}),
        (MaxLatency(), {"max_latency": 3.5}, {"max_latency": 3.0}),
        (Budget(), {"max_tokens": 900, "max_calls": 2}, {"max_calls": 1}),
    ],
    ids=lambda value: getattr(value, "name", ""),
)
def test_evaluator_passes_fails_and_skips(
    evaluator: Evaluator, passing: dict[str, Any], failing: dict[str, Any]
) -> None:
    good = evaluator.evaluate(case(**passing), TRACE)
    bad = evaluator.evaluate(case(**failing), TRACE)
    assert good is not None
    assert good.passed
    assert good.evaluator == evaluator.name
    assert bad is not None
    assert not bad.passed
    assert evaluator.evaluate(case(), TRACE) is None


def test_failures_say_what_was_expected_and_seen() -> None:
    route = RoutingChoice().evaluate(case(route="liquidity"), TRACE)
    assert route is not None
    assert route.detail == "expected liquidity, got fraud"
    budget = Budget().evaluate(case(max_tokens=100, max_calls=1), TRACE)
    assert budget is not None
    assert budget.detail == "900 tokens > 100; 2 model calls > 1"
    missing = ContainsAnswer().evaluate(case(answer={"contains": ["refund"]}), TRACE)
    assert missing is not None
    assert missing.detail == "missing ['refund']"


def test_confidence_fails_without_a_confidence() -> None:
    check = Confidence().evaluate(case(min_confidence=0.1), Trace())
    assert check is not None
    assert not check.passed


def test_default_evaluators_cover_each_expectation_once() -> None:
    names = [e.name for e in default_evaluators()]
    assert len(names) == len(set(names)) == 11
    assert "judge" not in names


def test_judge_asks_the_injected_model_with_the_case_criterion() -> None:
    model = ScriptedModel(
        [
            {"passed": True, "reason": "It treats the payments as fraud."},
            {"passed": False, "reason": "It does not mention a refund."},
        ]
    )
    judge = Judge(model, criterion="The answer offers a refund.")
    own = judge.evaluate(case(judge="The answer treats it as fraud."), TRACE)
    fallback = judge.evaluate(case(), TRACE)
    assert own is not None
    assert own.passed
    assert own.detail == "It treats the payments as fraud."
    assert fallback is not None
    assert not fallback.passed
    first, second = model.calls
    assert "Criterion: The answer treats it as fraud." in first.messages[-1].text
    assert "Answer:   Your Card looks SUSPICIOUS" in first.messages[-1].text
    assert "Criterion: The answer offers a refund." in second.messages[-1].text
    model.assert_exhausted()


def test_judge_without_a_criterion_makes_no_call() -> None:
    model = ScriptedModel([])
    assert Judge(model).evaluate(case(), TRACE) is None
    assert model.calls == []


def test_never_asks_fails_a_reply_of_the_turn_that_asks_again() -> None:
    # Issue 12: after the customer gave her date of birth, a later agent asked for it again.
    asked = Trace(
        answer="Your account is open.",
        replies=("Thanks Dana. What is your date of birth?", "Your account is open."),
    )
    told = Trace(answer="Thanks, your date of birth is noted. Anything else?", replies=())
    expect = case(answer={"never_asks": ["date of birth", "passport"]})

    failed = NeverAsks().evaluate(expect, asked)
    assert failed is not None
    assert not failed.passed
    assert "asked for date of birth" in failed.detail
    passed = NeverAsks().evaluate(expect, told)
    assert passed is not None
    assert passed.passed
    assert NeverAsks().evaluate(case(), asked) is None
