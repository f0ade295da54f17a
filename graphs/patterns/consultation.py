"""The consultation pattern: a primary agent asks specialists in parallel, each answer carrying a
confidence, and synthesises their answers weighted by that confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Annotated, Any, Literal

from langchain_core.messages import AIMessage, AnyMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, RetryPolicy, Send
from pydantic import BaseModel, Field, create_model
from typing_extensions import TypedDict  # pydantic builds JSON schemas from it on 3.11

from accord.agents import Agent, AgentSpecError, check_team
from accord.graphs.node import AgentNode, Task
from accord.graphs.patterns.checks import reserve
from accord.graphs.patterns.fanout import fan_out
from accord.graphs.patterns.handoff import Reply
from accord.graphs.prompts import ask, brief, identity, request, roster
from accord.graphs.replies import tidy
from accord.graphs.state import Failure, TeamState, collect, failure

SYNTHESIS = "synthesis"


class Consultation(TypedDict):
    """One specialist's answer to the primary's question."""

    specialist: str
    question: str
    answer: str
    confidence: float
    rationale: str


class ConsultationState(TeamState, total=False):
    """`TeamState` plus this turn's consultations, failures and the overall confidence.

    Attributes:
        consultations: Every specialist answer this turn.
        failures: Specialists whose step failed after its retries.
        confidence: The answers' confidence-weighted mean confidence (0 with no answer).
        low_confidence: True when `confidence` is below the graph's threshold.
    """

    consultations: Annotated[list[Consultation], collect]
    failures: Annotated[list[Failure], collect]
    confidence: float
    low_confidence: bool


class Query(TypedDict):
    """What a specialist branch receives through `Send`."""

    messages: list[AnyMessage]
    question: str


class Opinion(BaseModel):
    """A specialist's answer with its confidence."""

    answer: str = Field(description="Your answer to the question, at most three sentences.")
    confidence: float = Field(ge=0, le=1, description="How sure you are, from 0 to 1.")
    rationale: str = Field(description="Why you are that sure, in one sentence.")


@cache
def consult_schema(specialists: tuple[str, ...]) -> type[BaseModel]:
    """The primary's structured choice of whom to consult and what to ask them."""
    schema: type[BaseModel] = create_model(
        "Consult",
        consult=(
            list[Literal[specialists]],  # type: ignore[valid-type]
            Field(description="The specialists to ask; empty to answer alone."),
        ),
        # Said plainly: on the embedded model the primary otherwise asked the specialists what
        # it should ask the user ("What is the error code?"), and got nothing usable back.
        question=(
            str,
            Field(
                description="What the specialists should answer: the likely cause and the fix "
                "for the user's problem. They cannot ask the user anything."
            ),
        ),
    )
    return schema


def overall_confidence(consultations: Sequence[Consultation]) -> float:
    """The confidence-weighted mean of the answers' confidences: sure answers count more."""
    total = sum(c["confidence"] for c in consultations)
    return round(sum(c["confidence"] ** 2 for c in consultations) / total, 4) if total else 0.0


class ConsultTask(Task):
    """Choose the specialists to consult and send each the question."""

    def __init__(self, specialists: Sequence[Agent]) -> None:
        self.specialists = tuple(specialists)
        self.schema = consult_schema(tuple(s.name for s in specialists))

    def prepare(
        self, agent: Agent, state: ConsultationState
    ) -> tuple[list[AnyMessage], type[BaseModel]]:
        lines = [
            *identity(agent),
            "Before you answer the user's last message you may consult these specialists:",
            *roster(self.specialists),
        ]
        return brief(lines, state.get("messages", []), state.get("facts")), self.schema

    def apply(self, agent: Agent, answer: BaseModel, state: ConsultationState) -> Command[Any]:
        question: str = getattr(answer, "question") or request(state.get("messages", []))  # noqa: B009
        chosen = dict.fromkeys(getattr(answer, "consult"))  # noqa: B009 - ordered, no repeats
        messages = state.get("messages", [])
        sends = [Send(s, Query(messages=messages, question=question)) for s in chosen]
        update = {"consultations": None, "failures": None}  # a new round
        return Command(goto=sends or SYNTHESIS, update=update)


