"""Reports of an evaluation run: a terminal table, JSON for machines, HTML with plots."""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from accord.evals.results import RunResult
from accord.evals.scores import METRICS, Scores, compare, scores


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _number(metric: str, value: float | None) -> str:
    if value is None:
        return "-"
    if metric.endswith("rate") or metric == "routing_accuracy":
        return f"{value:.0%}"
    if metric.startswith("latency"):
        return f"{value:.2f} s"
    return f"{value:.1f}"


def cases_table(run: RunResult) -> Table:
    """One row per case: verdict, route, decision, spend and what failed."""
    table = Table(title=f"{run.dataset}: {run.label} ({run.mode})")
    table.add_column("case", no_wrap=True)
    for column in ("example", "ok", "route", "decision", "steps", "tokens", "latency"):
        table.add_column(column)
    table.add_column("failed", overflow="fold")
    for case in run.cases:
        trace = case.trace
        failed = case.error or "; ".join(
            f"{c.evaluator}: {c.detail}" for c in case.checks if not c.passed
        )
        table.add_row(
            case.case,
            case.example,
            "[green]pass[/]" if case.passed else "[red]FAIL[/]",
            trace.route or "-",
            trace.decision or "-",
            str(trace.steps),
            str(trace.tokens),
            f"{trace.latency:.1f} s",
            failed,
        )
    return table


def scores_table(run: RunResult) -> Table:
    """The run's metrics, overall and per pattern and per expected agent."""
    result = scores(run)
    table = Table(title="scores")
    for column in ("group", "cases", "completed", "passed", "routing", "errors"):
        table.add_column(column)
    for column in ("p50", "p95", "tokens", "steps"):
        table.add_column(column, justify="right")

    def row(name: str, s: Scores) -> None:
        table.add_row(
            name,
            str(s.cases),
            _rate(s.completion_rate),
            _rate(s.pass_rate),
            _rate(s.routing_accuracy),
            _rate(s.error_rate),
            f"{s.latency_p50:.1f} s",
            f"{s.latency_p95:.1f} s",
            f"{s.tokens:.0f}",
            f"{s.steps:.1f}",
        )

    row("all", result.overall)
    for name, group in result.per_pattern.items():
        row(f"pattern {name}", group)
    for name, group in result.per_agent.items():
        row(f"agent {name}", group)
    return table


def comparison_table(before: RunResult, after: RunResult) -> Table:
    """Two runs' overall metrics side by side with the change."""
    table = Table(title=f"{before.label} vs {after.label}")
    for column in ("metric", before.label, after.label, "change"):
        table.add_column(column)
    for delta in compare(before, after):
        change = "-" if delta.change is None else f"{delta.change:+.3g}"
        table.add_row(
            delta.metric,
            _number(delta.metric, delta.before),
            _number(delta.metric, delta.after),
            change,
        )
    return table


def print_report(console: Console, run: RunResult, against: RunResult | None = None) -> None:
    """Prints the cases, the scores, unused recordings and, if given, a comparison."""
    console.print(cases_table(run))
    console.print(scores_table(run))
    for line in run.unused:
        console.print(f"[yellow]unused recording[/] {line}")
    if against is not None:
        console.print(comparison_table(against, run))


def write_json(run: RunResult, path: str | Path) -> None:
    """Writes the run (cases, checks, traces and scores) as JSON; `load_results` reads it."""
    Path(path).write_text(json.dumps(run.to_dict(), indent=1) + "\n", encoding="utf-8")


def html_report(run: RunResult, against: RunResult | None = None) -> str:
    """A self-contained HTML page: scores, plots (embedded PNG), cases, and a comparison."""
    from accord.evals.plots import plots  # matplotlib only when a page is asked for

    result = scores(run)
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>accord eval: {esc(run.dataset)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
        ".pass{color:#2a7d2a}.fail{color:#b22}img{margin:1em 1em 0 0}</style></head><body>",
        f"<h1>{esc(run.dataset)}: {esc(run.label)} ({esc(run.mode)})</h1>",
        "<h2>Scores</h2><table><tr><th>group</th>",
        *(f"<th>{esc(m)}</th>" for m in METRICS),
        "</tr>",
    ]
    groups = {"all": result.overall}
    groups.update({f"pattern {k}": v for k, v in result.per_pattern.items()})
    groups.update({f"agent {k}": v for k, v in result.per_agent.items()})
    for name, group in groups.items():
        cells = "".join(f"<td>{_number(m, getattr(group, m))}</td>" for m in METRICS)
        parts.append(f"<tr><td>{esc(name)}</td>{cells}</tr>")
    parts.append("</table><h2>Plots</h2>")
    for title, png in plots(run).items():
        data = base64.b64encode(png).decode()
        source = f"data:image/png;base64,{data}"
        parts.append(f"<img alt='{esc(title)}' title='{esc(title)}' src='{source}'>")
    if against is not None:
        parts.append(f"<h2>{esc(against.label)} vs {esc(run.label)}</h2><table>")
        parts.append("<tr><th>metric</th><th>before</th><th>after</th><th>change</th></tr>")
        for d in compare(against, run):
            change = "-" if d.change is None else f"{d.change:+.3g}"
            parts.append(
                f"<tr><td>{d.metric}</td><td>{_number(d.metric, d.before)}</td>"
                f"<td>{_number(d.metric, d.after)}</td><td>{change}</td></tr>"
            )
        parts.append("</table>")
    parts.append("<h2>Cases</h2><table><tr><th>case</th><th>example</th><th>verdict</th>")
    parts.append("<th>route</th><th>decision</th><th>checks</th><th>answer</th></tr>")
    for case in run.cases:
        verdict = (
            "<span class='pass'>pass</span>" if case.passed else "<span class='fail'>FAIL</span>"
        )
        checks = "<br>".join(
            f"{'✓' if c.passed else '✗'} {esc(c.evaluator)}: {esc(c.detail)}" for c in case.checks
        )
        if case.error:
            checks = f"<span class='fail'>{esc(case.error)}</span>"
        parts.append(
            f"<tr><td>{esc(case.case)}</td><td>{esc(case.example)}</td><td>{verdict}</td>"
            f"<td>{esc(case.trace.route or '-')}</td><td>{esc(case.trace.decision or '-')}</td>"
            f"<td>{checks}</td><td>{esc(case.trace.answer)}</td></tr>"
        )
    parts.append("</table>")
    if run.unused:
        items = "".join(f"<li>{esc(line)}</li>" for line in run.unused)
        parts.append(f"<h2>Unused recordings</h2><ul>{items}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(run: RunResult, path: str | Path, against: RunResult | None = None) -> None:
    """Writes `html_report` to `path`."""
    Path(path).write_text(html_report(run, against), encoding="utf-8")
