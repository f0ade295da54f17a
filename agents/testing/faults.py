"""A real local HTTP server that speaks the OpenAI chat API and injects faults on purpose.

`FaultServer` listens on 127.0.0.1 (a free port) in front of an upstream: a running
OpenAI-compatible server such as the embedded model (proxied), a recorded cassette (replayed),
or a canned responder that fabricates valid replies (for tests and benchmarks, including
schema-constrained JSON so `structured()` works). Each request may be delayed, refused with 429
or 500, reset, answered with a broken body, or hung (read and never answered), at rates that can
change while it runs:

```python
with FaultServer(canned(), rate_500=0.2, seed=1) as server:
    model = ChatOpenAI(model="m", base_url=server.url, api_key="x")
    server.faults.rate_500 = 1.0  # an outage
    server.faults.rate_hang = 1.0  # a hung server: requests are read and never answered
    server.down()                 # connections refused
    server.up()
```
"""

from __future__ import annotations

import io
import json
import random
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from accord.agents.errors import FaultServerError
from accord.agents.testing.upstreams import Answer, Upstream, canned, proxy, replay


@dataclass
class Faults:
    """The faults a `FaultServer` injects; change the fields at any time.

    Attributes:
        latency: Seconds added before every answer.
        rate_429: Share of requests refused with 429 Too Many Requests.
        rate_500: Share of requests answered 500 Internal Server Error.
        rate_reset: Share of connections reset without an answer.
        rate_malformed: Share of requests answered 200 with a body that is not valid JSON.
        rate_hang: Share of requests read and then held without a byte of answer, for
            `hang_for` seconds or until the server stops, then closed.
        hang_for: How long a hung request is held.
    """

    latency: float = 0.0
    rate_429: float = 0.0
    rate_500: float = 0.0
    rate_reset: float = 0.0
    rate_malformed: float = 0.0
    rate_hang: float = 0.0
    hang_for: float = 3600.0


class FaultServer:
    """An OpenAI-compatible HTTP server with fault injection; a context manager.

    Args:
        upstream: Who answers the requests that get through: a URL of an OpenAI-compatible
            server (`http://host:port/v1`, proxied), a cassette file (`Path`, replayed), or an
            `Upstream` such as `canned()` (the default).
        latency, rate_429, rate_500, rate_reset, rate_malformed, rate_hang: The initial
            `Faults`.
        seed: Seed of the fault dice, so a run injects the same faults each time.

    Attributes:
        faults: The faults injected now.
        counts: Requests seen by outcome: `ok`, `429`, `500`, `reset`, `malformed`, `hang`.
    """

    def __init__(
        self,
        upstream: str | Path | Upstream | None = None,
        *,
        latency: float = 0.0,
        rate_429: float = 0.0,
        rate_500: float = 0.0,
        rate_reset: float = 0.0,
        rate_malformed: float = 0.0,
        rate_hang: float = 0.0,
        seed: int | None = 0,
    ) -> None:
        if upstream is None:
            upstream = canned()
        elif isinstance(upstream, str):
            upstream = proxy(upstream)
        elif isinstance(upstream, Path):
            upstream = replay(upstream)
        self.upstream: Upstream = upstream
        self.faults = Faults(latency, rate_429, rate_500, rate_reset, rate_malformed, rate_hang)
        self.stopping = threading.Event()  # lets hung requests go when the server stops
        self.counts: Counter[str] = Counter()
        self._dice = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """The base URL to give a client, e.g. `ChatOpenAI(base_url=server.url)`."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def requests(self) -> int:
        """How many requests reached the server."""
        return sum(self.counts.values())

    def start(self) -> FaultServer:
        """Starts listening (on a free port the first time, on the same port after `down()`)."""
        if self._httpd is not None:
            return self
        self.stopping.clear()
        try:
            httpd = _Server(("127.0.0.1", self.port), _handler(self))
        except OSError as exc:
            raise FaultServerError(
                f"could not listen on 127.0.0.1:{self.port} ({exc}); another process took the "
                f"port while the server was down: start a new FaultServer"
            ) from exc
        httpd.daemon_threads = True
        self.port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening; connections are refused until `start()` or `up()`."""
        httpd, self._httpd = self._httpd, None
        self.stopping.set()
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def down(self) -> None:
        """Simulates a dead endpoint: connections to the port are refused."""
        self.stop()

    def up(self) -> None:
        """Brings the endpoint back on the same port."""
        self.start()

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def roll(self) -> str:
        """Draws the fate of one request: `ok` or the fault to inject."""
        faults = self.faults
        with self._lock:
            draw = self._dice.random()
        for outcome, rate in (
            ("429", faults.rate_429),
            ("500", faults.rate_500),
            ("reset", faults.rate_reset),
            ("malformed", faults.rate_malformed),
            ("hang", faults.rate_hang),
        ):
            if draw < rate:
                return outcome
            draw -= rate
        return "ok"

    def count(self, outcome: str) -> None:
        with self._lock:
            self.counts[outcome] += 1


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops the connections of a burst of concurrent clients, which
    # then wait a second to retry: latency the server never meant to inject.
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)
        # else: the client gave up first (its time limit): nothing to report


def _handler(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so `down()` leaves no kept-alive connection
        # being served behind the closed port.
        protocol_version = "HTTP/1.0"

        def do_GET(self) -> None:
            self._answer("GET", b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self._answer("POST", self.rfile.read(length))

        def _answer(self, method: str, body: bytes) -> None:
            outcome = server.roll()
            server.count(outcome)
            if server.faults.latency:
                time.sleep(server.faults.latency)
            if outcome == "hang":
                server.stopping.wait(server.faults.hang_for)
                self._reset()
                return
            if outcome == "reset":
                self._reset()
                return
            if outcome in ("429", "500"):
                error = {"error": {"message": f"injected {outcome}", "type": "fault"}}
                headers = {"retry-after": "0"} if outcome == "429" else {}
                self._send(
                    Answer(int(outcome), "application/json", json.dumps(error).encode()), headers
                )
                return
            path = self.path.split("?")[0].removeprefix("/v1")
            try:
                answer = server.upstream(method, path, body)
            except Exception as exc:
                answer = Answer(
                    502, "application/json", json.dumps({"error": {"message": str(exc)}}).encode()
                )
            if outcome == "malformed":
                answer = answer._replace(body=_broken(answer))
            self._send(answer, {})

        def _send(self, answer: Answer, headers: Mapping[str, str]) -> None:
            self.send_response(answer.status)
            self.send_header("content-type", answer.content_type)
            self.send_header("content-length", str(len(answer.body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(answer.body)

        def _reset(self) -> None:
            # SO_LINGER 0 makes close() send a TCP RST: the client sees "connection reset".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.wfile = io.BytesIO()  # nothing more goes out on the dead socket
            self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: benchmarks send thousands of requests

    return Handler


def _broken(answer: Answer) -> bytes:
    """The answer's body cut in half: JSON that does not parse, or a stream with a bad event."""
    half = max(1, len(answer.body) // 2)
    if not answer.content_type.startswith("text/event-stream"):
        return answer.body[:half]
    cut = answer.body.rfind(b"\n\n", 0, half)
    whole_events = answer.body[: cut + 2] if cut >= 0 else b""
    return whole_events + b'data: {"choices": [{"delta": {"cont\n\n'
