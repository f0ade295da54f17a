"""Replies fit to show a person: no cut words, stray characters, prompt text or control fields."""

from __future__ import annotations

from langchain_core.messages import HumanMessage
from support import scripted

from accord.graphs import delegation, handoff
from accord.graphs.replies import tidy


def test_a_drift_into_cjk_ends_at_the_last_sentence() -> None:
    # Seen in issue 12: "... disruption to客户".
    text = "Plan the move over a weekend. Tell staff early to avoid disruption to客户的 work."
    assert tidy(text) == "Plan the move over a weekend."


def test_replacement_and_control_characters_are_removed() -> None:
    assert tidy("The main risk is data loss.\x07 Back up first.\ufffd\ufffd") == (
        "The main risk is data loss. Back up first."
    )


def test_a_long_reply_is_cut_at_a_sentence_end_never_mid_word() -> None:
    text = "First step done. " * 10 + "A last sentence that runs past the limit"
    cut = tidy(text, limit=100)
    assert cut.endswith("done.")
    assert len(cut) <= 100


def test_without_any_sentence_end_the_cut_keeps_whole_words() -> None:
    assert tidy("one two three four five six", limit=16) == "one two three…"


def test_sentences_copied_from_the_instructions_are_dropped() -> None:
    prompt = ["You are risk: risks.", "Your coordinator gave you one part of that to do."]
    text = "Your coordinator gave you one part of that to do. Data loss is the main risk."
    assert tidy(text, prompt=prompt) == "Data loss is the main risk."


def test_json_and_control_fields_are_never_shown() -> None:
    assert tidy('{"reply": "Welcome, Dana!", "handoff_to": "none"}') == "Welcome, Dana!"
    assert tidy("handoff_to: verification. Welcome!") == "verification. Welcome!"


def test_a_plain_reply_is_untouched() -> None:
    text = "Hello Dana! Your account is open. Anything else?"
    assert tidy(text) == text


async def test_handoff_replies_are_tidied() -> None:
    agent = scripted("desk", {"reply": "Your card is on its way.\ufffd Anything else?客户"})
    state = await handoff([agent]).ainvoke({"messages": [HumanMessage("hi")]})

    assert state["messages"][-1].content == "Your card is on its way. Anything else?"


async def test_a_worker_result_does_not_leak_its_prompt() -> None:
    coordinator = scripted(
        "coordinator",
        {"subtasks": [{"worker": "risk", "task": "Name the risks."}]},
        {"reply": "Back up the data first."},
    )
    risk = scripted(
        "risk",
        {
            "result": "Do only the subtask you are given; write the result itself, not a "
            "note about it. Data loss."
        },
    )
    state = await delegation(coordinator, [risk]).ainvoke(
        {"messages": [HumanMessage("Plan our move")]}
    )

    assert [r["result"] for r in state["results"]] == ["Data loss."]
    (call,) = risk.models[0].calls  # type: ignore[union-attr]
    assert "gave you one part" not in call.messages[0].text


def test_a_sentence_the_instructions_quote_for_the_agent_to_say_is_kept() -> None:
    # Issue 12: setup said the quoted "Your account is open." and the leak filter dropped it.
    prompt = ['Your first reply: "Your account is open. Would you like a debit card?"']
    said = "Your account is open. Would you like a debit card?"
    assert tidy(said, prompt=prompt) == said
    assert (
        tidy("Your first reply: say hello. Hi!", prompt=["Your first reply: say hello."]) == "Hi!"
    )
