"""Reports of an evaluation run: a terminal table, JSON for machines, HTML with plots."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from accord.evals.results import RunResult
from accord.evals.scores import METRICS, Delta, Scores, changed_cases, compare, scores

LABELS = {
    "completion_rate": "completed",
    "pass_rate": "passed",
    "routing_accuracy": "routed right",
    "error_rate": "errors",
    "latency_p50": "latency p50",
    "latency_p95": "latency p95",
    "tokens": "tokens per case",
    "steps": "steps per case",
    "calls": "model calls per case",
}
"""Readable names of the `Scores` fields, as table headers."""

MODES = {"replay": "replayed from recordings", "record": "recorded against the model"}


def title(run: RunResult) -> str:
    """What the run was: `dataset: label, replayed from recordings`."""
    return f"{run.dataset}: {run.label}, {MODES.get(run.mode, run.mode)}"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _mean(value: float) -> str:
    """A mean of counts: a whole number as one, else one decimal."""
    return f"{value:.0f}" if value == round(value) else f"{value:.1f}"


def _number(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric.endswith("rate") or metric == "routing_accuracy":
        return f"{value:.0%}"
    if metric.startswith("latency"):
        return f"{value:.1f} s"
    if metric == "tokens":
        return f"{value:,.0f}"
    return _mean(value)


def _change(metric: str, change: float | None) -> str:
    if change is None:
        return "-"
    if metric.endswith("rate") or metric == "routing_accuracy":
        return f"{change * 100:+.0f} pp"
    if metric.startswith("latency"):
        return f"{change:+.1f} s"
    if metric == "tokens":
        return f"{change:+,.0f}"
    return f"{change:+.1f}"


def sides(before: RunResult, after: RunResult) -> tuple[str, str]:
    """Names for two compared runs that tell them apart even when their labels are equal."""
    if before.dataset != after.dataset:
        return f"{before.dataset}: {before.label}", f"{after.dataset}: {after.label}"
    if before.label != after.label:
        return before.label, after.label
    if before.mode != after.mode:
        return f"{before.label} ({before.mode}ed)", f"{after.label} ({after.mode}ed)"
    return f"{before.label} (earlier)", f"{after.label} (this run)"


def comparison_warnings(before: RunResult, after: RunResult) -> list[str]:
    """Why two runs' figures may not be comparable: other datasets, other cases."""
    if before.dataset != after.dataset:
        return [
            f"the runs are of different datasets ({before.dataset!r} and {after.dataset!r}): "
            "their figures do not measure the same cases"
        ]
    first, second = {c.case for c in before.cases}, {c.case for c in after.cases}
    warnings = []
    if only := sorted(first - second):
        warnings.append(f"cases only in the earlier run: {', '.join(only)}")
    if only := sorted(second - first):
        warnings.append(f"cases only in this run: {', '.join(only)}")
    return warnings


def _case_columns(run: RunResult) -> tuple[bool, bool, bool]:
    """Whether the run's cases need an example, a route and a decision column."""
    return (
        len({c.example for c in run.cases}) > 1,
        any(c.trace.route or c.expected_route for c in run.cases),
        any(c.trace.decision or c.expected_decision for c in run.cases),
    )


def _shown(groups: dict[str, Scores]) -> list[str]:
    """The metrics some group defines (routing accuracy only where a case expected a route)."""
    return [m for m in METRICS if any(getattr(g, m) is not None for g in groups.values())]


