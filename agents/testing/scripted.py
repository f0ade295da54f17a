"""`ScriptedModel`: a real LangChain chat model that plays a fixed script and fails loudly.

It is the model of unit tests and benchmarks: replies come in order, each call can be checked
against what the test expects, calls are recorded, token usage is estimated so that budgets
work, and an optional latency makes timing realistic without a model.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SkipValidation, ValidationError

from accord.agents.errors import UnexpectedModelCall

Fixed = str | AIMessage | BaseModel | Mapping[str, Any] | BaseException
"""A fixed reply: text, a full message (tool calls, or deliberately malformed output),
structured data (a dict or pydantic instance, for `with_structured_output`), or an exception
to raise (to simulate a failing endpoint)."""

Reply = Fixed | Callable[[list[BaseMessage]], Fixed]
"""A scripted reply: a fixed one, or a function of the call's messages that returns one (to
answer from what the model was shown, e.g. to prove what did or did not reach a prompt)."""

Expectation = str | Callable[[list[BaseMessage]], bool]
"""A check of the messages a call receives: a substring of the last message, or a predicate."""

_SCHEMA_KEY = "scripted_schema"
_WORDS = re.compile(r"\S+\s*|\s+")
_SHOWN = 200


@dataclass(frozen=True)
class Turn:
    """One step of a script: the reply, and optionally what the call must look like.

    Attributes:
        reply: What the model answers (see `Reply`).
        expect: Checked before answering; a mismatch raises `UnexpectedModelCall`.
    """

    reply: Reply
    expect: Expectation | None = None


@dataclass(frozen=True)
class ScriptedCall:
    """A call the model received, recorded for assertions.

    Attributes:
        index: Position in the script (0-based) of the turn the call took.
        messages: The messages the model was given.
        schema: The schema requested through `with_structured_output`, if any.
        tools: Names of the tools bound with `bind_tools`, if any.
    """

    index: int
    messages: list[BaseMessage]
    schema: type[BaseModel] | Mapping[str, Any] | None
    tools: tuple[str, ...]


class ScriptedModel(BaseChatModel):
    """A chat model that returns a fixed script of replies in order.

    Each call takes the next turn; a call past the end of the script, or one that fails its
    turn's expectation, raises `UnexpectedModelCall` (an `AssertionError`, so tests fail
    loudly). `with_structured_output` works without tool calling: structured replies are
    validated against the requested schema and returned as JSON text, as a real provider's
    would be. `bind_tools` works too, so an `AIMessage` with `tool_calls` drives a tool loop.

    Concurrency: one instance may be called from many threads and asyncio tasks at once; each
    call atomically takes the next turn, so turns go to callers in the order the calls arrive.
    Give each agent its own instance when the order across agents must be deterministic.

    Args:
        script: Replies or `Turn`s, in order.
        latency: Seconds each call waits before answering (`asyncio.sleep` in async calls,
            `time.sleep` in sync ones), to make benchmarks realistic.
        cycle: Start the script again after its last turn instead of failing: for load tests
            and benchmarks where many sessions share one model. A cycling model keeps no
            record of its calls, so that it can serve millions of them.
        model_name: Name reported in response metadata and errors.

    Example:
        ```python
        model = ScriptedModel(["Hello!", Turn({"handoff_to": "setup"}, expect="verified")])
        ```
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    script: SkipValidation[tuple[Turn, ...]] = Field(default=(), exclude=True)
    latency: float = Field(default=0.0, ge=0.0)
    cycle: bool = False
    model_name: str = "scripted"

    _cursor: int = PrivateAttr(default=0)
    _calls: list[ScriptedCall] = PrivateAttr(default_factory=list)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def __init__(self, script: Iterable[Reply | Turn] = (), **kwargs: Any) -> None:
        kwargs["script"] = tuple(step if isinstance(step, Turn) else Turn(step) for step in script)
        super().__init__(**kwargs)

    @property
    def _llm_type(self) -> str:
        return "accord-scripted"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "turns": len(self.script)}

    @property
    def calls(self) -> list[ScriptedCall]:
        """The calls received so far, in order (a copy)."""
        with self._lock:
            return list(self._calls)

    @property
    def remaining(self) -> int:
        """How many turns are left."""
        with self._lock:
            return len(self.script) - self._cursor

    def assert_exhausted(self) -> None:
        """Raises `UnexpectedModelCall` unless every turn of the script was used."""
        if left := self.remaining:
            raise UnexpectedModelCall(
                f"scripted model {self.model_name!r} has {left} unused turn(s) of "
                f"{len(self.script)}: the code under test called it fewer times than scripted"
            )

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Binds tools the way a real provider does, so scripted tool calls can be made."""
        specs = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=specs, tool_choice=tool_choice, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        include_raw: bool = False,
        method: str = "json_schema",
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Returns a runnable answering with the scripted structured reply, parsed.

        Args:
            schema: A pydantic class (replies are validated and parsed into it) or a JSON
                schema dict (replies must be objects with its required keys).
            include_raw: Return `{"raw", "parsed", "parsing_error"}` like real providers.
            method: Accepted for compatibility; every method behaves the same here.
            strict: Accepted for compatibility; ignored.
        """
        if kwargs:
            raise ValueError(f"ScriptedModel.with_structured_output got unknown {sorted(kwargs)}")
        parser: Runnable[Any, Any]
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            parser = PydanticOutputParser(pydantic_object=schema)
        elif isinstance(schema, dict):
            parser = JsonOutputParser()
        else:
            raise ValueError(f"schema must be a pydantic class or a JSON schema dict: {schema!r}")
        llm = self.bind(**{_SCHEMA_KEY: schema})
        if not include_raw:
            return llm | parser
        parsed = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        ).with_fallbacks(
            [RunnablePassthrough.assign(parsed=lambda _: None)], exception_key="parsing_error"
        )
        return RunnableMap(raw=llm) | parsed

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn, index = self._take(messages, kwargs)
        if self.latency:
            time.sleep(self.latency)
        return ChatResult(
            generations=[ChatGeneration(message=self._render(turn, index, messages, kwargs))]
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        turn, index = self._take(messages, kwargs)
        if self.latency:
            await asyncio.sleep(self.latency)
        return ChatResult(
            generations=[ChatGeneration(message=self._render(turn, index, messages, kwargs))]
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._generate(messages, stop, None, **kwargs).generations[0].message
        for chunk in _chunks(message):
            if run_manager:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        result = await self._agenerate(messages, stop, None, **kwargs)
        for chunk in _chunks(result.generations[0].message):
            if run_manager:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def _take(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> tuple[Turn, int]:
        tools = tuple(spec["function"]["name"] for spec in kwargs.get("tools") or ())
        with self._lock:
            index = self._cursor
            if self.cycle and self.script:
                index %= len(self.script)
            else:
                self._calls.append(
                    ScriptedCall(index, list(messages), kwargs.get(_SCHEMA_KEY), tools)
                )
            if index >= len(self.script):
                raise UnexpectedModelCall(
                    f"scripted model {self.model_name!r} got call {index + 1}, but its script "
                    f"has only {len(self.script)} turn(s); last message: {_last_text(messages)}"
                )
            self._cursor += 1
        turn = self.script[index]
        self._check(turn.expect, index, messages)
        return turn, index

    def _check(self, expect: Expectation | None, index: int, messages: list[BaseMessage]) -> None:
        if expect is None:
            return
        if isinstance(expect, str):
            last = messages[-1].text if messages else ""
            if expect in last:
                return
            problem = f"expected the last message to contain {expect!r}"
        else:
            if expect(messages):
                return
            problem = f"failed the check {getattr(expect, '__name__', repr(expect))}"
        raise UnexpectedModelCall(
            f"call {index + 1} to scripted model {self.model_name!r} {problem}; "
            f"last message: {_last_text(messages)}"
        )

    def _render(
        self, turn: Turn, index: int, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> AIMessage:
        reply = turn.reply(messages) if callable(turn.reply) else turn.reply
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, AIMessage):
            # A copy: LangChain stamps run ids onto the message it is given.
            message = reply.model_copy(deep=True)
        elif isinstance(reply, str) and _SCHEMA_KEY not in kwargs:
            message = AIMessage(content=reply)
        else:
            data = _structured_data(reply, kwargs.get(_SCHEMA_KEY), index, self.model_name)
            message = AIMessage(content=json.dumps(data))
        message.response_metadata = {
            "model_name": self.model_name,
            "finish_reason": "tool_calls" if message.tool_calls else "stop",
            **message.response_metadata,
        }
        if message.usage_metadata is None:
            sent = sum(_tokens(m.text) for m in messages)
            made = _tokens(message.text) + sum(
                _tokens(json.dumps(c["args"])) for c in message.tool_calls
            )
            message.usage_metadata = {
                "input_tokens": sent,
                "output_tokens": made,
                "total_tokens": sent + made,
            }
        return message


def _structured_data(
    reply: str | BaseModel | Mapping[str, Any],
    schema: type[BaseModel] | Mapping[str, Any] | None,
    index: int,
    name: str,
) -> Any:
    where = f"turn {index + 1} of scripted model {name!r}"
    if isinstance(reply, BaseModel):
        data: Any = reply.model_dump(mode="json")
    elif isinstance(reply, str):
        try:
            data = json.loads(reply)
        except ValueError:
            raise UnexpectedModelCall(
                f"{where} is not JSON, but the call asked for structured output; script an "
                f"AIMessage to simulate malformed output on purpose"
            ) from None
    else:
        data = dict(reply)
    if isinstance(schema, type):
        try:
            return schema.model_validate(data).model_dump(mode="json")
        except ValidationError as exc:
            raise UnexpectedModelCall(
                f"{where} does not match the requested {schema.__name__}: {exc}"
            ) from None
    if schema is not None:
        body = schema.get("schema") or schema.get("parameters") or schema
        missing = [key for key in body.get("required", ()) if key not in data]
        if not isinstance(data, dict) or missing:
            raise UnexpectedModelCall(f"{where} lacks required keys {missing} of the schema")
    return data


def _chunks(message: BaseMessage) -> Iterator[ChatGenerationChunk]:
    words = _WORDS.findall(message.text) or [""]
    last = len(words) - 1
    for i, word in enumerate(words):
        if i < last:
            yield ChatGenerationChunk(message=AIMessageChunk(content=word, id=message.id))
            continue
        assert isinstance(message, AIMessage)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content=word,
                id=message.id,
                tool_call_chunks=[
                    tool_call_chunk(
                        name=call["name"], args=json.dumps(call["args"]), id=call["id"], index=n
                    )
                    for n, call in enumerate(message.tool_calls)
                ],
                usage_metadata=message.usage_metadata,
                response_metadata=message.response_metadata,
                chunk_position="last",
            )
        )


def _tokens(text: str) -> int:
    # About four characters a token in English: close enough for budgets, and deterministic.
    return math.ceil(len(text) / 4)


def _last_text(messages: Sequence[BaseMessage]) -> str:
    text = messages[-1].text if messages else "(no messages)"
    return repr(text if len(text) <= _SHOWN else text[:_SHOWN] + "…")
