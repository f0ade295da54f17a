"""The prompts of the parallel patterns: what voters, specialists, workers and routers are told.

Every brief ends the conversation on the user's message and puts what teammates contributed in
the system prompt: small models answer a trailing teammate message instead of the user.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage

from accord.agents import Agent


def identity(agent: Agent) -> list[str]:
    """The opening lines of every brief: who the agent is and its own instructions."""
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
    cut = len(messages)
    while cut and isinstance(messages[cut - 1], AIMessage):
        cut -= 1
    return [SystemMessage("\n".join(lines)), *messages[:cut]]


def ask(lines: Sequence[str], question: str) -> list[AnyMessage]:
    """A one-question prompt for a step that answers a teammate, not the conversation."""
    return [SystemMessage("\n".join(lines)), HumanMessage(question)]
