"""How the command line shows a team's events: one readable line each (see `talk` for replies)."""

from __future__ import annotations

from rich.markup import escape

from accord.graphs import Event, events


def line(event: Event) -> str | None:
    """The markup line that shows `event`; None for events with nothing to show."""
    match event:
        case events.PlanEvent(worker, task):
            return f"[cyan]  plan: {worker} <- {escape(task)}[/]"
        case events.OpinionEvent(agent, confidence, answer):
            return f"[cyan]  {agent} (confidence {confidence:.2f}): {escape(answer)}[/]"
        case events.VoteEvent(agent, option, confidence, weight, rationale):
            return (
                f"[cyan]  {agent} votes {escape(option)} (confidence {confidence:.2f}, "
                f"weight {weight:g}): {escape(rationale)}[/]"
            )
        case events.ResultEvent(worker, task, result):
            return f"[cyan]  {worker} did {escape(task)!r}: {escape(result)}[/]"
        case events.FailureEvent(agent, error, message, attempts):
            return (
                f"[red]  {agent} failed after {attempts} attempt(s): {error}: {escape(message)}[/]"
            )
        case events.RouteEvent(agent, reason):
            return f"[yellow]  -> routed to {agent}: {escape(reason)}[/]"
        case events.MessageEvent(agent, text):
            return f"[bold magenta]{agent}[/]: {escape(text)}"
        case events.HandoffEvent(source, target):
            return f"[yellow]  -> handoff {source} -> {target}[/]"
        case events.ConfidenceEvent(confidence, low):
            flag = " [red](low)[/]" if low else ""
            return f"[bold]overall confidence {confidence:.2f}[/]{flag}"
        case events.DecisionEvent(decision, confidence, tally, reason):
            counts = ", ".join(f"{choice} {weight:g}" for choice, weight in tally.items())
            return (
                f"[bold]decision: {escape(str(decision or 'no decision'))}[/] (confidence "
                f"{confidence:.2f}; tally {counts or 'empty'}; {escape(reason)})"
            )
        case events.InterruptEvent(_, value):
            return (
                f"[bold yellow]  ? {escape(_question(value))}[/] (the session waits for an answer)"
            )
    return None


def _question(value: object) -> str:
    """A paused graph's question in words: an approval names its tool and arguments."""
    if isinstance(value, dict) and value.get("type") == "approval":
        return f"{value.get('agent')} asks to run {value.get('tool')} {value.get('args')}"
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return str(value["question"])
    return str(value)
