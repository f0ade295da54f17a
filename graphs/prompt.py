"""How an agent is introduced to its model: the system prompt built from its spec and team."""

from __future__ import annotations

from collections.abc import Sequence

from accord.agents import Agent


def system_prompt(agent: Agent, teammates: Sequence[Agent], received_from: str | None) -> str:
    """Builds the system prompt for one agent turn.

    Args:
        agent: The agent about to speak.
        teammates: The agents it may hand the conversation to.
        received_from: The agent that just handed the conversation over, if any.
    """
    lines = [f"You are {agent.name}: {agent.description}"]
    if agent.instructions:
        lines.append(agent.instructions)
    if received_from:
        lines.append(f"{received_from} has just handed this conversation to you; continue it.")
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
