"""Evaluators: small classes that check one thing a case expects of a run's trace.

Each has a `name` and `evaluate(case, trace)`, which returns a `Check`, or None when the case
expects nothing of what the evaluator checks. `default_evaluators()` covers every expectation
a dataset can state except the LLM judge, which needs a model (`Judge(model)`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from accord.evals.dataset import Case
from accord.evals.trace import Trace


@dataclass(frozen=True)
class Check:
    """The verdict of one evaluator on one case.

    Attributes:
        evaluator: Who checked.
        passed: Whether the expectation held.
        detail: What was expected and what was seen.
    """

    evaluator: str
    passed: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """The check as JSON-ready data."""
        return asdict(self)


class Evaluator(Protocol):
    """Checks one expectation of a case against its trace."""

    name: str

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        """The verdict, or None when `case` expects nothing of this kind."""
        ...


def _check(name: str, passed: bool, expected: Any, seen: Any) -> Check:
    return Check(name, passed, f"expected {expected}, got {seen}")


class ExactAnswer:
    """The answer equals `answer.exact` (spaces around it ignored)."""

    name = "exact"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        want = case.answer.exact
        if want is None:
            return None
        return _check(self.name, trace.answer.strip() == want.strip(), repr(want), _cut(trace))


class ContainsAnswer:
    """The answer contains every `answer.contains` substring, ignoring case."""

    name = "contains"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        if not case.answer.contains:
            return None
        missing = [s for s in case.answer.contains if s.lower() not in trace.answer.lower()]
        detail = f"missing {missing}" if missing else "all present"
        return Check(self.name, not missing, detail)


class RegexAnswer:
    """The answer matches `answer.regex` somewhere."""

    name = "regex"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        pattern = case.answer.regex
        if pattern is None:
            return None
        found = re.search(pattern, trace.answer) is not None
        return _check(self.name, found, f"a match of {pattern!r}", _cut(trace))


class NeverAsks:
    """No reply to the last user message asks again for what `answer.never_asks` names."""

    name = "no_reask"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        things = case.answer.never_asks
        if not things:
            return None
        replies = trace.replies or (trace.answer,)
        questions = [q for reply in replies for q in _QUESTION.findall(reply)]
        asked = [t for t in things if any(t.lower() in q.lower() for q in questions)]
        seen = "asked for " + ", ".join(asked) if asked else _cut(trace)
        return _check(self.name, not asked, f"no question about {', '.join(things)}", seen)


# A question: the text since the previous sentence end, up to a question mark.
_QUESTION = re.compile(r"[^.!?]*\?")


class AgentPath:
    """The agents that acted are exactly `path`, in order (handoffs, workers, voters...)."""

    name = "path"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        if case.path is None:
            return None
        return _check(self.name, trace.path == case.path, list(case.path), list(trace.path))


class RoutingChoice:
    """The routing choice (the routed agent, or who holds the conversation) is `route`."""

    name = "route"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        if case.route is None:
            return None
        return _check(self.name, trace.route == case.route, case.route, trace.route)


class Decision:
    """The consensus decision is `decision`."""

    name = "decision"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        if case.decision is None:
            return None
        return _check(self.name, trace.decision == case.decision, case.decision, trace.decision)


class Confidence:
    """The decision's or consultation's confidence is at least `min_confidence`."""

    name = "confidence"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        want = case.min_confidence
        if want is None:
            return None
        seen = trace.confidence
        return _check(self.name, seen is not None and seen >= want, f">= {want}", seen)


class MaxSteps:
    """The run took at most `max_steps` graph steps."""

    name = "steps"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        if case.max_steps is None:
            return None
        return _check(self.name, trace.steps <= case.max_steps, f"<= {case.max_steps}", trace.steps)


class MaxLatency:
    """The run took at most `max_latency` seconds against the model (as recorded)."""

    name = "latency"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        limit = case.max_latency
        if limit is None:
            return None
        return _check(self.name, trace.latency <= limit, f"<= {limit} s", f"{trace.latency:.2f} s")


class Budget:
    """The run spent at most `max_tokens` tokens and `max_calls` model calls."""

    name = "budget"

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        if case.max_tokens is None and case.max_calls is None:
            return None
        over = []
        if case.max_tokens is not None and trace.tokens > case.max_tokens:
            over.append(f"{trace.tokens} tokens > {case.max_tokens}")
        if case.max_calls is not None and trace.calls > case.max_calls:
            over.append(f"{trace.calls} model calls > {case.max_calls}")
        detail = "; ".join(over) or f"{trace.tokens} tokens, {trace.calls} model calls"
        return Check(self.name, not over, detail)


class Verdict(BaseModel):
    """The judge's structured verdict."""

    passed: bool = Field(description="True when the answer meets the criterion.")
    reason: str = Field(description="Why, in one sentence.")


class Judge:
    """An LLM as judge: asks `model` whether the answer meets the case's `judge` criterion.

    Args:
        model: Any chat model that supports structured output (a `ScriptedModel` in tests;
            in replay its calls come from the case's cassette like the team's).
        criterion: Used for cases that state no `judge` criterion of their own; None skips
            those cases.
    """

    name = "judge"

    def __init__(self, model: BaseChatModel, criterion: str | None = None) -> None:
        self.model = model
        self.criterion = criterion

    def evaluate(self, case: Case, trace: Trace) -> Check | None:
        criterion = case.judge or self.criterion
        if criterion is None:
            return None
        asker = self.model.with_structured_output(Verdict, method="json_schema")
        verdict = asker.invoke(
            [
                SystemMessage(
                    "You grade an assistant's answer. Reply with JSON: passed is true when the "
                    "answer meets the criterion; reason says why in one sentence."
                ),
                HumanMessage(
                    f"User: {case.input[-1]}\nAnswer: {trace.answer}\nCriterion: {criterion}"
                ),
            ]
        )
        if not isinstance(verdict, Verdict):
            verdict = Verdict.model_validate(verdict)
        return Check(self.name, verdict.passed, verdict.reason)


def default_evaluators() -> list[Evaluator]:
    """One evaluator for each expectation a case can state, except the judge."""
    return [
        ExactAnswer(),
        ContainsAnswer(),
        RegexAnswer(),
        NeverAsks(),
        AgentPath(),
        RoutingChoice(),
        Decision(),
        Confidence(),
        MaxSteps(),
        MaxLatency(),
        Budget(),
    ]


def _cut(trace: Trace, size: int = 80) -> str:
    text = trace.answer.strip().replace("\n", " ")
    return repr(text if len(text) <= size else text[: size - 1] + "…")
