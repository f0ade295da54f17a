"""The `Agent` spec: who a specialist is, what it knows, which models serve it, what it can take."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from accord.agents.errors import AgentSpecError

# Agent names become graph node names and message `name`s: keep them plain identifiers.
# LangGraph's own nodes are refused here; each pattern refuses the names of its own steps.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_RESERVED = {"__start__", "__end__"}
_FACT = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


ModelRef = str | BaseChatModel


class Agent(BaseModel):
    """A specialist agent.

    Attributes:
        name: Unique name within a team; used as the graph node name and on every message the
            agent writes. Letters, digits, `_` and `-`, starting with a letter.
        description: One line saying what the agent is for; other agents and the router read it.
            An agent needs a description, skills or examples (any of them).
        instructions: The agent's system prompt.
        skills: Short skill tags the router matches requests against.
        examples: A few requests this agent should get, in a user's words; every fit of the
            router (lexical and embedding) matches requests against them too.
        models: The fallback chain, tried in order: model ids (`"local"`, `"openai:gpt-4o-mini"`,
            `"ollama:llama3.2"`) or ready LangChain chat models (e.g. a `ScriptedModel`).
        tools: LangChain tools the agent may call.
        capacity: How many sessions the agent serves at once before it counts as full.
        backup: Name of the hot-standby agent that takes over this agent's sessions.
        approve: Names of the agent's tools a person must approve before each call: the
            session pauses with the question (LangGraph's `interrupt`) until someone answers
            with `session.aresume_with(True)` (or False, and the model is told no).
        requires: Session facts (snake_case names, e.g. `"date_of_birth"`) that must be known
            before a teammate may hand the conversation to this agent; checked in code, not
            left to the model.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, extra="forbid")

    name: str
    description: str = ""
    instructions: str = ""
    skills: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    models: tuple[ModelRef, ...] = ("local",)
    tools: tuple[BaseTool, ...] = ()
    capacity: int = Field(default=8, ge=1)
    backup: str | None = None
    requires: tuple[str, ...] = ()
    approve: tuple[str, ...] = ()

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'agent'}: {err['msg']}"
                for err in exc.errors()
            )
            name = data.get("name", "?")
            raise AgentSpecError(f"invalid Agent {name!r}: {problems}") from None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, value: str) -> str:
        if not _NAME.match(value) or value in _RESERVED:
            raise ValueError(
                "use 1-64 letters, digits, '_' or '-', starting with a letter "
                f"(not one of {sorted(_RESERVED)})"
            )
        return value

    @field_validator("models")
    @classmethod
    def _some_model(cls, value: tuple[ModelRef, ...]) -> tuple[ModelRef, ...]:
        if not value:
            raise ValueError("give at least one model id, e.g. models=('local',)")
        return value

    @field_validator("requires")
    @classmethod
    def _fact_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for fact in value:
            if not _FACT.match(fact):
                raise ValueError(
                    f"fact name {fact!r}: use snake_case letters, digits and '_', e.g. "
                    "'date_of_birth'"
                )
        return value

    @field_validator("skills")
    @classmethod
    def _clean_skills(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(s.strip().lower() for s in value if s.strip())

    @field_validator("examples")
    @classmethod
    def _clean_examples(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(e.strip() for e in value if e.strip())

    @model_validator(mode="after")
    def _approved_tools(self) -> Agent:
        unknown = set(self.approve) - {tool.name for tool in self.tools}
        if unknown:
            raise ValueError(
                f"approve names {sorted(unknown)}, which are not among the agent's tools "
                f"({', '.join(tool.name for tool in self.tools) or 'none'})"
            )
        return self

    @model_validator(mode="after")
    def _described(self) -> Agent:
        # Nothing to route on, nothing for teammates to read: refuse it here, not at run time.
        if not (self.description.strip() or self.skills or self.examples):
            raise ValueError("say what the agent is for: give a description, skills or examples")
        return self


def check_team(agents: Sequence[Agent]) -> dict[str, Agent]:
    """Validates a team and returns it by name.

    Raises:
        AgentSpecError: No agents, a duplicate name, a backup that is not in the team, or an
            agent that is its own backup.
    """
    if not agents:
        raise AgentSpecError("a team needs at least one Agent")
    team: dict[str, Agent] = {}
    for agent in agents:
        if not isinstance(agent, Agent):
            raise AgentSpecError(f"expected Agent, got {type(agent).__name__}: {agent!r}")
        if agent.name in team:
            raise AgentSpecError(f"two agents are named {agent.name!r}; names must be unique")
        team[agent.name] = agent
    for agent in agents:
        if agent.backup is None:
            continue
        if agent.backup == agent.name:
            raise AgentSpecError(f"agent {agent.name!r} cannot be its own backup")
        if agent.backup not in team:
            raise AgentSpecError(
                f"agent {agent.name!r} names backup {agent.backup!r}, which is not in the team "
                f"({', '.join(team)})"
            )
    return team
