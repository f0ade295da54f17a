"""The handoff pattern: control passes from agent to agent; the user sees one conversation."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command
from pydantic import BaseModel, Field, create_model

from accord.agents import Agent, AgentSpecError, check_team
from accord.graphs.node import AgentNode, Task
from accord.graphs.prompts import answer_shape, conversation, identity, label, labels, request
from accord.graphs.replies import tidy
from accord.graphs.state import Handoff, TeamState

NO_HANDOFF = "none"
_FACT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Reply(BaseModel):
    """An agent's answer when it may not hand the conversation on."""

    # No max_length: a schema bound cuts the string mid-word. `tidy()` bounds it instead.
    reply: str = Field(description="Your message to the user, at most three sentences.")


@cache
def facts_schema(facts: tuple[str, ...]) -> type[BaseModel]:
    """The session facts an agent reports: each a string, or null while the user has not said."""
    fields: dict[str, Any] = {
        fact: (str | None, Field(default=None, description=label(fact))) for fact in facts
    }
    schema: type[BaseModel] = create_model("Facts", **fields)
    return schema


@cache
def decision_schema(targets: tuple[str, ...], facts: tuple[str, ...] = ()) -> type[BaseModel]:
    """The structured decision an agent makes when it may hand off to `targets`.

    Schema-constrained output is how control decisions stay reliable on small local models,
    which do not emit native tool calls dependably. The facts come first, so the model reads
    the conversation for them before deciding; the handoff comes before the reply so a
    constrained decoder commits to it from the conversation, before writing the reply.
    """
    if not targets and not facts:
        return Reply
    fields: dict[str, Any] = {}
    if facts:
        fields["facts"] = (
            facts_schema(facts),
            Field(description="What the user's latest message says; null for anything else."),
        )
    if targets:
        choice = Literal[(*targets, NO_HANDOFF)]  # type: ignore[valid-type]
        fields["handoff_to"] = (
            choice,
            Field(description="The teammate who should continue now, or 'none' to keep it."),
        )
    fields.update({name: (info.annotation, info) for name, info in Reply.model_fields.items()})
    decision: type[BaseModel] = create_model("Decision", **fields)
    return decision


def shape(targets: tuple[str, ...], facts: tuple[str, ...]) -> str:
    """The one-line JSON shape of `decision_schema(targets, facts)`, as the prompt shows it."""
    fields: dict[str, object] = {"facts": {}} if facts else {}
    if targets:
        fields["handoff_to"] = (*targets, NO_HANDOFF)
    fields["reply"] = ""
    # The facts' names, not a template of them: a template's '"id_number": "..."' was copied.
    keys = f' where "facts" may hold {", ".join(facts)}' if facts else ""
    return answer_shape(fields) + keys


def said_facts(answer: BaseModel, said: str | None = None) -> dict[str, str]:
    """The facts an answer reports, without the empty and placeholder values models write.

    With `said` (the user's message), only facts grounded in it: at least half of a value's
    words are in the message. The embedded model reported the options its instructions
    listed ("paper statements, debit card") as preferences the customer had not given yet.
    """
    facts = getattr(answer, "facts", None)
    if facts is None:
        return {}
    heard = _words(said) if said is not None else None
    found: dict[str, str] = {}
    for name, value in facts.model_dump().items():
        text = str(value).strip() if value is not None else ""
        if not text or text.lower().strip(".") in _PLACEHOLDERS:
            continue
        words = _words(text)
        if heard is None or 2 * len(words & heard) >= max(len(words), 1):
            found[name] = text
    return found


def _words(text: str) -> set[str]:
    """The words of `text` that ground a fact: numbers without leading zeros, and a month's
    name also as its number (the model wrote "9 July 1992" as "1992-07-09")."""
    words: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if word.isdigit():
            words.add(word.lstrip("0") or "0")
        else:
            words.add(word)
            if (month := _MONTHS.get(word[:3])) is not None:
                words.add(month)
    return words


