"""A stand-in for `accord/agents/local/worker.py`: the same command line and lifecycle, no model.

It serves `/health`, an OpenAI-style `/v1/chat/completions` and an Ollama-style `/api/chat` on
127.0.0.1, so the server lifecycle, `LocalChatModel` and `ChatOllama` can be tested in
milliseconds. Behaviour comes from variables: `FAKE_WORKER_MODE` (`ok`, `never-ready`,
`crash`), `FAKE_WORKER_REPLY` (plain answers), `FAKE_WORKER_JSON` (answers to requests that ask
for structured output), and `FAKE_WORKER_REQUESTS` (a file each request body is appended to,
one JSON per line).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

USAGE = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, "application/json", b'{"status": "ok"}')
        else:
            self._send(404, "text/plain", b"not found")

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if path := os.environ.get("FAKE_WORKER_REQUESTS"):
            with open(path, "a", encoding="utf-8") as out:
                out.write(json.dumps(body) + "\n")
        if self.path == "/api/chat":
            self._ollama(body)
            return
        if "response_format" in body:
            content = os.environ.get("FAKE_WORKER_JSON", '{"reply": "ok", "handoff_to": "none"}')
        else:
            content = os.environ.get("FAKE_WORKER_REPLY", "hello from the fake server")
        if body.get("stream"):
            self._stream(content)
            return
        answer = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": USAGE,
        }
        self._send(200, "application/json", json.dumps(answer).encode())

    def _ollama(self, body: dict[str, Any]) -> None:
        if body.get("format"):
            content = os.environ.get("FAKE_WORKER_JSON", '{"reply": "ok", "handoff_to": "none"}')
        else:
            content = os.environ.get("FAKE_WORKER_REPLY", "hello from the fake server")
        head = {"model": body["model"], "created_at": "2025-01-01T00:00:00Z"}
        lines = [
            {**head, "message": {"role": "assistant", "content": content}, "done": False},
            {
                **head,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
                "prompt_eval_count": 7,
                "eval_count": 3,
            },
        ]
        payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
        self._send(200, "application/x-ndjson", payload)

    def _stream(self, content: str) -> None:
        def event(choices: list[dict[str, Any]], **extra: Any) -> bytes:
            chunk = {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "fake",
                "choices": choices,
                **extra,
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        words = content.split(" ")
        parts = [event([{"index": 0, "delta": {"role": "assistant", "content": ""}}])]
        parts += [
            event([{"index": 0, "delta": {"content": w + (" " if i < len(words) - 1 else "")}}])
            for i, w in enumerate(words)
        ]
        parts.append(event([{"index": 0, "delta": {}, "finish_reason": "stop"}]))
        parts.append(event([], usage=USAGE))
        parts.append(b"data: [DONE]\n\n")
        self._send(200, "text/event-stream", b"".join(parts))

    def _send(self, code: int, kind: str, payload: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("--model", "--address-file", "--threads", "--ctx", "--parallel", "--alias"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    print(f"fake worker: model={args.model} threads={args.threads}", flush=True)
    mode = os.environ.get("FAKE_WORKER_MODE", "ok")
    if mode == "crash":
        print("fake worker: failed to load the model", flush=True)
        sys.exit(3)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    if mode == "ok":
        with open(args.address_file + ".tmp", "w", encoding="utf-8") as out:
            out.write(f"http://127.0.0.1:{server.server_address[1]}")
        os.replace(args.address_file + ".tmp", args.address_file)
    sys.stdin.buffer.read()
    os._exit(0)


if __name__ == "__main__":
    main()
