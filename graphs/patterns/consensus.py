"""The consensus pattern: agents vote in parallel; quorum, weights, ties and dissent explicit."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Annotated, Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import RetryPolicy, Send
from pydantic import BaseModel, ConfigDict, Field, create_model
from typing_extensions import TypedDict  # pydantic builds JSON schemas from it on 3.11

from accord.agents import Agent, AgentSpecError, check_team
from accord.graphs.node import AgentNode, Task
from accord.graphs.patterns.checks import reserve
from accord.graphs.patterns.fanout import fan_out
from accord.graphs.prompts import brief, identity, request
from accord.graphs.replies import tidy
from accord.graphs.state import Failure, TeamState, collect, failure

BALLOT, TALLY = "ballot", "tally"
TieBreak = Literal["none", "confidence", "first"] | str


class Vote(TypedDict):
    """One agent's vote. `weight` is the agent's weight in the tally."""

    agent: str
    choice: str
    confidence: float
    rationale: str
    weight: float


class Outcome(TypedDict):
    """What the panel decided.

    Attributes:
        decision: The winning choice, or None when there is no quorum or an unbroken tie.
        tally: Summed weights per choice.
        confidence: The decision's weight-and-confidence share of all valid votes (0-1); 0 when
            there is no decision.
        dissent: The votes for anything but the decision.
        reason: Why this outcome, in one sentence.
        voters: How many agents cast a valid vote.
    """

    decision: str | None
    tally: dict[str, float]
    confidence: float
    dissent: list[Vote]
    reason: str
    voters: int


class ConsensusState(TeamState, total=False):
    """`TeamState` plus the round's votes, failed voters and outcome."""

    votes: Annotated[list[Vote], collect]
    failures: Annotated[list[Failure], collect]
    outcome: Outcome


@cache
def ballot_schema(options: tuple[str, ...] | None) -> type[BaseModel]:
    """The structured vote: the rationale, then a choice (one of `options`) and a confidence.

    The rationale comes first so the model weighs the case before it commits to a choice: with
    the choice first, the embedded 0.5B model voted "reject" on 9 of 9 loans. The schema has no
    titles (they restate the field names): it is read by the model in every voter's prompt.
    """
    choice: Any = Literal[options] if options else str
    schema: type[BaseModel] = create_model(
        "Ballot",
        __config__=ConfigDict(json_schema_extra=_untitled),
        rationale=(str, Field(description="Your reasoning about the case, in one short sentence.")),
        choice=(choice, Field(description="Your vote, following from that reasoning.")),
        confidence=(float, Field(ge=0, le=1, description="How sure you are, from 0 to 1.")),
    )
    return schema


def _untitled(schema: dict[str, Any]) -> None:
    schema.pop("title", None)
    for field in schema.get("properties", {}).values():
        field.pop("title", None)


class VoteTask(Task):
    """Vote on the user's latest message; a failed vote is recorded, never raised."""

    def __init__(self, options: tuple[str, ...] | None, weights: Mapping[str, float]) -> None:
        self.options = options
        self.weights = weights

    def prepare(
        self, agent: Agent, state: ConsensusState
    ) -> tuple[list[AnyMessage], type[BaseModel]]:
        # What every voter is told comes first (with the JSON contract, which `structured()`
        # adds to the first system message) and the voter's own part after it: the voters'
        # prompts then open on the same tokens, which llama.cpp's prompt cache reads once.
        rules = ["Your team decides by vote. Vote on the user's last message."]
        if self.options:
            rules.append(f"Choose exactly one of: {', '.join(self.options)}.")
        own = brief(identity(agent), state.get("messages", []), state.get("facts"))
        return [SystemMessage("\n".join(rules)), *own], ballot_schema(self.options)

    def apply(self, agent: Agent, answer: BaseModel, state: ConsensusState) -> dict[str, Any]:
        vote: Vote = {
            "agent": agent.name,
            "choice": str(getattr(answer, "choice")).strip(),  # noqa: B009
            "confidence": float(getattr(answer, "confidence")),  # noqa: B009
            "rationale": tidy(str(getattr(answer, "rationale")), prompt=identity(agent)),  # noqa: B009
            "weight": self.weights.get(agent.name, 1.0),
        }
        return {"votes": [vote]}

    def failed(
        self, agent: Agent, state: ConsensusState, error: Exception, attempts: int
    ) -> dict[str, Any]:
        task = f"vote on: {request(state.get('messages', []))}"
        return {"failures": [failure(agent.name, task, error, attempts)]}


