"""How an agent is introduced to its model: the system prompt built from its spec and team."""

from __future__ import annotations

from collections.abc import Sequence

from accord.agents import Agent


def system_prompt(agent: Agent, teammates: Sequence[Agent]) -> str:
    """Builds the system prompt for one agent turn.

    Args:
        agent: The agent about to speak.
        teammates: The agents it may hand the conversation to.
    """
    lines = [f"You are {agent.name}: {agent.description}"]
    if agent.instructions:
        lines.append(agent.instructions)
    lines.append("Keep each reply short: at most three sentences.")
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
    """The cue that tells an agent it has just received the conversation from `source`."""
    return f"({source} has just handed this conversation to you. Continue it with the user.)"
