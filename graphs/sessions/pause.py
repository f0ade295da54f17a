"""A session paused for a person's answer: which questions are pending, and the answer to them.

A graph that calls LangGraph's `interrupt(value)` stops where it asked; its checkpoint keeps
the question and the run's end marks the session record `paused`, so the pause outlives the
process. While paused, a session takes no new message (`SessionPaused`); an answer
(`session.aresume_with`) becomes `Command(resume=...)` for the questions its checkpoint holds.
The status lives on the record, so both checks run inside the transaction that takes the
run's lease, at no extra cost to an ordinary turn.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.pregel import Pregel
from langgraph.types import Command, Interrupt

from accord.graphs.errors import NotPaused, SessionClosed, SessionPaused
from accord.graphs.events import InterruptEvent
from accord.persistence import SessionRecord

OPEN, PAUSED = "open", "paused"
_CODE = re.compile(r"[a-z][a-z0-9_:-]{0,31}")


def check_status(record: SessionRecord, *, answering: bool) -> None:
    """Refuses a run the session's status does not allow: a message to a paused or ended
    session, or an answer to one that asked nothing.

    Raises:
        SessionClosed: The session was ended.
        SessionPaused: A message was sent while a question waits for its answer.
        NotPaused: An answer was given while no question waits.
    """
    sid = record.session_id
    if record.status == PAUSED and not answering:
        raise SessionPaused(
            f"session {sid!r} is waiting for an answer to its question; answer it with "
            f"session.aresume_with(answer) (POST /api/sessions/{sid}/answer) first"
        )
    if record.status == OPEN and answering:
        raise NotPaused(f"session {sid!r} asked no question: it is not paused, so send a message")
    if record.status not in (OPEN, PAUSED):
        raise SessionClosed(f"session {sid!r} is {record.status}; open a new one")


async def pending(graph: Pregel[Any, Any, Any, Any], config: RunnableConfig) -> list[Interrupt]:
    """The questions the session's checkpoint holds unanswered, oldest first."""
    return list((await graph.aget_state(config)).interrupts)


def resume_command(session_id: str, questions: Sequence[Interrupt], answer: Any) -> Command[Any]:
    """The `Command` that answers `questions` with `answer`.

    One question takes the answer as it is; several take `{interrupt_id: answer, ...}`
    (LangGraph's own form), naming only pending ids.

    Raises:
        NotPaused: No question is pending, or the answer does not name the pending ones.
    """
    if not questions:
        raise NotPaused(
            f"session {session_id!r} asked no question: it is not paused, so send a message"
        )
    ids = [str(question.id) for question in questions]
    if len(questions) == 1:
        return Command(resume=answer)
    if not isinstance(answer, Mapping) or not answer or not set(answer) <= set(ids):
        raise NotPaused(
            f"session {session_id!r} asks {len(ids)} questions at once: answer with "
            f"{{interrupt_id: answer}} for the ids {', '.join(ids)}"
        )
    return Command(resume=dict(answer))


def asked(event: InterruptEvent) -> tuple[str | None, dict[str, Any]]:
    """What the audit trail keeps of a question: the agent that asked, and codes, never text."""
    value = event.value
    details: dict[str, Any] = {"interrupt_id": event.id}
    if isinstance(value, Mapping) and isinstance(kind := value.get("type"), str):
        details["type"] = kind if _CODE.fullmatch(kind) else "question"
        if isinstance(tool := value.get("tool"), str):
            details["tool"] = tool
        agent = value.get("agent")
        return (agent if isinstance(agent, str) else None), details
    details["type"] = "question"
    return None, details


def answered(questions: Sequence[Interrupt], answer: Any) -> dict[str, Any]:
    """What the audit trail keeps of an answer: which questions, and a yes or no if it is one."""
    details: dict[str, Any] = {"interrupt_ids": [str(question.id) for question in questions]}
    if isinstance(answer, bool):
        details["approved"] = answer
    return details
