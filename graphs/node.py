"""The one agent node every pattern uses: an LLM-backed specialist that answers or hands off."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Literal

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import Runnable, RunnableConfig
from langgraph.graph import END
from langgraph.types import Command
from pydantic import BaseModel, Field, create_model

from accord.agents import Agent, resolve_model, structured
from accord.graphs.prompt import handed_over, system_prompt
from accord.graphs.state import Handoff, TeamState

NO_HANDOFF = "none"
REPLY_LIMIT = 400


class Reply(BaseModel):
    """An agent's answer when it may not hand the conversation on."""

    # The bound is part of the schema, so a constrained decoder cannot ramble past it.
    reply: str = Field(description="Your message to the user.", max_length=REPLY_LIMIT)


@cache
def decision_schema(targets: tuple[str, ...]) -> type[BaseModel]:
    """The structured decision an agent makes when it may hand off to `targets`.

    Schema-constrained output is how control decisions stay reliable on small local models,
    which do not emit native tool calls dependably. The handoff comes first in the schema so a
    constrained decoder commits to it from the conversation, before writing the reply.
    """
    if not targets:
        return Reply
    choice = Literal[(*targets, NO_HANDOFF)]  # type: ignore[valid-type]
    fields: dict[str, Any] = {
        "handoff_to": (choice, Field(description="Teammate who should continue, or 'none'.")),
        **{name: (info.annotation, info) for name, info in Reply.model_fields.items()},
    }
    decision: type[BaseModel] = create_model("Decision", **fields)
    return decision


def replies_this_turn(messages: Sequence[AnyMessage]) -> int:
    """Counts agent messages since the user last spoke: the hops taken in this turn."""
    count = 0
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            break
        if isinstance(message, AIMessage):
            count += 1
    return count


class AgentNode(Runnable[TeamState, Command[str]]):
    """Runs one agent for one step: builds its prompt, asks its model chain, applies the decision.

    A `Runnable` of its own (not a lambda) so LangGraph runs it with both `invoke` and `ainvoke`
    without inspecting signatures on every step. The model chain is resolved on first use, so
    building a graph never starts a model server. Nothing here is per session: a node holds
    only its agent, teammates and resolved models.
    """

    def __init__(self, agent: Agent, teammates: Sequence[Agent], *, max_hops: int) -> None:
        self.agent = agent
        self.teammates = tuple(teammates)
        self.max_hops = max_hops
        self._chains: dict[type[BaseModel], Runnable[Any, Any]] = {}

    def invoke(
        self, input: TeamState, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Command[str]:
        prompt, schema = self._prepare(input)
        return self._apply(self._chain(schema).invoke(prompt, config))

    async def ainvoke(
        self, input: TeamState, config: RunnableConfig | None = None, **kwargs: Any
    ) -> Command[str]:
        prompt, schema = self._prepare(input)
        return self._apply(await self._chain(schema).ainvoke(prompt, config))

    def _prepare(self, state: TeamState) -> tuple[list[AnyMessage], type[BaseModel]]:
        messages = state.get("messages", [])
        # The reply about to be written counts as a hop; the last allowed hop cannot hand off.
        may_hand_off = replies_this_turn(messages) + 1 < self.max_hops
        mates = self.teammates if may_hand_off else ()
        prompt: list[AnyMessage] = [SystemMessage(system_prompt(self.agent, mates)), *messages]
        if messages and isinstance(messages[-1], AIMessage):
            # A handoff: the receiver must not see the conversation end on an assistant turn,
            # or servers such as llama.cpp treat it as a reply to continue (prefill).
            prompt.append(HumanMessage(handed_over(messages[-1].name or "a teammate")))
        return prompt, decision_schema(tuple(m.name for m in mates))

    def _chain(self, schema: type[BaseModel]) -> Runnable[Any, Any]:
        chain = self._chains.get(schema)
        if chain is None:
            first, *rest = (structured(resolve_model(m), schema) for m in self.agent.models)
            chain = first.with_fallbacks(rest) if rest else first
            self._chains[schema] = chain
        return chain

    def _apply(self, decision: BaseModel) -> Command[str]:
        reply: str = getattr(decision, "reply")  # noqa: B009 - every decision schema has it
        message = AIMessage(content=reply, name=self.agent.name)
        target = getattr(decision, "handoff_to", NO_HANDOFF)
        if target == NO_HANDOFF or target == self.agent.name:
            return Command(
                goto=END, update={"messages": [message], "active_agent": self.agent.name}
            )
        handoff: Handoff = {"source": self.agent.name, "target": target, "reason": reply}
        return Command(
            goto=target,
            update={"messages": [message], "active_agent": target, "handoffs": [handoff]},
        )