def cases_table(run: RunResult) -> Table:
    """One row per case: verdict, route and decision (when the run has them), spend, and
    what failed; the example column only when the run mixes examples."""
    table = Table(title=title(run))
    table.add_column("case", overflow="fold", max_width=20)
    several, routes, decisions = _case_columns(run)
    if several:
        table.add_column("example")
    table.add_column("verdict", no_wrap=True)
    if routes:
        table.add_column("route")
    if decisions:
        table.add_column("decision")
    for column in ("tokens", "latency"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("what failed", overflow="fold", min_width=16)
    for case in run.cases:
        trace = case.trace
        failed = case.error or "; ".join(
            f"{c.evaluator}: {c.detail}" for c in case.checks if not c.passed
        )
        row = [case.case, *([case.example] if several else [])]
        row.append("[green]pass[/]" if case.passed else "[red]FAIL[/]")
        row += [trace.route or "-"] if routes else []
        row += [trace.decision or "-"] if decisions else []
        row += [f"{trace.tokens:,}", f"{trace.latency:.0f} s", failed]
        table.add_row(*row)
    table.caption = "latency: seconds per case as recorded against the model"
    return table


def _groups(run: RunResult) -> dict[str, Scores]:
    result = scores(run)
    groups = {"all cases": result.overall}
    if len(result.per_pattern) > 1:
        groups.update({f"pattern {k}": v for k, v in result.per_pattern.items()})
    groups.update({f"expected agent {k}": v for k, v in result.per_agent.items()})
    return groups


def scores_table(run: RunResult) -> Table:
    """The run's metrics (rows) for all cases, each pattern (when several) and each expected
    agent (columns): a metric per row keeps its full name and fits a narrow terminal.

    A metric no group defines (routing, in a run with no expected route) is left out.
    """
    groups = _groups(run)
    shown = _shown(groups)
    table = Table(title="scores")
    table.add_column("metric", no_wrap=True)
    for name in groups:
        table.add_column(name.removeprefix("expected agent "), justify="right", overflow="fold")
    table.add_row("cases", *(str(g.cases) for g in groups.values()))
    for metric in shown:
        table.add_row(
            LABELS[metric], *(_number(metric, getattr(g, metric)) for g in groups.values())
        )
    if run.cases and any(name.startswith("expected agent ") for name in groups):
        table.caption = "columns after 'all cases': the cases that expected that agent"
    return table


def comparison_table(before: RunResult, after: RunResult) -> Table:
    """Two runs' overall metrics side by side with the change."""
    first, second = sides(before, after)
    table = Table(title=f"{first} vs {second}")
    for column in ("metric", first, second, "change"):
        table.add_column(column)
    for delta in _defined(compare(before, after)):
        table.add_row(
            LABELS[delta.metric],
            _number(delta.metric, delta.before),
            _number(delta.metric, delta.after),
            _change(delta.metric, delta.change),
        )
    return table


def print_report(console: Console, run: RunResult, against: RunResult | None = None) -> None:
    """Prints the cases, the scores, unused recordings and, if given, a comparison."""
    console.print(cases_table(run))
    console.print(scores_table(run))
    for line in run.unused:
        console.print(f"[yellow]unused recording[/] {line}")
    if against is not None:
        for warning in comparison_warnings(against, run):
            console.print(f"[yellow]warning:[/] {warning}")
        console.print(comparison_table(against, run))
        for case, was, now in changed_cases(against, run):
            console.print(f"case {case}: {_verdict(was)} -> {_verdict(now)}")


def _defined(deltas: list[Delta]) -> list[Delta]:
    """The metrics at least one of two compared runs defines."""
    return [d for d in deltas if d.before is not None or d.after is not None]


def _verdict(passed: bool) -> str:
    return "pass" if passed else "FAIL"


def write_json(run: RunResult, path: str | Path) -> None:
    """Writes the run (cases, checks, traces and scores) as JSON; `load_results` reads it."""
    Path(path).write_text(json.dumps(run.to_dict(), indent=1) + "\n", encoding="utf-8")


def html_report(run: RunResult, against: RunResult | None = None) -> str:
    """A self-contained HTML page: scores, plots (embedded PNG), cases, and a comparison."""
    from accord.evals.plots import plots  # matplotlib only when a page is asked for

    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>accord eval: {esc(run.dataset)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}td.n{text-align:right}"
        ".pass{color:#2a7d2a}.fail{color:#b22}.warn{background:#fff3cd;padding:.5em 1em}"
        "img{margin:1em 1em 0 0}</style></head><body>",
        f"<h1>{esc(title(run))}</h1>",
        "<h2>Scores</h2><table><tr><th>group</th><th>cases</th>",
    ]
    groups = _groups(run)
    shown = _shown(groups)
    parts += [*(f"<th>{esc(LABELS[m])}</th>" for m in shown), "</tr>"]
    for name, group in groups.items():
        cells = "".join(f"<td class='n'>{_number(m, getattr(group, m))}</td>" for m in shown)
        parts.append(f"<tr><td>{esc(name)}</td><td class='n'>{group.cases}</td>{cells}</tr>")
    parts.append("</table>")
    drawn = plots(run)
    if drawn:
        parts.append("<h2>Plots</h2>")
    for name, png in drawn.items():
        data = base64.b64encode(png).decode()
        source = f"data:image/png;base64,{data}"
        parts.append(f"<img alt='{esc(name)}' title='{esc(name)}' src='{source}'>")
    if against is not None:
        parts += _html_comparison(against, run)
    several, routes, decisions = _case_columns(run)
    heads = ["case", *(["example"] if several else []), "verdict"]
    heads += [*(["route"] if routes else []), *(["decision"] if decisions else [])]
    parts.append("<h2>Cases</h2><table><tr>")
    parts.append("".join(f"<th>{h}</th>" for h in [*heads, "checks", "answer"]) + "</tr>")
    for case in run.cases:
        verdict = (
            "<span class='pass'>pass</span>" if case.passed else "<span class='fail'>FAIL</span>"
        )
        checks = "<br>".join(
            f"{'✓' if c.passed else '✗'} {esc(c.evaluator)}: {esc(c.detail)}" for c in case.checks
        )
        if case.error:
            checks = f"<span class='fail'>{esc(case.error)}</span>"
        row = [esc(case.case), *([esc(case.example)] if several else []), verdict]
        row += [esc(case.trace.route or "-")] if routes else []
        row += [esc(case.trace.decision or "-")] if decisions else []
        row += [checks, esc(case.trace.answer)]
        parts.append("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    parts.append("</table>")
    if run.unused:
        items = "".join(f"<li>{esc(line)}</li>" for line in run.unused)
        parts.append(f"<h2>Unused recordings</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_comparison(before: RunResult, after: RunResult) -> list[str]:
    esc = html.escape
    first, second = sides(before, after)
    parts = [f"<h2>{esc(first)} vs {esc(second)}</h2>"]
    parts += [f"<p class='warn'>warning: {esc(w)}</p>" for w in comparison_warnings(before, after)]
    parts.append(
        f"<table><tr><th>metric</th><th>{esc(first)}</th><th>{esc(second)}</th><th>change</th></tr>"
    )
    for d in _defined(compare(before, after)):
        parts.append(
            f"<tr><td>{esc(LABELS[d.metric])}</td><td class='n'>{_number(d.metric, d.before)}</td>"
            f"<td class='n'>{_number(d.metric, d.after)}</td>"
            f"<td class='n'>{_change(d.metric, d.change)}</td></tr>"
        )
    parts.append("</table>")
    changed = changed_cases(before, after)
    if changed:
        items = "".join(
            f"<li>{esc(case)}: {_verdict(was)} → {_verdict(now)}</li>" for case, was, now in changed
        )
        parts.append(f"<p>Cases whose verdict changed:</p><ul>{items}</ul>")
    return parts


def write_html(run: RunResult, path: str | Path, against: RunResult | None = None) -> None:
    """Writes `html_report` to `path`."""
    Path(path).write_text(html_report(run, against), encoding="utf-8")