_WORD = re.compile(r"[^\W_]{3,}|\d+")
_MONTHS = {
    month: str(number)
    for number, month in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


# "" is what is left of the shape's "..." once its dots are stripped.
_PLACEHOLDERS = {
    "",
    "none",
    "null",
    "unknown",
    "n/a",
    "na",
    "not provided",
    "not given",
    "-",
    "?",
    "…",
}


def missing(agent: Agent, facts: Mapping[str, str]) -> tuple[str, ...]:
    """The facts `agent` requires that are not known yet: a handoff to it waits for them."""
    return tuple(f for f in agent.requires if f not in facts)


def replies_this_turn(messages: Sequence[AnyMessage]) -> int:
    """Counts agent messages since the user last spoke: the hops taken in this turn."""
    count = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            count += 1
    return count


class HandoffTask(Task):
    """Answer the user, and optionally hand the conversation to one of `teammates`.

    The prompt and schema do not depend on the hop: an agent's system prompt is the same
    tokens whether it speaks first or second in a turn, so llama.cpp's prompt cache reuses it
    (with the teammates dropped at the last hop, the embedded model re-read 600 prompt tokens
    per call and the cache matched 5). A handoff chosen at the last allowed hop still moves the
    conversation, but the receiver first speaks at the user's next message.

    Args:
        teammates: Who the agent may hand off to (none: it only replies).
        max_hops: Most agent replies in one turn.
        facts: The session facts the team keeps (`TeamState.facts`); the agent reports them.
    """

    def __init__(
        self,
        teammates: Sequence[Agent],
        *,
        max_hops: int,
        facts: Sequence[str] = (),
        ends: Collection[str] = (),
    ) -> None:
        self.teammates = tuple(teammates)
        self.max_hops = max_hops
        self.facts = tuple(facts)
        self.ends = frozenset(ends)
        # A team's agent is told its answer's shape (`shape`) in a sixth of the raw schema's
        # tokens. A lone agent (a routed specialist answers with a bare reply) keeps the
        # schema, which `structured()` states.
        self.describe_schema = not (self.teammates or self.facts)

    def prepare(self, agent: Agent, state: TeamState) -> tuple[list[AnyMessage], type[BaseModel]]:
        messages = state.get("messages", [])
        known = state.get("facts") or {}
        # Only the facts not known yet are asked for: the model repeated the known ones in
        # every answer (~45 output tokens each, at a few tokens/s the dearest part of a turn).
        unknown = tuple(f for f in self.facts if f not in known)
        targets = tuple(m.name for m in self.offered(messages, known))
        # `conversation` moves what teammates said this turn into a note before the user's
        # message, so the model never sees the conversation end on an assistant turn. The
        # system prompt names every teammate at every hop (it stays cached); only the note's
        # shape and the schema drop the handoff where none is allowed.
        told = "" if self.describe_schema else shape(targets, unknown)
        prompt = conversation(agent, self.teammates, messages, known, told)
        return prompt, decision_schema(targets, unknown)

    def offered(
        self, messages: Sequence[AnyMessage], known: Mapping[str, str]
    ) -> tuple[Agent, ...]:
        """The teammates an agent may hand off to at this hop.

        The turn's first speaker may hand off to any teammate (with `max_hops=1` the receiver
        answers the next message). An agent handed the conversation in this turn may hand on
        only to a teammate whose required facts are known already: the user's message was read
        for facts before, so it holds no more of them, and the embedded models, offered such a
        teammate, chose it and wrote a handoff's reply instead of doing their own job (the
        demo's setup never said the account was open). At the turn's last hop an agent only
        replies: a receiver there could speak only at the user's next message, which left the
        user with "Setup will take it from here." and no question to answer.
        """
        hop = replies_this_turn(messages) + 1
        if hop == 1:
            return self.teammates
        if hop >= self.max_hops:
            return ()
        return tuple(m for m in self.teammates if not missing(m, known))

    def apply(self, agent: Agent, answer: BaseModel, state: TeamState) -> Command[str]:
        reply = tidy(getattr(answer, "reply"), prompt=identity(agent))  # noqa: B009
        learned = {
            k: v
            for k, v in said_facts(answer, request(state.get("messages", []))).items()
            if (state.get("facts") or {}).get(k) != v
        }
        facts = {**(state.get("facts") or {}), **learned}
        update: dict[str, Any] = {"active_agent": agent.name}
        if learned:
            update["facts"] = learned
        target = getattr(answer, "handoff_to", NO_HANDOFF)
        offered = self.offered(state.get("messages", []), state.get("facts") or {})
        mate = next((m for m in offered if m.name == target), None)
        if mate is not None and (lacking := missing(mate, facts)):
            # The gate is code, not the model: small models hand off with details missing.
            reply = waiting_for(reply, lacking, mate, tuple(learned))
            mate = None
        if mate is None:
            update["messages"] = [AIMessage(content=reply, name=agent.name)]
            return Command(goto=END, update=update)
        # The receiver waits for the user's next message at the last hop, and when it hands on
        # to no one and the reply says something: it has nothing to ask (the demo's support
        # answered "I'd like a debit card" with "Let me know when it arrives").
        last_hop = replies_this_turn(state.get("messages", [])) + 1 >= self.max_hops
        waits = last_hop or (mate.name in self.ends and bool(reply))
        # A receiver that speaks next asks for what it needs: the embedded models' own
        # handoff replies asked for it first, and the receiver asked again.
        reply = passing(reply if waits else plain(reply), mate)
        update["messages"] = [AIMessage(content=reply, name=agent.name)]
        handoff: Handoff = {"source": agent.name, "target": mate.name, "reason": reply}
        if self.facts:
            handoff["facts"] = facts  # what the receiver starts from
        update.update(active_agent=mate.name, handoffs=[handoff])
        return Command(goto=END if waits else mate.name, update=update)


def _asks(reply: str) -> bool:
    return "?" in reply or "please" in reply.lower()


def passing_to(mate: Agent) -> str:
    """What an agent says when it hands the conversation to `mate`."""
    return f"{mate.name.capitalize()} will take it from here."


def passing(reply: str, mate: Agent) -> str:
    """A handoff's message: what the agent said, without its own words about the handoff,
    then `passing_to(mate)`, e.g. "Welcome, Dana! Verification will take it from here."."""
    # The models also copied earlier handoff lines ("Setup will take it from here.").
    kept = [
        s.strip()
        for s in _SENTENCES.findall(reply)
        if mate.name not in s.lower() and "take it from here" not in s
    ]
    return " ".join([*(s for s in kept if s), passing_to(mate)])


def plain(reply: str) -> str:
    """`reply` without its sentences that ask something: the receiver asks instead."""
    return " ".join(s.strip() for s in _SENTENCES.findall(reply) if not _asks(s))


_SENTENCES = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|$)", re.S)


