"""A redelivered turn's stream: what a dead delivery streamed is not streamed twice, whatever
its kind (tokens, `agent`, `message`, ...)."""

from __future__ import annotations

from typing import Any

from accord.graphs.scale.wire import Replay


def _token(text: str, agent: str = "desk") -> dict[str, Any]:
    return {"kind": "token", "agent": agent, "text": text}


def _agent(name: str) -> dict[str, Any]:
    return {"kind": "agent", "agent": name}


def _message(text: str, agent: str = "desk") -> dict[str, Any]:
    return {"kind": "message", "agent": agent, "text": text}


DEAD = [_agent("desk"), _token("Hel"), _message("Hello"), _token("Your "), _token("refund ")]
"""What a dead delivery streamed: a finished step, then two tokens of the step it was in."""


def _streamed(replay: Replay, rerun: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for data in rerun for entry in replay.entries(data)]


def test_a_rerun_that_streams_the_same_tokens_streams_only_what_is_new() -> None:
    rerun = [_token("Your "), _token("refund "), _token("is on its way."), {"kind": "done"}]
    assert _streamed(Replay(DEAD, 2), rerun) == [_token("is on its way."), {"kind": "done"}]


def test_a_rerun_that_diverges_says_how_many_entries_it_supersedes() -> None:
    rerun = [_token("Your "), _token("money "), _token("is back."), {"kind": "done"}]
    assert _streamed(Replay(DEAD, 3), rerun) == [
        {"kind": "recovered", "attempt": 3, "lane": "desk", "superseded": 1},  # "refund "
        _token("money "),
        _token("is back."),
        {"kind": "done"},
    ]


def test_a_delivery_that_died_between_steps_streams_everything_again() -> None:
    finished_step = DEAD[:3]
    rerun = [_token("Next"), {"kind": "done"}]
    assert _streamed(Replay(finished_step, 2), rerun) == rerun


def test_a_rerun_from_an_earlier_checkpoint_resends_no_agent_or_message_event() -> None:
    # The dead delivery finished desk's step and handed off, but died before the checkpoint
    # after desk's step: the re-run starts at desk again.
    dead = [*DEAD[:3], {"kind": "handoff", "source": "desk", "target": "billing"}]
    dead += [_agent("billing"), _token("Your ", "billing")]
    rerun = [*dead, _token("refund.", "billing"), _message("Your refund.", "billing")]
    rerun.append({"kind": "done"})
    assert _streamed(Replay(dead, 2), rerun) == rerun[len(dead) :]


def test_a_repeated_agent_event_is_matched_where_the_rerun_goes_on_repeating() -> None:
    dead = [_agent("desk"), _message("A"), _agent("desk"), _token("B")]
    rerun = [_agent("desk"), _token("B"), _token("C")]
    assert _streamed(Replay(dead, 2), rerun) == [_token("C")]


def test_a_third_delivery_matches_what_the_reader_holds_after_the_second() -> None:
    second = [{"kind": "recovered", "attempt": 2, "lane": "desk", "superseded": 1}]
    second.append(_token("money "))
    rerun = [_agent("desk"), _token("Hel"), _message("Hello"), _token("Your "), _token("money ")]
    rerun.append(_token("is back."))
    assert _streamed(Replay(DEAD + second, 3), rerun) == [_token("is back.")]


def test_parallel_agents_are_matched_each_in_its_own_lane() -> None:
    # Three voters streamed interleaved; credit's step was checkpointed, the others re-run.
    dead = [_agent("credit"), _agent("market"), _token("y", "credit"), _agent("compliance")]
    dead += [_vote("credit"), _token("y", "market"), _token("y", "compliance")]
    rerun = [_agent("compliance"), _agent("market"), _token("y", "compliance")]
    rerun += [_token("y", "market"), _vote("market"), _vote("compliance"), {"kind": "done"}]
    assert _streamed(Replay(dead, 2), rerun) == rerun[-3:]


def _vote(agent: str) -> dict[str, Any]:
    return {"kind": "vote", "agent": agent, "option": "yes", "confidence": 0.8}
