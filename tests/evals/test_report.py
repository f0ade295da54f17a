"""Reports: the terminal tables, JSON that reads back, and an HTML page with three PNG plots."""

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
from accord.evals.plots import confusion, plots
from accord.evals.report import html_report


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
    assert "d: other (replay)" in text
    assert "FAIL" in text
    assert "pass" in text
    assert "pattern routed" in text
    assert "agent fraud" in text
    assert "unused recording x: 1 not replayed" in text
    assert "a vs other" in text
    assert "routing_accuracy" in text


def test_confusion_counts_expected_against_chosen(run: RunResult) -> None:
    labels, counts = confusion(run)
    assert labels == ["fraud", "liquidity"]
    assert counts == [[1, 1], [0, 1]]


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.append(dict(attrs)["src"] or "")


def test_html_embeds_the_three_plots_as_png(run: RunResult) -> None:
    page = html_report(run, against=run)
    parser = _Images()
    parser.feed(page)
    assert len(parser.sources) == 3
    for source in parser.sources:
        data = base64.b64decode(source.removeprefix("data:image/png;base64,"))
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert re.search(r"<h2>a vs a</h2>", page)
    assert "MissingRecording: x" in page


def test_plots_work_for_an_empty_run() -> None:
    empty = RunResult("d", "e", "replay", ())
    assert all(png.startswith(b"\x89PNG") for png in plots(empty).values())


def test_plots_without_matplotlib_name_the_extra(
    run: RunResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "accord.evals.plots")
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what a missing package looks like
    with pytest.raises(PlotsNotInstalled, match=re.escape("pip install 'accord[plots]'")):
        html_report(run)
