"""How the command line shows a graph's progress: one readable line per thing a node added."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage
from rich.console import Console
from rich.markup import escape


def show_update(console: Console, node: str, change: Any) -> None:
    """Prints what one node added to the state, as `stream_mode="updates"` reports it.

    Reducer resets (a field written as None at the start of a round) print nothing.
    """
    if not isinstance(change, dict):
        return
    for line in _lines(node, change):
        console.print(line)


def _lines(node: str, change: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for sub in change.get("plan") or []:
        lines.append(f"[cyan]  plan: {sub['worker']} <- {escape(sub['task'])}[/]")
    for item in change.get("consultations") or []:
        lines.append(
            f"[cyan]  {item['specialist']} (confidence {item['confidence']:.2f}): "
            f"{escape(item['answer'])}[/]"
        )
    for vote in change.get("votes") or []:
        lines.append(
            f"[cyan]  {vote['agent']} votes {escape(vote['choice'])} (confidence "
            f"{vote['confidence']:.2f}, weight {vote['weight']:g}): {escape(vote['rationale'])}[/]"
        )
    for result in change.get("results") or []:
        lines.append(
            f"[cyan]  {result['worker']} did {escape(result['task'])!r}: "
            f"{escape(result['result'])}[/]"
        )
    for failure in change.get("failures") or []:
        lines.append(
            f"[red]  {failure['agent']} failed after {failure['attempts']} attempt(s): "
            f"{failure['error']}: {escape(failure['message'])}[/]"
        )
    if route := change.get("route"):
        lines.append(f"[yellow]  -> routed to {route['agent']}: {escape(route['reason'])}[/]")
    for message in change.get("messages") or []:
        if isinstance(message, AIMessage):
            lines.append(f"[bold magenta]{message.name or node}[/]: {escape(message.text)}")
    for hop in change.get("handoffs") or []:
        lines.append(f"[yellow]  -> handoff {hop['source']} -> {hop['target']}[/]")
    if "confidence" in change and "low_confidence" in change:
        low = " [red](low)[/]" if change["low_confidence"] else ""
        lines.append(f"[bold]overall confidence {change['confidence']:.2f}[/]{low}")
    if outcome := change.get("outcome"):
        tally = ", ".join(f"{choice} {weight:g}" for choice, weight in outcome["tally"].items())
        decision = outcome["decision"] or "no decision"
        lines.append(
            f"[bold]decision: {escape(str(decision))}[/] (confidence "
            f"{outcome['confidence']:.2f}; tally {tally or 'empty'}; {escape(outcome['reason'])})"
        )
    return lines
