"""Recorded traffic: record against a real local server, replay without it, refuse the unknown."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from accord.evals.cassette import cassette
from accord.evals.errors import MissingRecording


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        reply = json.dumps({"echo": json.loads(body), "secret": "s3t"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Set-Cookie", "session=abc")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _ask(base: str, body: dict[str, str]) -> dict[str, object]:
    headers = {"Authorization": "Bearer sk-secret"}
    response = httpx.post(f"{base}/v1/chat", json=body, headers=headers, timeout=5)
    result: dict[str, object] = response.json()
    return result


def test_replay_needs_no_server_and_matches_on_method_path_and_body(
    server: str, tmp_path: Path
) -> None:
    tape = tmp_path / "tape.yaml"
    with cassette(tape, record=True):
        recorded = _ask(server, {"q": "hello"})

    # Another host and port: only method, path and body are matched.
    with cassette(tape):
        assert _ask("http://127.0.0.1:9", {"q": "hello"}) == recorded

    stored = tape.read_text()
    assert "sk-secret" not in stored
    assert "session=abc" not in stored


def test_a_request_with_no_recording_fails_loudly(server: str, tmp_path: Path) -> None:
    tape = tmp_path / "tape.yaml"
    with cassette(tape, record=True):
        _ask(server, {"q": "hello"})

    with pytest.raises(MissingRecording, match="has no recording for a request"), cassette(tape):
        _ask(server, {"q": "something else"})


def test_a_missing_cassette_says_how_to_record_it(tmp_path: Path) -> None:
    with pytest.raises(MissingRecording, match="record it first"), cassette(tmp_path / "none.yaml"):
        pass
