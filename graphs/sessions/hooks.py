"""One run's own callbacks in one handler: the budget meter, the step recorder, the final state.

LangChain hands every event of every runnable to every handler, checking each handler's method
with `inspect` on the way; three handlers cost a turn three dispatches per event, one costs one.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import LLMResult

from accord.agents import MetricsRecorder
from accord.graphs.sessions.budget import Meter


class Hooks(BaseCallbackHandler):
    """A run's `meter` (which refuses by raising), its step recorder `steps` (None: no metrics),
    the graph's final state (`values`), which LangGraph hands its root run's end once:
    cheaper than `stream_mode="values"`, which copies the whole state out at every step, and
    the seconds its graph's own steps (its nodes' runs) took, added to `stepped[0]`."""

    raise_error = True  # the meter's refusals stop the run
    run_inline = True  # in the graph's own task: checked before a call is sent, never reordered

    def __init__(
        self, meter: Meter, steps: MetricsRecorder | None, stepped: list[float] | None = None
    ) -> None:
        self.meter, self.steps = meter, steps
        self.values: dict[str, Any] = {}
        self.stepped = stepped if stepped is not None else [0.0]
        self._root: UUID | None = None
        self._started: dict[UUID, float] = {}  # the graph's own steps under way

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        if parent_run_id is None:
            self._root = run_id
        elif parent_run_id == self._root:
            self._started[run_id] = time.monotonic()
        kwargs |= {"run_id": run_id, "parent_run_id": parent_run_id}
        self.meter.on_chain_start(serialized, inputs, **kwargs)
        if self.steps is not None:
            self.steps.on_chain_start(serialized, inputs, **kwargs)

    def on_chain_end(
        self, outputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None, **kwargs: Any
    ) -> None:
        self._ended(run_id)
        if parent_run_id is None and isinstance(outputs, dict):
            self.values = outputs
        if self.steps is not None:
            self.steps.on_chain_end(outputs, run_id=run_id, parent_run_id=parent_run_id, **kwargs)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._ended(run_id)
        if self.steps is not None:
            self.steps.on_chain_error(error, run_id=run_id, **kwargs)

    def _ended(self, run_id: UUID) -> None:
        started = self._started.pop(run_id, None)
        if started is not None:
            self.stepped[0] += time.monotonic() - started

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
