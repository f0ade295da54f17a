"""Structured output that holds on every provider: schema-constrained, validated, re-asked.

Control decisions (route, hand off, vote, confidence) go through `structured()`: small local
models do not emit native tool calls reliably, but every provider here can constrain its reply
to a JSON schema, and a bounded re-ask repairs the rare reply that still does not validate.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from langchain_core.exceptions import OutputParserException
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import Runnable, RunnableConfig
from pydantic import BaseModel, ValidationError

from accord.agents.errors import MalformedOutput
from accord.agents.models.flow import FlowRunnable, Invoke
from accord.persistence import Flow

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
    return _Structured(_Asker(model, schema, retries, describe))


class _Structured(FlowRunnable[LanguageModelInput, T]):
    """The re-asking loop as a `Runnable` of its own.

    A class, not a `RunnableLambda`: a lambda inspects its function's signature on every call,
    which on the hot path of every agent step cost more than the rest of the wrapper together.
    """

    def __init__(self, asker: _Asker[T]) -> None:
        self.asker = asker
        self.name = f"structured[{asker.schema.__name__}]"

    @property
    def OutputType(self) -> type[T]:
        return self.asker.schema

    def flow(
        self, input: LanguageModelInput, config: RunnableConfig | None, **kwargs: Any
    ) -> Flow[T]:
        """Asks, judges the reply, and re-asks with the problem until it validates."""
        asker, messages, attempt = self.asker, _as_messages(input), 0
        judged: tuple[type[Exception], ...] = (OutputParserException, *_cut_off())
        while True:
            attempt += 1
            try:
                result = yield Invoke(asker.bound, asker.prompt(messages), config)
            except judged as exc:
                result = exc
            outcome = asker.judge(result)
            if outcome.value is not None:
                return outcome.value
            messages = asker.reask(messages, outcome, attempt)


def _openai_chat(model: BaseChatModel) -> bool:
    """Whether `model` is LangChain's OpenAI chat model (loaded if and only if one exists:
    the OpenAI client costs a second of start-up, so it is never imported here)."""
    module = sys.modules.get("langchain_openai.chat_models.base")
    return module is not None and isinstance(model, module.BaseChatOpenAI)


def _cut_off() -> tuple[type[Exception], ...]:
    """The OpenAI client's "reply cut at the token limit" error, if that client is loaded."""
    module = sys.modules.get("openai")
    return (module.LengthFinishReasonError,) if module is not None else ()


@dataclass
class _Outcome(Generic[T]):
    value: T | None
    raw: str
    problem: str = ""


class _Asker(Generic[T]):
    """Binding, judging, re-asking and giving up, for the loop of `_Structured`."""

    def __init__(self, model: BaseChatModel, schema: type[T], retries: int, describe: bool) -> None:
        self.model, self.schema, self.attempts = model, schema, retries + 1
        self.instruction = (
            "Reply with only a JSON object, no other text, that matches this JSON schema: "
            + json.dumps(schema.model_json_schema())
        )
        self.bound, constrained = self._bind()
        self.describe = describe or not constrained

    def _bind(self) -> tuple[Runnable[Any, Any], bool]:
        target: dict[str, Any] | type[T] = self.schema
        if _openai_chat(self.model):
            # Given a pydantic class, ChatOpenAI validates inside the SDK call, which raises
            # without the reply text; a plain JSON schema hands the raw reply back to judge.
            target = {
                "name": self.schema.__name__,
                "schema": self.schema.model_json_schema(),
                "strict": False,
            }
        # Only a schema-constrained reply is taken as structured output: a tool-calling
        # fallback drops the reply text when the model answers without a tool call, leaving
        # nothing to show back in a re-ask. Other models are instructed and parsed instead.
        # LangChain's base implementation ignores `method` and always calls tools, so only a
        # provider's own override is trusted to constrain the reply to the schema.
        if type(self.model).with_structured_output is BaseChatModel.with_structured_output:
            return self.model, False
        try:
            return self.model.with_structured_output(target, method="json_schema"), True
        except (NotImplementedError, TypeError, ValueError):
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
        """Validates what the bound model returned: parsed data, a message, or a parse error."""
        if isinstance(result, self.schema):
            return _Outcome(result, "")
        if isinstance(result, _cut_off()):
            # The model ran out of tokens mid-reply (a long free-text field): the SDK raises
            # before any parsing, so the cut reply is shown back with a request to be brief.
            cut = cast(Any, result).completion.choices[0].message.content or ""
            return _Outcome(None, cut, "The reply was cut off at the token limit: keep it short.")
        if isinstance(result, OutputParserException):
            # The reply was not JSON at all (cut off, or prose): keep its text for the re-ask.
            raw = str(result.llm_output or "")
            return _Outcome(None, raw, f"Invalid JSON: {str(result).splitlines()[0]}")
        raw = result.text if isinstance(result, BaseMessage) else ""
        try:
            if isinstance(result, BaseModel) and not isinstance(result, BaseMessage):
                return _Outcome(self.schema.model_validate(result.model_dump()), raw)
            if isinstance(result, dict):
                raw = json.dumps(result)
                return _Outcome(self.schema.model_validate(result), raw)
            return _Outcome(self.schema.model_validate_json(_json_text(raw or str(result))), raw)
        except ValidationError as exc:
            return _Outcome(None, raw or str(result), _describe(exc))

    def reask(
        self, messages: list[BaseMessage], outcome: _Outcome[T], attempt: int
    ) -> list[BaseMessage]:
        """Returns the conversation extended by the bad reply and a request to fix it.

        Raises:
            MalformedOutput: `attempt` was the last one allowed.
        """
        if attempt >= self.attempts:
            raise self._give_up(outcome)
        return [
            *messages,
            AIMessage(content=outcome.raw),
            HumanMessage(
                content=f"That reply is not valid ({outcome.problem}). {self.instruction}"
            ),
        ]

    def _give_up(self, last: _Outcome[T]) -> MalformedOutput:
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
