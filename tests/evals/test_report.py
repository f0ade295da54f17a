"""Reports: the terminal tables, JSON that reads back, and an HTML page with the plots that fit."""

from __future__ import annotations

import base64
import json
import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from rich.console import Console

from accord.evals import RunResult, load_results, print_report, write_json
from accord.evals.errors import PlotsNotInstalled, ResultsError
from accord.evals.plots import confusion, decisions, plots
from accord.evals.report import html_report, scores_table


def test_json_reads_back_to_the_same_run(run: RunResult, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    write_json(run, path)
    assert load_results(path) == run
    document = json.loads(path.read_text())
    assert document["scores"]["overall"]["completion_rate"] == 0.75
    assert document["cases"][3]["error"] == "MissingRecording: x"


def test_a_file_that_is_not_results_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text("{}")
    with pytest.raises(ResultsError, match="accord eval DATASET --json FILE"):
        load_results(path)


def test_terminal_report_shows_cases_scores_and_comparison(run: RunResult) -> None:
    console = Console(record=True, width=200)
    other = RunResult("d", "other", "replay", run.cases[:2], unused=("x: 1 not replayed",))
    print_report(console, other, against=run)
    text = console.export_text()
    assert "d: other, replayed from recordings" in text
    assert "FAIL" in text
    assert "pass" in text
    assert "┃ fraud" in text  # the cases that expected fraud, as a column
    assert "pattern routed" not in text  # one pattern: its column would repeat "all cases"
    both = Console(record=True, width=200)
    both.print(scores_table(run))
    table = both.export_text()
    assert "pattern routed" in table
    assert "pattern consensus" in table
    assert "unused recording x: 1 not replayed" in text
    assert "a vs other" in text
    assert "routed right" in text
    assert "cases only in the earlier run: 3, 4" in text
    assert "case 2: FAIL" not in text  # only cases whose verdict changed are listed
    assert "_" not in text.replace("market_risk", "")  # readable headers: no snake_case


def test_confusion_counts_expected_against_chosen(run: RunResult) -> None:
    labels, counts = confusion(run)
    assert labels == ["fraud", "liquidity"]
    assert counts == [[1, 1], [0, 1]]
    assert decisions(run) == ([], [])  # no case expected a decision


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []
        self.titles: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs)["src"] or "")
            self.titles.append(dict(attrs)["title"] or "")


def test_html_embeds_the_plots_that_fit_as_png(run: RunResult) -> None:
    page = html_report(run, against=run)
    parser = _Images()
    parser.feed(page)
    assert parser.titles == [
        "Case outcomes per pattern",
        "Latency distribution",
        "Accuracy per expected agent",
        "Routing confusion matrix",
    ]
    for source in parser.sources:
        data = base64.b64decode(source.removeprefix("data:image/png;base64,"))
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert "<h1>d: a, replayed from recordings</h1>" in page
    assert "(replay)" not in page
    # Two runs with one label are told apart.
    assert re.search(r"<h2>a \(earlier\) vs a \(this run\)</h2>", page)
    assert "MissingRecording: x" in page
    assert not re.search(r"<th>\w+_\w+</th>", page)  # readable headers
    assert "<td class='n'>4</td>" in page  # the count of cases, a whole number


def test_an_empty_run_draws_no_empty_plot() -> None:
    empty = RunResult("d", "e", "replay", ())
    assert plots(empty) == {}
    assert "<img" not in html_report(empty)


def test_plots_without_matplotlib_name_the_extra(
    run: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "accord.evals.plots")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what a missing package looks like
    with pytest.raises(PlotsNotInstalled, match=re.escape("pip install 'accord[plots]'")):
        html_report(run)
