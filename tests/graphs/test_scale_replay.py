"""A redelivered turn's stream: the interrupted step's tokens are not streamed twice."""

from __future__ import annotations

from typing import Any

from accord.graphs.scale.wire import Replay


def _token(text: str) -> dict[str, Any]:
    return {"kind": "token", "agent": "desk", "text": text}


DEAD = [
    {"kind": "agent", "agent": "desk"},
    _token("Hel"),
    {"kind": "message", "agent": "desk", "text": "Hello"},
    _token("Your "),
    _token("refund "),
]
"""What a dead delivery streamed: a finished step, then two tokens of the step it was in."""


def _streamed(replay: Replay, rerun: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for data in rerun for entry in replay.entries(data)]


def test_a_rerun_that_streams_the_same_tokens_streams_only_what_is_new() -> None:
    rerun = [_token("Your "), _token("refund "), _token("is on its way."), {"kind": "done"}]
    assert _streamed(Replay(DEAD, 2), rerun) == [_token("is on its way."), {"kind": "done"}]


def test_a_rerun_that_diverges_says_how_many_tokens_it_supersedes() -> None:
    rerun = [_token("Your "), _token("money "), _token("is back."), {"kind": "done"}]
    assert _streamed(Replay(DEAD, 3), rerun) == [
        {"kind": "recovered", "attempt": 3, "superseded": 1},  # "refund " is replaced
        _token("money "),
        _token("is back."),
        {"kind": "done"},
    ]


def test_a_delivery_that_died_between_steps_streams_everything_again() -> None:
    finished_step = DEAD[:3]
    rerun = [_token("Next"), {"kind": "done"}]
    assert _streamed(Replay(finished_step, 2), rerun) == rerun
