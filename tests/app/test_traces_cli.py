"""The `accord` command exports traces where the standard OTEL_* variables say."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accord.app.cli.tracing import traces_from_env
from accord.app.errors import UnknownTraceExporter

TEAM = """
from accord.agents import Agent, ScriptedModel
from accord.graphs import handoff
reply = {"reply": "Hello from the desk.", "handoff_to": "none"}
team = handoff([Agent(name="desk", description="answers", models=(ScriptedModel([reply]),))])
"""


def test_console_traces_go_to_stderr_with_the_service_name(tmp_path: Path) -> None:
    (tmp_path / "team.py").write_text(TEAM)
    env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_SERVICE_NAME": "accord-test",
        "ACCORD_OFFLINE": "1",
    }
    db = tmp_path / "traces.sqlite"
    command = [sys.executable, "-m", "accord.app", "run", f"{tmp_path / 'team.py'}:team", "Hi"]
    done = subprocess.run(
        [*command, "--db", str(db)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Hello from the desk." in done.stdout
    assert '"name"' not in done.stdout  # the command's output stays clean
    # The console exporter writes each span as an indented JSON object starting a line.
    decoder, spans, text = json.JSONDecoder(), [], "\n" + done.stderr
    index = text.find("\n{")
    while index >= 0:
        span, end = decoder.raw_decode(text, index + 1)
        spans.append(span)
        index = text.find("\n{", end)
    names = sorted(span["name"] for span in spans)
    assert names.count("accord.session.turn") == 1
    assert "accord.step desk" in names
    assert "chat scripted" in names
    assert "accord.checkpoint.write" in names
    assert {span["resource"]["attributes"]["service.name"] for span in spans} == {"accord-test"}


def test_an_unknown_exporter_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    with pytest.raises(UnknownTraceExporter, match="console, otlp, none"):
        traces_from_env()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert traces_from_env() is False
