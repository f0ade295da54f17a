"""What agents are told: the system prompts of the handoff and the parallel patterns.

Every prompt ends the conversation on the user's message and puts what teammates contributed
(a handoff, an answer, a result) in the system prompt instead. Ending on an assistant turn makes
servers such as llama.cpp continue that turn (prefill), and small models answer a trailing
teammate message instead of the user; a cue phrased as a user message made the embedded model
answer the cue, and a quoted teammate reply it copied word for word.

The JSON contract is stated once: by `structured()` (the schema with its field descriptions)
for the parallel patterns, and for the handoff pattern by `contract()` and `answer_shape()`
here, in about a sixth of the tokens (the raw schema was ~330 of each onboarding prompt's ~640
tokens). A handoff agent sees the earlier conversation as a transcript in a
note just before the user's last message, with what changes from turn to turn (the facts known
so far, who just handed over) at the note's end, so the system prompt and the transcript so far
are the same tokens turn after turn and llama.cpp's prompt cache skips re-reading them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from accord.agents import Agent


def identity(agent: Agent) -> list[str]:
    """The opening lines of every prompt: who the agent is and its own instructions."""
    lines = [f"You are {agent.name}: {agent.description}"]
    if agent.instructions:
        lines.append(agent.instructions)
    return lines


def roster(agents: Iterable[Agent]) -> list[str]:
    """One line per agent: name, description and skills, for whoever chooses among them."""
    return [
        f"- {a.name}: {a.description}" + (f" (skills: {', '.join(a.skills)})" if a.skills else "")
        for a in agents
    ]


def request(messages: Sequence[AnyMessage]) -> str:
    """The user's latest message: the request a pattern works on this turn."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return message.text
    return ""


def label(fact: str) -> str:
    """How a fact name reads in a prompt or a reply: `"date_of_birth"` -> `"date of birth"`."""
    return " ".join("ID" if word == "id" else word for word in fact.split("_"))


def labels(facts: Iterable[str]) -> str:
    """Fact names as a phrase: `"date of birth and ID number"`."""
    names = [label(f) for f in facts]
    return ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1] if names else ""


def known(facts: Mapping[str, str] | None) -> list[str]:
    """The "known so far" line of a prompt, so the model does not ask for them again."""
    if not facts:
        return []
    listed = "; ".join(f"{label(k)}: {v}" for k, v in facts.items())
    return [f"Known so far about the user (never ask for these again): {listed}."]


def brief(
    lines: Sequence[str],
    messages: Sequence[AnyMessage],
    facts: Mapping[str, str] | None = None,
) -> list[AnyMessage]:
    """The system prompt from `lines` and the known facts, then the conversation up to the
    user's last message."""
    system = "\n".join([*lines, *known(facts)])
    return [SystemMessage(system), *messages[: _user_turn_end(messages)]]


def ask(lines: Sequence[str], question: str) -> list[AnyMessage]:
    """A one-question prompt for a step that answers a teammate, not the conversation."""
    return [SystemMessage("\n".join(lines)), HumanMessage(question)]


def conversation(
    agent: Agent,
    teammates: Sequence[Agent],
    messages: Sequence[AnyMessage],
    facts: Mapping[str, str] | None = None,
    shape: str = "",
) -> list[AnyMessage]:
    """The messages a handoff agent's model sees: its system prompt, a note, the user's message.

    The note holds the earlier conversation as a transcript (`user:`, `you:`, a teammate's
    name), the facts known so far, who just handed over, and `shape` (the answer's JSON
    shape this turn, see `answer_shape`). No reply is replayed as the model's own assistant
    turn, and an agent that receives the conversation in the middle of a turn (the user's
    message was already answered) sees only the user's lines and its own: the embedded models
    copied teammates' replies (the demo's verification and setup agents repeated "please
    provide your date of birth and ID number" after the customer had given both); what
    teammates learned is in the facts. The transcript only grows at its end, so turn after
    turn the system prompt and the transcript so far are the same tokens, which llama.cpp's
    prompt cache does not read again.
    """
    cut = _user_turn_end(messages)
    head: list[AnyMessage] = [SystemMessage(system_prompt(agent, teammates, contract=bool(shape)))]
    if not cut:
        return head
    received = cut < len(messages)
    earlier = [m for m in messages[: cut - 1] if not received or _own(m, agent)]
    note = ["The conversation so far:", *(_line(m, agent) for m in earlier)] if earlier else []
    note += known(facts)
    note += [handed_over(said.name or "a teammate") for said in messages[cut:]]
    if earlier:
        note.append("Now answer the user's latest message without repeating earlier replies.")
    if shape:
        note.append(f"Answer as {shape}")
    if not note:
        return [*head, messages[cut - 1]]
    return [*head, SystemMessage("\n".join(note)), messages[cut - 1]]