def waiting_for(reply: str, lacking: Sequence[str], mate: Agent, noted: Sequence[str] = ()) -> str:
    """The reply of an agent whose handoff to `mate` waits for facts: it asks for them.

    The model's own reply is kept when it already asks about every missing fact; otherwise
    its sentences that ask nothing and do not promise the handoff ("Your account is open.")
    come before a plain request; with none, the facts `noted` from the user's message are
    acknowledged first (a bare request read as if the user had gone unheard).
    """
    asks = _asks(reply) and all(
        any(word in reply.lower() for word in label(f).lower().split() if len(word) > 2)
        for f in lacking
    )
    if asks:
        return reply
    said = [s for s in _SENTENCES.findall(plain(reply)) if mate.name not in s.lower()]
    if not said and noted:
        said = [f"Thank you, I have noted your {labels(noted)}."]
    return " ".join([*said, f"Before we go on, could you tell me your {labels(lacking)}?"])


def handoff(
    agents: Sequence[Agent],
    *,
    checkpointer: BaseCheckpointSaver[Any] | None = None,
    routes: Mapping[str, Sequence[str]] | None = None,
    max_hops: int | None = None,
    facts: Sequence[str] | None = None,
    name: str = "handoff",
) -> CompiledStateGraph[TeamState, Any, TeamState, TeamState]:
    """Builds a team where the active agent answers each user message or hands off.

    The first agent is the entry point. Each turn, the active agent either replies and keeps the
    conversation or replies and hands it to a teammate, who continues in the same turn with the
    full history and state. `state["active_agent"]` remembers who holds the conversation, so the
    next user message goes straight to them.

    Args:
        agents: The team; the first agent greets the user.
        checkpointer: Where sessions are persisted (e.g. `SQLAlchemySaver.from_url(...)`).
        routes: Who may hand off to whom, e.g. `{"intake": ["verification"]}`. Agents not named
            may hand off to every teammate. Narrow routes make small models more reliable.
        max_hops: Most agent replies in one turn (default: the team size), so two agents can
            never pass a conversation back and forth forever. An agent handed the conversation
            at the last hop only replies; with `max_hops=1` a handoff takes effect at the
            user's next message. A receiver that hands on to no one (`routes` gives it none)
            also waits for the user's next message when the handoff's reply says something.
        facts: The session facts the team keeps in `state["facts"]` (snake_case names, e.g.
            `("full_name", "date_of_birth")`): every agent reports them in its structured
            answer and sees them as "known so far". Default: every fact an agent `requires`.
            A handoff to an agent waits until the facts it `requires` are known.
        name: The graph's name.

    Returns:
        A compiled LangGraph graph; invoke it with `{"messages": [("user", text)]}` and a
        `thread_id` in the config.

    Raises:
        AgentSpecError: The team is invalid, `routes` names an unknown agent, or an agent
            requires a fact the team does not keep.
    """
    team = check_team(agents)
    kept = _facts(agents, facts)
    targets = _targets(team, routes or {})
    hops = len(team) if max_hops is None else max_hops
    if hops < 1:
        raise AgentSpecError(f"max_hops must be at least 1, got {hops}")
    entry = agents[0].name
    ends = [name for name, dests in targets.items() if not dests]

    builder = StateGraph(TeamState)
    for agent in agents:
        mates = [team[t] for t in targets[agent.name]]
        task = HandoffTask(mates, max_hops=hops, facts=kept, ends=ends)
        node = AgentNode(agent, task)
        builder.add_node(agent.name, node, destinations=(*targets[agent.name], "__end__"))
    builder.add_conditional_edges(
        START, lambda state: state.get("active_agent") or entry, list(team)
    )
    return builder.compile(checkpointer=checkpointer, name=name)


def _targets(
    team: Mapping[str, Agent], routes: Mapping[str, Sequence[str]]
) -> dict[str, list[str]]:
    for source, dests in routes.items():
        for agent in (source, *dests):
            if agent not in team:
                raise AgentSpecError(
                    f"routes names {agent!r}, which is not in the team ({', '.join(team)})"
                )
    return {name: [t for t in routes.get(name, list(team)) if t != name] for name in team}


def _facts(agents: Sequence[Agent], facts: Sequence[str] | None) -> tuple[str, ...]:
    required = list(dict.fromkeys(f for agent in agents for f in agent.requires))
    if facts is None:
        return tuple(required)
    kept = tuple(dict.fromkeys(facts))
    if bad := [f for f in kept if not _FACT.match(f)]:
        raise AgentSpecError(f"facts {bad}: use snake_case names, e.g. 'date_of_birth'")
    if unknown := [f for f in required if f not in kept]:
        raise AgentSpecError(
            f"agents require facts the team does not keep: {', '.join(unknown)}; add them to "
            "facts=..."
        )
    return kept
