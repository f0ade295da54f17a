"""The team the fleet tests' worker processes run: `accord worker --graph tests/scale_team.py:team`.

Three voters answer each question after a pause (`ACCORD_TEST_LATENCY` seconds, default 0.05
per voter), so a SIGKILL can land anywhere in a turn. A question containing "poison" fails in
every voter, every time: a poison message.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

from langchain_core.messages import BaseMessage

from accord.agents import Agent, ScriptedModel
from accord.graphs import consensus

VOTERS = ("credit", "market", "compliance")


def _vote(messages: list[BaseMessage]) -> dict[str, Any]:
    question = messages[-1].text
    if "poison" in question:
        raise RuntimeError("this message fails every time")
    return {"choice": "yes", "confidence": 0.8, "rationale": f"fine: {question}"}


def team() -> Any:
    """The panel; each voter's latency grows with its place."""
    latency = float(os.environ.get("ACCORD_TEST_LATENCY", "0.05"))
    panel = [
        Agent(
            name=name,
            description=f"the {name} desk",
            models=(ScriptedModel([_vote], cycle=True, latency=latency * (i + 1)),),
        )
        for i, name in enumerate(VOTERS)
    ]
    return consensus(panel, options=["yes", "no"])


def single() -> Any:
    """One agent answering after `ACCORD_TEST_LATENCY` seconds: one model call per turn."""
    from accord.graphs import handoff

    latency = float(os.environ.get("ACCORD_TEST_LATENCY", "0.05"))
    model = ScriptedModel([_answer], cycle=True, latency=latency)
    return handoff([Agent(name="desk", description="answers", models=(model,))])


def _answer(messages: list[BaseMessage]) -> Any:
    question = messages[-1].text
    if "poison" in question:
        raise RuntimeError("this message fails every time")
    return {"reply": f"answer to {question}", "handoff_to": "none"}


def desks() -> Any:
    """Two desks behind a least-busy router that sees the whole fleet's load (the load board
    of the fleet `ACCORD_TEST_PREFIX` names); each answers after `ACCORD_TEST_LATENCY` s."""
    from accord.agents import Router
    from accord.agents.routing import SharedLoad
    from accord.graphs import Broker, routed

    latency = float(os.environ.get("ACCORD_TEST_LATENCY", "0.05"))
    team = [
        Agent(
            name=name,
            description=f"the {name} desk",
            models=(ScriptedModel([_answer], cycle=True, latency=latency),),
        )
        for name in ("billing", "tech")
    ]
    fleet = Broker(
        os.environ.get("ACCORD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
        redis=os.environ.get("ACCORD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        prefix=os.environ.get("ACCORD_TEST_PREFIX", "accord"),
    )
    router = Router(team, strategy="least-busy", load=SharedLoad(fleet.board()))
    return routed(team, router=router)


GATE_S = 120.0
"""How long the first call of the gated voter waits at its gate: until the test kills it."""


class _Gated(ScriptedModel):
    """A voter that records each call in the folder `ACCORD_TEST_GATE` names; with `gate`,
    the first call of all (in any worker) writes its worker's pid to `entered` and waits there,
    awaiting (the worker's loop, its lease and its checkpoint writes go on), for the test's
    SIGKILL. A later call (the redelivered turn's) answers at once."""

    gate: bool = False

    def __init__(self, name: str, *, gate: bool) -> None:
        super().__init__([_vote], cycle=True, model_name=name, gate=gate)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> Any:
        folder = Path(os.environ["ACCORD_TEST_GATE"])
        with (folder / "calls").open("a") as calls:
            calls.write(f"{self.model_name}\n")
        if self.gate:
            try:
                with (folder / "entered").open("x") as entered:
                    entered.write(str(os.getpid()))
            except FileExistsError:
                pass
            else:
                await asyncio.sleep(GATE_S)
        return await super()._agenerate(messages, stop, run_manager, **kwargs)


def gated() -> Any:
    """The panel of `team`, whose last voter's first call waits at a gate (`_Gated`): its two
    other voters have answered, and their writes are checkpointed, when it waits."""
    panel = [
        Agent(
            name=name,
            description=f"the {name} desk",
            models=(_Gated(name, gate=name == VOTERS[-1]),),
        )
        for name in VOTERS
    ]
    return consensus(panel, options=["yes", "no"])
