"""A conversation on the terminal: replies streamed token by token after the speaker's name.

`Sessions` runs every turn (lease, budget, checkpoints, audit trail, step events), so what the
command line does is visible afterwards to `accord sessions` and `accord metrics`. While the
team works and nothing is being written, a spinner says who is working.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.control import Control
from rich.markup import escape
from rich.segment import ControlType

from accord.app.cli.show import line
from accord.graphs import DoneEvent, Event, MessageEvent, Reply, TokenEvent, events

ANSWERS = (TokenEvent, events.VoteEvent, events.OpinionEvent, events.ResultEvent)
"""Events that show a model answered (a tally's note about no quorum is not an answer)."""


class Conversation:
    """Prints one turn's events as they come (see the module's docstring)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status = console.status("")
        self.speaking: str | None = None  # whose reply is being written on the current line
        self.written = ""
        self.working = "the team"
        self.reply: Reply | None = None
        self.failures: list[events.FailureEvent] = []
        self.answered = False  # an event of ANSWERS came

    def turn(self, text: str, stream: Iterable[Event]) -> Reply | None:
        """Prints the user's `text`, then the team's events from `stream`; the reply."""
        self.console.print(f"\n[bold green]you[/]: {escape(text)}")
        try:
            for event in stream:
                self.show(event)
                self._spin()
        finally:
            # A for loop left by an exception (Ctrl-C while a line prints) leaves its generator
            # to the garbage collector, after `Sessions` closed: the run would never end. First,
            # as printing may raise again.
            close = getattr(stream, "close", None)
            if close is not None:
                close()
            self.status.stop()
            self._end_line()
        return self.reply

    def show(self, event: Event) -> None:
        """Prints one event: a token on the speaker's line, anything else on its own line."""
        if isinstance(event, events.FailureEvent):
            self.failures.append(event)
        elif isinstance(
            event, TokenEvent | events.VoteEvent | events.OpinionEvent | events.ResultEvent
        ):
            self.answered = True
        match event:
            case TokenEvent(agent, piece):
                if self.speaking != agent:
                    self._end_line()
                    self.status.stop()
                    self.console.print(f"[bold magenta]{agent}[/]: ", end="")
                    self.speaking, self.written = agent, ""
                self.console.print(escape(piece), end="", soft_wrap=True)
                self.written += piece
            case events.CorrectionEvent(agent, text) if self.speaking is not None:
                self._correct(agent, text)
            case MessageEvent(agent, text) if self.speaking is not None:
                # Its text is what was streamed (or corrected) on this line. Tokens name the
                # graph step that wrote them (a consultation's "synthesis"), the message its
                # agent: a terminal shows the agent's name in the step's place.
                if agent != self.speaking and self.console.is_terminal:
                    self._correct(agent, text)
                self._end_line()
            case DoneEvent(reply):
                self.reply = reply
            case events.AgentEvent(agent) | events.RouteEvent(agent, _):
                self.working = agent
                self._print(line(event))
            case events.HandoffEvent(_, target, _):
                self.working = target
                self._print(line(event))
            case events.PlanEvent() | events.ResultEvent():
                self.working = "the workers"
                self._print(line(event))
            case events.VoteEvent() | events.OpinionEvent():
                self.working = "the panel"
                self._print(line(event))
            case _:
                self._print(line(event))

    def _correct(self, agent: str, text: str) -> None:
        """Shows `text` in place of the reply streamed on the current line: on a terminal the
        streamed rows are erased and the kept reply written there; elsewhere (a pipe, a log)
        it follows on a line of its own."""
        name = f"[bold magenta]{agent}[/]"
        if self.console.is_terminal:
            rows = _rows(f"{self.speaking}: {self.written}", self.console.width)
            up = [(ControlType.CURSOR_UP, 1), (ControlType.ERASE_IN_LINE, 2)] * (rows - 1)
            self.console.control(Control((ControlType.ERASE_IN_LINE, 2), *up))
            self.console.control(Control.move_to_column(0))
        else:
            self._end_line()
            name += " (corrected)"
        self.console.print(f"{name}: {escape(text)}", end="", soft_wrap=True)
        self.speaking, self.written = agent, text

    def _print(self, markup: str | None) -> None:
        if markup:
            self._end_line()
            self.console.print(markup)

    def _spin(self) -> None:
        if self.speaking is None:
            self.status.update(f"[dim]{escape(self.working)} working...[/]")
            self.status.start()

    def _end_line(self) -> None:
        if self.speaking is not None:
            self.console.print()
            self.speaking, self.written = None, ""


def _rows(text: str, width: int) -> int:
    """How many terminal rows `text` fills when the terminal wraps it at `width` columns."""
    return sum(max(1, -(-cell_len(part) // max(width, 1))) for part in text.split("\n"))


def check_answered(conversation: Conversation) -> None:
    """Raises when every agent step of the turn failed (a parallel team records, not raises).

    Raises:
        TeamFailed: Nothing was answered; the message lists the agents and their errors.
    """
    if conversation.answered or not conversation.failures:
        return
    from accord.app.errors import TeamFailed

    reasons = sorted({f"{f.error}: {f.message}" for f in conversation.failures})
    agents = ", ".join(sorted({f.agent for f in conversation.failures}))
    raise TeamFailed(
        f"every agent failed ({agents}): {'; '.join(reasons)}",
        [f.error for f in conversation.failures],
    )


def summary(reply: Reply | None, session_id: str, elapsed: float) -> str:
    """A dim line after a turn: the session, what it has spent, how long the turn took."""
    spent: dict[str, Any] = reply.usage.to_dict() if reply is not None else {}
    return (
        f"[dim]session {session_id} · {elapsed:.1f} s · "
        f"{spent.get('tokens', 0)} tokens, {spent.get('model_calls', 0)} model calls so far[/]"
    )


def answer_hint(session_id: str, team: str, db: str) -> str:
    """The dim line that says how to answer a session that paused on a question."""
    return (
        f"[dim]it waits for an answer: accord sessions answer {session_id} --team "
        f"{escape(team)} --db {escape(db)} TEXT (or --approve / --reject)[/]"
    )


def interrupted_hint(session_id: str, team: str, db: str) -> str:
    """The line that says a turn stopped by Ctrl-C kept the session, and how to go on."""
    return (
        f"[dim]session {session_id} keeps what was said before the interruption; continue: "
        f'accord run {escape(team)} "..." --session {session_id} --db {escape(db)}[/]'
    )