class OpinionTask(Task):
    """Answer the primary's question with a confidence; a failure is recorded, not raised."""

    def __init__(self, primary: str) -> None:
        self.primary = primary

    def prepare(self, agent: Agent, state: Query) -> tuple[list[AnyMessage], type[BaseModel]]:
        lines = [
            *identity(agent),
            f"{self.primary} consults you about the user's request: {request(state['messages'])!r}",
        ]
        return ask(lines, state["question"]), Opinion

    def apply(self, agent: Agent, answer: BaseModel, state: Query) -> dict[str, Any]:
        assert isinstance(answer, Opinion)
        record: Consultation = {
            "specialist": agent.name,
            "question": state["question"],
            "answer": tidy(answer.answer, prompt=identity(agent)),
            "confidence": answer.confidence,
            "rationale": answer.rationale,
        }
        return {"consultations": [record]}

    def failed(self, agent: Agent, state: Query, error: Exception, attempts: int) -> Any:
        return {"failures": [failure(agent.name, state["question"], error, attempts)]}


class SynthesiseTask(Task):
    """Answer the user from the specialists' answers, the surest first."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def prepare(
        self, agent: Agent, state: ConsultationState
    ) -> tuple[list[AnyMessage], type[BaseModel]]:
        opinions = sorted(state.get("consultations", []), key=lambda c: -c["confidence"])
        lines = [*identity(agent), "Your specialists answered, surest first:"]
        lines.extend(
            f"- {c['specialist']} (confidence {c['confidence']:.2f}): {c['answer']}"
            for c in opinions
        )
        lines.extend(
            f"- {f['agent']} could not answer ({f['error']})" for f in state.get("failures", [])
        )
        lines.append(
            "Answer the user's last message. Trust answers in proportion to their confidence; "
            "say so when none is sure."
        )
        return brief(lines, state.get("messages", []), state.get("facts")), Reply

    def apply(self, agent: Agent, answer: BaseModel, state: ConsultationState) -> dict[str, Any]:
        confidence = overall_confidence(state.get("consultations", []))
        return {
            "messages": [AIMessage(_reply(agent, answer), name=agent.name)],
            "active_agent": agent.name,
            "confidence": confidence,
            "low_confidence": confidence < self.threshold,
        }


def consultation(
    primary: Agent,
    specialists: Sequence[Agent],
    *,
    low_confidence: float = 0.5,
    retry: RetryPolicy | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = "consultation",
) -> CompiledStateGraph[ConsultationState, Any, ConsultationState, ConsultationState]:
    """Builds a team where a primary agent consults specialists before it answers.

    Each turn the primary chooses whom to consult (one, several or none) and what to ask; the
    chosen specialists answer in parallel, each with a confidence and a rationale, recorded in
    `state["consultations"]`; the primary then answers the user in the node `"synthesis"`,
    told to weight the answers by confidence. `state["confidence"]` is the confidence-weighted
    mean confidence and `state["low_confidence"]` flags it below `low_confidence`. A specialist
    whose step fails after `retry` is recorded in `state["failures"]` and the others still count.

    Args:
        primary: Decides whom to consult and answers the user.
        specialists: Who may be consulted.
        low_confidence: Threshold below which the result is flagged (0-1).
        retry: How a failed specialist step is tried again; None for a single attempt.
        checkpointer: Where sessions are persisted.
        name: The graph's name.

    Raises:
        AgentSpecError: The team is invalid, has no specialist, or the threshold is not 0-1.
    """
    team = check_team([primary, *specialists])
    reserve(team, SYNTHESIS)
    if not specialists:
        raise AgentSpecError("consultation needs at least one specialist")
    if not 0 <= low_confidence <= 1:
        raise AgentSpecError(f"low_confidence must be between 0 and 1, got {low_confidence}")
    opinion = OpinionTask(primary.name)
    return fan_out(
        ConsultationState,
        (primary.name, AgentNode(primary, ConsultTask(specialists))),
        [(s.name, AgentNode(s, opinion, retry=retry)) for s in specialists],
        (SYNTHESIS, AgentNode(primary, SynthesiseTask(low_confidence))),
        checkpointer=checkpointer,
        name=name,
    )


def _reply(agent: Agent, answer: BaseModel) -> str:
    return tidy(getattr(answer, "reply"), prompt=identity(agent))  # noqa: B009
