"""The reply text streamed from an agent's JSON answer as its model writes it."""

from __future__ import annotations

from langchain_core.messages import AIMessageChunk

from accord.graphs.sessions.tokens import ReplyText


def _feed(*pieces: str) -> str:
    text = ReplyText()
    return "".join(text.feed(AIMessageChunk(content=piece, id="a")) for piece in pieces)


def test_a_json_answer_streams_its_reply_field_only() -> None:
    assert _feed('{"handoff_to": "none", "re', 'ply": "Hel', 'lo."}') == "Hello."


def test_an_answer_that_hands_off_streams_nothing() -> None:
    # Its reply gives way to the receiver's or to the facts gate's request (issue 12: the
    # demo showed a reply, then a corrected one, for one customer message).
    assert _feed('{"handoff_to": "setup", ', '"reply": "Please give me your ID."}') == ""


def test_plain_text_streams_as_it_comes() -> None:
    assert _feed("Hel", "lo.") == "Hello."