def consensus(
    agents: Sequence[Agent],
    *,
    options: Sequence[str] | None = None,
    quorum: int | None = None,
    weights: Mapping[str, float] | None = None,
    tie_break: TieBreak = "confidence",
    retry: RetryPolicy | None = None,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    name: str = "consensus",
) -> CompiledStateGraph[ConsensusState, Any, ConsensusState, ConsensusState]:
    """Builds a panel where every agent votes, in parallel, on each user message.

    The outcome lands in `state["outcome"]` (decision, weighted tally, confidence, dissent,
    reason) and as a short message from `"tally"`. Falling short of the quorum is an outcome
    (`decision` None, with the reason), not an error; so is a tie that `tie_break` cannot break.
    A voter whose model fails, even after re-asks and retries, is recorded in
    `state["failures"]` and does not count towards the quorum.

    Args:
        agents: The panel.
        options: The choices allowed; None lets agents answer freely (votes for the same text
            are tallied together).
        quorum: Valid votes needed for a decision (default: a majority of the panel).
        weights: Weight of each agent's vote (default 1).
        tie_break: `"confidence"` (the tied choice whose voters are surest, weighted),
            `"first"` (the tied choice listed first in `options`, else voted first in panel
            order), `"none"` (no decision), or an agent's name (that agent's choice wins).
        retry: How often a voter's failed step is tried again before it is recorded.
        checkpointer: Where sessions are persisted.
        name: The graph's name.

    Raises:
        AgentSpecError: The team is invalid, the quorum is not between 1 and the panel size,
            `weights` names an unknown agent or is not positive, `options` is empty or repeats
            itself, or `tie_break` is neither a rule nor a panel member.
    """
    team = check_team(agents)
    reserve(team, BALLOT, TALLY)
    choices = _options(options)
    need = len(team) // 2 + 1 if quorum is None else quorum
    if not 1 <= need <= len(team):
        raise AgentSpecError(
            f"quorum must be between 1 and the panel size ({len(team)}), got {need}"
        )
    scale = _weights(team, weights or {})
    if tie_break not in ("none", "confidence", "first") and tie_break not in team:
        raise AgentSpecError(
            f"tie_break must be 'none', 'confidence', 'first' or a panel member "
            f"({', '.join(team)}), got {tie_break!r}"
        )
    panel = list(team)
    task = VoteTask(choices, scale)

    def tally(state: ConsensusState) -> dict[str, Any]:
        outcome = decide(state.get("votes", []), panel, choices, need, tie_break)
        return {"outcome": outcome, "messages": [AIMessage(summary(outcome), name=TALLY)]}

    return fan_out(
        ConsensusState,
        # A new round: forget the previous message's votes before the new ones arrive.
        (BALLOT, lambda state: {"votes": None, "failures": None}),
        [(agent.name, AgentNode(agent, task, retry=retry)) for agent in agents],
        (TALLY, tally),
        sends=lambda state: [Send(n, state) for n in panel],
        checkpointer=checkpointer,
        name=name,
    )


def decide(
    votes: Sequence[Vote],
    panel: Sequence[str],
    options: tuple[str, ...] | None,
    quorum: int,
    tie_break: TieBreak,
) -> Outcome:
    """Tallies `votes` into an `Outcome` (a pure function, so the rules are easy to test)."""
    order = {name: i for i, name in enumerate(panel)}
    votes = sorted(votes, key=lambda v: order.get(v["agent"], len(order)))
    tally: dict[str, float] = {}
    for vote in votes:
        tally[vote["choice"]] = tally.get(vote["choice"], 0.0) + vote["weight"]
    if len(votes) < quorum:
        reason = f"no quorum: {len(votes)} of {len(panel)} agents voted, {quorum} needed"
        return _outcome(None, tally, votes, reason)
    top = max(tally.values())
    leaders = [c for c, t in tally.items() if math.isclose(t, top)]
    if len(leaders) == 1:
        return _outcome(leaders[0], tally, votes, f"{leaders[0]!r} has the most weight")
    winner = _break(leaders, votes, options, tie_break)
    tied = ", ".join(repr(c) for c in leaders)
    if winner is None:
        return _outcome(None, tally, votes, f"tie between {tied} that {tie_break!r} cannot break")
    return _outcome(winner, tally, votes, f"tie between {tied} broken by {tie_break!r}")


def _break(
    leaders: list[str], votes: Sequence[Vote], options: tuple[str, ...] | None, rule: TieBreak
) -> str | None:
    if rule == "none":
        return None
    if rule == "first":
        ranked = list(options) if options else [v["choice"] for v in votes]
        return min(leaders, key=ranked.index)
    if rule == "confidence":
        sure = {
            c: sum(v["weight"] * v["confidence"] for v in votes if v["choice"] == c)
            for c in leaders
        }
        best = max(sure.values())
        top = [c for c in leaders if math.isclose(sure[c], best)]
        return top[0] if len(top) == 1 else None
    chair = next((v["choice"] for v in votes if v["agent"] == rule), None)
    return chair if chair in leaders else None


def _outcome(
    decision: str | None, tally: dict[str, float], votes: Sequence[Vote], reason: str
) -> Outcome:
    total = sum(v["weight"] for v in votes)
    backing = sum(v["weight"] * v["confidence"] for v in votes if v["choice"] == decision)
    return {
        "decision": decision,
        "tally": tally,
        "confidence": round(backing / total, 4) if decision is not None and total else 0.0,
        "dissent": [v for v in votes if v["choice"] != decision],
        "reason": reason,
        "voters": len(votes),
    }


def summary(outcome: Outcome) -> str:
    """The tally's message to the user."""
    if outcome["decision"] is None:
        return f"No decision: {outcome['reason']}."
    return (
        f"Decision: {outcome['decision']} (confidence {outcome['confidence']:.2f}; "
        f"{len(outcome['dissent'])} dissenting of {outcome['voters']} votes)."
    )


def _options(options: Sequence[str] | None) -> tuple[str, ...] | None:
    if options is None:
        return None
    choices = tuple(str(o).strip() for o in options)
    if not choices or len(set(choices)) != len(choices) or not all(choices):
        raise AgentSpecError(f"options must be distinct non-empty strings, got {list(options)}")
    return choices


def _weights(team: Mapping[str, Agent], weights: Mapping[str, float]) -> dict[str, float]:
    for agent, weight in weights.items():
        if agent not in team:
            raise AgentSpecError(
                f"weights names {agent!r}, which is not in the panel ({', '.join(team)})"
            )
        if not weight > 0:
            raise AgentSpecError(f"weight of {agent!r} must be positive, got {weight}")
    return {name: float(weights.get(name, 1.0)) for name in team}
