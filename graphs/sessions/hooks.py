"""One run's own callbacks in one handler: the budget meter, the step recorder, the final state.

LangChain hands every event of every runnable to every handler, checking each handler's method
with `inspect` on the way; three handlers cost a turn three dispatches per event, one costs one.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from accord.agents import MetricsRecorder
from accord.graphs.sessions.budget import Meter


class Hooks(BaseCallbackHandler):
    """A run's `meter` (which refuses by raising), its step recorder `steps` (None: no metrics),
    and the graph's final state (`values`), which LangGraph hands its root run's end once:
    cheaper than `stream_mode="values"`, which copies the whole state out at every step."""

    raise_error = True  # the meter's refusals stop the run
    run_inline = True  # in the graph's own task: checked before a call is sent, never reordered

    def __init__(self, meter: Meter, steps: MetricsRecorder | None) -> None:
        self.meter, self.steps = meter, steps
        self.values: dict[str, Any] = {}

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, **kwargs: Any) -> None:
        self.meter.on_chain_start(serialized, inputs, **kwargs)
        if self.steps is not None:
            self.steps.on_chain_start(serialized, inputs, **kwargs)

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        if parent_run_id is None and isinstance(outputs, dict):
            self.values = outputs
        if self.steps is not None:
            self.steps.on_chain_end(outputs, run_id=run_id, parent_run_id=parent_run_id, **kwargs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if self.steps is not None:
            self.steps.on_chain_error(error, run_id=run_id, **kwargs)

    def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        **kwargs: Any,
    ) -> None:
        self.meter.on_chat_model_start(serialized, messages, run_id=run_id, **kwargs)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        self.meter.on_llm_end(response, run_id=run_id, **kwargs)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self.meter.on_llm_error(error, run_id=run_id, **kwargs)
