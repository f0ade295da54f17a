"""Structured output that holds on every provider: schema-constrained, validated, re-asked.

Control decisions (route, hand off, vote, confidence) go through `structured()`: small local
models do not emit native tool calls reliably, but every provider here can constrain its reply
to a JSON schema, and a bounded re-ask repairs the rare reply that still does not validate.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda
from langchain_openai.chat_models.base import BaseChatOpenAI
from pydantic import BaseModel, ValidationError

from accord.agents.errors import MalformedOutput

T = TypeVar("T", bound=BaseModel)

_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_RAW_SHOWN = 500


def structured(
    model: BaseChatModel, schema: type[T], *, retries: int = 2, describe: bool = True
) -> Runnable[LanguageModelInput, T]:
    """Wraps `model` so that it answers with a validated instance of `schema`.

    Uses the provider's `with_structured_output(schema, method="json_schema")` where it has
    one (OpenAI-compatible servers, llama.cpp, Ollama, `ScriptedModel`), then its tool-calling
    structured output, and otherwise parses JSON out of its text. A reply that does not validate
    is shown back to the model with the problem and asked for again.

    The schema, with its field descriptions, is also stated in the system message: a schema
    constraint alone shapes the reply but does not tell the model what the fields mean. On the
    embedded 0.5B model, without it the `reply` of a hand-off decision came back as the word
    "verification"; with it, as a sentence to the customer.

    Args:
        model: Any LangChain chat model.
        schema: The pydantic model the answer must validate against.
        retries: How many times to re-ask after a reply that does not validate.
        describe: State the schema in the system message. Turn off for a provider that already
            shows it to the model, to save the tokens; a model without structured output
            support is always told.

    Returns:
        A runnable taking what a chat model takes (text, messages, a prompt value) and
        returning a `schema` instance; it supports `invoke` and `ainvoke`.

    Raises:
        MalformedOutput: (when run) No valid reply within `1 + retries` attempts; it carries
            the last raw reply.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    asker = _Asker(model, schema, retries, describe)

    def invoke(value: LanguageModelInput, config: RunnableConfig) -> T:
        messages = _as_messages(value)
        for _ in range(asker.attempts):
            outcome = asker.judge(asker.bound.invoke(asker.prompt(messages), config))
            if outcome.value is not None:
                return outcome.value
            messages = asker.reask(messages, outcome)
        raise asker.give_up()

    async def ainvoke(value: LanguageModelInput, config: RunnableConfig) -> T:
        messages = _as_messages(value)
        for _ in range(asker.attempts):
            outcome = asker.judge(await asker.bound.ainvoke(asker.prompt(messages), config))
            if outcome.value is not None:
                return outcome.value
            messages = asker.reask(messages, outcome)
        raise asker.give_up()

    return RunnableLambda(invoke, afunc=ainvoke, name=f"structured[{schema.__name__}]")


@dataclass
class _Outcome(Generic[T]):
    value: T | None
    raw: str
    problem: str = ""


class _Asker(Generic[T]):
    """What both the sync and async loops share: binding, judging, re-asking, giving up."""

    def __init__(self, model: BaseChatModel, schema: type[T], retries: int, describe: bool) -> None:
        self.model, self.schema, self.attempts = model, schema, retries + 1
        self.instruction = (
            "Reply with only a JSON object, no other text, that matches this JSON schema: "
            + json.dumps(schema.model_json_schema())
        )
        self.bound, constrained = self._bind()
        self.describe = describe or not constrained
        self.failures: list[_Outcome[T]] = []

    def _bind(self) -> tuple[Runnable[Any, Any], bool]:
        target: dict[str, Any] | type[T] = self.schema
        if isinstance(self.model, BaseChatOpenAI):
            # Given a pydantic class, ChatOpenAI validates inside the SDK call, which raises
            # without the reply text; a plain JSON schema hands the raw reply back to judge.
            target = {
                "name": self.schema.__name__,
                "schema": self.schema.model_json_schema(),
                "strict": False,
            }
        for kwargs in ({"method": "json_schema"}, {}):
            try:
                return self.model.with_structured_output(target, include_raw=True, **kwargs), True
            except (NotImplementedError, TypeError, ValueError):
                continue
        return self.model, False

    def prompt(self, messages: list[BaseMessage]) -> list[BaseMessage]:
        if not self.describe:
            return messages
        first = messages[0] if messages else None
        if isinstance(first, SystemMessage) and isinstance(first.content, str):
            merged = f"{first.content}\n\n{self.instruction}" if first.content else self.instruction
            return [first.model_copy(update={"content": merged}), *messages[1:]]
        return [SystemMessage(content=self.instruction), *messages]

    def judge(self, result: Any) -> _Outcome[T]:
        parsed: Any = None
        reply = result
        if isinstance(result, dict) and "raw" in result:
            reply, parsed = result["raw"], result.get("parsed")
        raw = reply.text if isinstance(reply, BaseMessage) else str(reply)
        if isinstance(parsed, self.schema):
            return _Outcome(parsed, raw)
        if isinstance(parsed, BaseModel):
            parsed = parsed.model_dump()
        try:
            if isinstance(parsed, dict):
                return _Outcome(self.schema.model_validate(parsed), raw)
            return _Outcome(self.schema.model_validate_json(_json_text(raw)), raw)
        except ValidationError as exc:
            outcome: _Outcome[T] = _Outcome(None, raw, _describe(exc))
        self.failures.append(outcome)
        return outcome

    def reask(self, messages: list[BaseMessage], outcome: _Outcome[T]) -> list[BaseMessage]:
        return [
            *messages,
            AIMessage(content=outcome.raw),
            HumanMessage(
                content=f"That reply is not valid ({outcome.problem}). {self.instruction}"
            ),
        ]

    def give_up(self) -> MalformedOutput:
        last = self.failures[-1]
        name = getattr(self.model, "model_name", None) or type(self.model).__name__
        shown = last.raw if len(last.raw) <= _RAW_SHOWN else last.raw[:_RAW_SHOWN] + "…"
        return MalformedOutput(
            f"{name} gave no valid {self.schema.__name__} in {self.attempts} attempt(s); last "
            f"problem: {last.problem}; last reply: {shown!r}. Try a larger model, a simpler "
            f"schema, or a higher max_tokens if the reply was cut off.",
            raw=last.raw,
            schema_name=self.schema.__name__,
            attempts=self.attempts,
        )


def _as_messages(value: LanguageModelInput) -> list[BaseMessage]:
    if isinstance(value, str):
        return [HumanMessage(content=value)]
    if isinstance(value, PromptValue):
        return value.to_messages()
    if isinstance(value, Sequence):
        return convert_to_messages(value)
    raise TypeError(f"expected text, messages or a PromptValue, got {type(value).__name__}")


def _json_text(raw: str) -> str:
    # Models asked for JSON without a constraint often wrap it in a fence or a sentence.
    text = raw.strip()
    if fenced := _FENCED.search(text):
        text = fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text


def _describe(exc: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(p) for p in err['loc']) or 'reply'}: {err['msg']}"
        for err in exc.errors()[:5]
    ]
    return "; ".join(problems)
