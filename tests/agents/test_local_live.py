"""The embedded model for real: load it, chat, decide through structured output, measure.

Run with `pytest -m live tests/agents/test_local_live.py -s` to see the figures. The first run
assembles the weights into ACCORD_HOME (seconds); later runs reuse them.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import httpx
import pytest
from pydantic import BaseModel, Field

from accord.agents.errors import MalformedOutput
from accord.agents.models.local import EmbeddedServer, embedded_server, ensure_weights
from accord.agents.models.local.chat import LocalChatModel
from accord.agents.models.structured import structured

pytestmark = pytest.mark.live

FIGURES: dict[str, object] = {}


class Handoff(BaseModel):
    reply: str = Field(description="Your message to the customer.")
    handoff_to: Literal["verification", "none"] = Field(
        description="'verification' if the customer must prove their identity, else 'none'."
    )


class Vote(BaseModel):
    choice: Literal["approve", "reject", "escalate"]
    confidence: float = Field(ge=0, le=1, description="How sure you are, from 0 to 1.")


INTAKE = (
    "You are the intake desk of a bank. Answer the customer in one or two sentences. Set "
    "handoff_to to 'verification' when the customer needs to verify their identity or open an "
    "account; otherwise set it to 'none'."
)
HANDOFF_CASES = [
    ("Hi, I want to open an account. What do you need from me?", "verification"),
    ("I need to verify my identity, here is my passport number.", "verification"),
    ("Can you check my ID documents so I can get access?", "verification"),
    ("What are your opening hours on Saturday?", "none"),
    ("Thanks, that is all for today!", "none"),
]
JUDGE = (
    "You review refund requests. Approve clear, small, documented claims; reject claims that "
    "break the policy (older than 30 days); escalate anything above $1000. Give your confidence."
)
VOTE_CASES = [
    ("A $20 refund for a damaged mug, with a photo, bought 3 days ago.", "approve"),
    ("A $15 refund for shoes bought 200 days ago, worn, no receipt.", "reject"),
    ("A $4,500 refund for a laptop that arrived broken.", "escalate"),
    ("A $35 refund for a late delivery of a book, bought last week.", "approve"),
]


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("ACCORD_OFFLINE", raising=False)
        began = time.perf_counter()
        ensure_weights()
        FIGURES["weights_ready_s"] = round(time.perf_counter() - began, 2)
        shared = embedded_server()
        shared.stop()
        shared.start()
        FIGURES["load_s"] = round(shared.load_seconds or 0.0, 2)
    yield shared
    pid = shared.pid
    shared.stop()
    assert (pid is not None and not Path(f"/proc/{pid}").exists()) or sys.platform != "linux"
    print(f"\nembedded model figures: {json.dumps(FIGURES, indent=2)}", file=sys.stderr)


@pytest.fixture
def model(server: EmbeddedServer) -> LocalChatModel:
    return LocalChatModel(server=server)


def test_plain_chat_answers(model: LocalChatModel) -> None:
    answer = model.invoke("What is the capital of France? Answer with one word.")
    assert "paris" in str(answer.content).lower()
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["output_tokens"] > 0


def test_generation_speed_and_memory(server: EmbeddedServer) -> None:
    assert server.url is not None
    body = {
        "messages": [{"role": "user", "content": "Write a Python function that sorts a list."}],
        "max_tokens": 128,
        "temperature": 0,
        "seed": 0,
    }
    began = time.perf_counter()
    reply = httpx.post(f"{server.url}/chat/completions", json=body, timeout=300).json()
    wall = time.perf_counter() - began
    timings = reply["timings"]
    FIGURES["generate_tokens_per_s"] = round(timings["predicted_per_second"], 1)
    FIGURES["prompt_tokens_per_s"] = round(timings["prompt_per_second"], 1)
    FIGURES["end_to_end_tokens_per_s"] = round(reply["usage"]["completion_tokens"] / wall, 1)
    status = Path(f"/proc/{server.pid}/status")
    if status.exists():
        rss_kb = int(status.read_text().split("VmRSS:")[1].split()[0])
        FIGURES["server_rss_mb"] = round(rss_kb / 1024)
    assert timings["predicted_per_second"] > 1


def test_handoff_decisions_parse(model: LocalChatModel) -> None:
    decide = structured(model, Handoff, retries=0)
    parsed, right = 0, 0
    for text, expected in HANDOFF_CASES:
        try:
            decision = decide.invoke([("system", INTAKE), ("user", text)])
        except MalformedOutput:
            continue
        parsed += 1
        right += decision.handoff_to == expected
    FIGURES["handoff_parsed"] = f"{parsed}/{len(HANDOFF_CASES)}"
    FIGURES["handoff_correct"] = f"{right}/{len(HANDOFF_CASES)}"
    assert parsed == len(HANDOFF_CASES)


async def test_vote_decisions_parse_concurrently(model: LocalChatModel) -> None:
    decide = structured(model, Vote, retries=0)

    async def one(text: str) -> Vote | None:
        try:
            return await decide.ainvoke([("system", JUDGE), ("user", text)])
        except MalformedOutput:
            return None

    began = time.perf_counter()
    votes = await asyncio.gather(*(one(text) for text, _ in VOTE_CASES))
    FIGURES["vote_batch_s"] = round(time.perf_counter() - began, 1)
    parsed = [v for v in votes if v is not None]
    right = sum(
        v is not None and v.choice == want for v, (_, want) in zip(votes, VOTE_CASES, strict=False)
    )
    FIGURES["vote_parsed"] = f"{len(parsed)}/{len(VOTE_CASES)}"
    FIGURES["vote_correct"] = f"{right}/{len(VOTE_CASES)}"
    assert len(parsed) == len(VOTE_CASES)
    assert all(0 <= v.confidence <= 1 for v in parsed)


async def test_streaming_reports_usage(model: LocalChatModel) -> None:
    chunks = [chunk async for chunk in model.astream("Name three colours.")]
    assert "".join(str(c.content) for c in chunks).strip()
    assert any(c.usage_metadata for c in chunks)