def _own(message: AnyMessage, agent: Agent) -> bool:
    """A line an agent sees even mid-turn: the user's, or its own."""
    return isinstance(message, HumanMessage) or message.name in (agent.name, None)


def _line(message: AnyMessage, agent: Agent) -> str:
    if isinstance(message, HumanMessage):
        return f"user: {message.text}"
    speaker = "you" if message.name in (agent.name, None) else message.name
    return f"{speaker}: {message.text}"


def system_prompt(agent: Agent, teammates: Sequence[Agent], *, contract: bool = False) -> str:
    """Builds the system prompt for one handoff agent's turn.

    Args:
        agent: The agent about to speak.
        teammates: The agents it may hand the conversation to.
        contract: Say what the fields of the JSON answer mean (`CONTRACT`); the task then
            states the answer's shape itself instead of `structured()` stating the schema.
    """
    lines = identity(agent)
    lines.append(f"{TEAM_RULE} {RULES}" if contract else RULES)
    if teammates:
        lines.append("Teammates who can take over when their job is next:")
        lines.extend(
            f"- {mate.name}: {mate.description}"
            + (f" (needs the user's {labels(mate.requires)} first)" if mate.requires else "")
            for mate in teammates
        )
    if contract:
        lines.extend(CONTRACT)
    return "\n".join(lines)


TEAM_RULE = "Do only your own job and never promise a teammate's."
"""What a team's agent is told first (issue 12: agents claimed each other's jobs)."""
RULES = (
    "Keep each reply short: at most three sentences, in the user's language, straight to the "
    "point (no thanks, no restating what the user said). Never ask again for something the "
    "user already said."
)
"""How every handoff agent replies, a routed specialist too (issue 12: agents opened with
"Thank you for ...", and restated the facts)."""

CONTRACT = (
    "Answer with one JSON object on one line:",
    '- "facts": only the facts the user\'s latest message gives; leave out the others.',
    '- "handoff_to": the teammate whose job is next now, or "none" to keep the conversation.',
    '- "reply": your message to the user. When you hand off, one short sentence that asks '
    "nothing (a welcome, or what is now done): the teammate asks for what they need.",
)
"""What the fields of a handoff agent's answer mean, once in its system prompt (cached)."""


def answer_shape(fields: Mapping[str, object]) -> str:
    """The JSON shape of this turn's answer on one line, e.g.
    `{"facts": {}, "handoff_to": "setup" or "none", "reply": "..."}`.

    `fields` maps each field to its kind: a tuple of the allowed strings, a nested mapping, or
    anything else for free text. Written on one line, it asked the model for one line: answers
    spread over indented lines spent a token on every indent.
    """
    parts = []
    for name, kind in fields.items():
        if isinstance(kind, Mapping):
            shown = answer_shape(kind) if kind else "{...}"
        elif isinstance(kind, tuple):
            shown = " or ".join(f'"{choice}"' for choice in kind)
        else:
            shown = '"..."'
        parts.append(f'"{name}": {shown}')
    return "{" + ", ".join(parts) + "}"


def handed_over(source: str) -> str:
    """Tells an agent that `source` has just handed it the conversation."""
    return (
        f"{source} has just handed this conversation to you. Answer the user's last message "
        "yourself, starting your own job."
    )


def _user_turn_end(messages: Sequence[AnyMessage]) -> int:
    """Where the conversation ends once the AI turns after the user's last message are cut."""
    cut = len(messages)
    while cut and isinstance(messages[cut - 1], AIMessage):
        cut -= 1
    return cut
