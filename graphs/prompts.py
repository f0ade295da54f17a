"""What agents are told: the system prompts of the handoff and the parallel patterns.

Every prompt ends the conversation on the user's message and puts what teammates contributed
(a handoff, an answer, a result) in the system prompt instead. Ending on an assistant turn makes
servers such as llama.cpp continue that turn (prefill), and small models answer a trailing
teammate message instead of the user; a cue phrased as a user message made the embedded model
answer the cue, and a quoted teammate reply it copied word for word.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def brief(lines: Sequence[str], messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """The system prompt from `lines`, then the conversation up to the user's last message."""
    return [SystemMessage("\n".join(lines)), *messages[: _user_turn_end(messages)]]


def ask(lines: Sequence[str], question: str) -> list[AnyMessage]:
    """A one-question prompt for a step that answers a teammate, not the conversation."""
    return [SystemMessage("\n".join(lines)), HumanMessage(question)]


def conversation(
    agent: Agent, teammates: Sequence[Agent], messages: Sequence[AnyMessage]
) -> list[AnyMessage]:
    """The messages a handoff agent's model sees: its system prompt, then the conversation.

    The replies teammates wrote since the user last spoke (they handed over to this agent) are
    left out and each handoff is stated in the system prompt instead.
    """
    cut = _user_turn_end(messages)
    system = system_prompt(agent, teammates)
    for said in messages[cut:]:
        system += "\n" + handed_over(said.name or "a teammate")
    return [SystemMessage(system), *messages[:cut]]


def system_prompt(agent: Agent, teammates: Sequence[Agent]) -> str:
    """Builds the system prompt for one handoff agent's turn.

    Args:
        agent: The agent about to speak.
        teammates: The agents it may hand the conversation to.
    """
    lines = identity(agent)
    lines.append("Keep each reply short: at most three sentences. Never repeat an earlier message.")
    if teammates:
        lines.append("Teammates who can take over when their job is next:")
        lines.extend(f"- {mate.name}: {mate.description}" for mate in teammates)
        lines.append(
            'Reply with JSON: "reply" is your message to the user; "handoff_to" is the '
            'teammate who should continue, or "none" to keep the conversation yourself.'
        )
    else:
        lines.append('Reply with JSON: "reply" is your message to the user.')
    return "\n".join(lines)


def handed_over(source: str) -> str:
    """Tells an agent that `source` has just handed it the conversation."""
    return (
        f"{source} has just handed this conversation to you. Answer the user's last message "
        "yourself, doing your own job."
    )


def _user_turn_end(messages: Sequence[AnyMessage]) -> int:
    """Where the conversation ends once the AI turns after the user's last message are cut."""
    cut = len(messages)
    while cut and isinstance(messages[cut - 1], AIMessage):
        cut -= 1
    return cut
