"""How an agent is introduced to its model: the system prompt built from its spec and team."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage

from accord.agents import Agent
from accord.graphs.briefs import identity


def conversation(
    agent: Agent, teammates: Sequence[Agent], messages: Sequence[AnyMessage]
) -> list[AnyMessage]:
    """The messages an agent's model sees: its system prompt, then the conversation.

    The replies teammates wrote since the user last spoke (they handed over to this agent) are
    left out and the handoff is stated in the system prompt instead, so the conversation the
    model sees ends on the user's message. Ending on an assistant turn makes servers such as
    llama.cpp continue that turn (prefill); a cue phrased as a user message made the embedded
    model answer the cue; and a quoted teammate reply it copied word for word.
    """
    cut = len(messages)
    while cut and isinstance(messages[cut - 1], AIMessage):
        cut -= 1
    system = system_prompt(agent, teammates)
    for said in messages[cut:]:
        system += "\n" + handed_over(said.name or "a teammate")
    return [SystemMessage(system), *messages[:cut]]


def system_prompt(agent: Agent, teammates: Sequence[Agent]) -> str:
    """Builds the system prompt for one agent turn.

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
