"""A fleet for tests: RabbitMQ and Redis checked, a queue and key prefix of the test's own,
a PostgreSQL database of its own, and `accord worker` processes started (and killed) by it.

Outside CI an unreachable service skips the test with a reason; with `CI=true` it fails.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from databases import Databases

from accord.graphs import Broker
from accord.persistence import SQLAlchemySaver

AMQP = os.environ.get("ACCORD_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
REDIS = os.environ.get("ACCORD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parents[1]


def require(service: str, host: str, port: int) -> None:
    """Skips (fails under CI) unless something listens on host:port."""
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as error:
        reason = f"{service} at {host}:{port} is unreachable: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true requires every service)")
        pytest.skip(reason)


def services() -> None:
    """RabbitMQ and Redis must be up."""
    require("RabbitMQ", "127.0.0.1", 5672)
    require("Redis", "127.0.0.1", 6379)


@contextmanager
def fleet_database(folder: Path) -> Iterator[str]:
    """A migrated PostgreSQL database of the test's own, dropped after it."""
    dbs = Databases("postgres", folder)
    url = dbs.create()
    try:
        saver = SQLAlchemySaver.from_url(url)
        saver.setup()  # before the workers start, so they do not all migrate at once
        saver.close()
        yield url
    finally:
        dbs.drop_all()


def broker(**settings: object) -> Broker:
    """A `Broker` with a prefix of the test's own."""
    return Broker(AMQP, redis=REDIS, prefix=f"accord_test_{uuid.uuid4().hex[:10]}", **settings)  # type: ignore[arg-type]


def clean(fleet: Broker) -> None:
    """Deletes the fleet's queues and Redis keys."""
    fleet.drop()


def dead_letters(fleet: Broker) -> int:
    """How many turns wait in the fleet's dead-letter queue."""
    kombu: Any = importlib.import_module("kombu")  # untyped
    with kombu.Connection(fleet.url) as connection:
        _, count, _ = connection.channel().queue_declare(
            f"{fleet.prefix}.dead", durable=True, passive=True
        )
        return int(count)


class Workers:
    """`accord worker` processes of one fleet, started and killed by a test."""

    def __init__(self, graph: str, db: str, fleet: Broker, folder: Path, **options: object):
        self.graph, self.db, self.fleet, self.folder = graph, db, fleet, folder
        self.options = [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, count: int = 1) -> list[subprocess.Popen[bytes]]:
        """Starts `count` workers at once and waits until each consumes the queue."""
        started = [self._launch() for _ in range(count)]
        deadline = time.monotonic() + 90
        for process, log in started:
            while b" ready." not in log.read_bytes():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"worker did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.1)
            self.running.append(process)
        return [process for process, _ in started]

    def _launch(self) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.folder / f"worker-{uuid.uuid4().hex[:6]}.log"
        command = [
            sys.executable,
            "-c",
            "from accord.app.cli.main import main; main()",
            "worker",
            f"--graph={self.graph}",
            f"--db={self.db}",
            f"--broker={self.fleet.url}",
            f"--redis={self.fleet.redis}",
            f"--prefix={self.fleet.prefix}",
            f"--attempts={self.fleet.attempts}",
            *self.options,
        ]
        environment = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
        with log.open("wb") as out:
            process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=environment, cwd=ROOT
            )
        return process, log

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILLs a worker (no warm shutdown: its turns are redelivered)."""
        process.kill()
        process.wait()
        self.running.remove(process)

    def stop(self) -> None:
        """Stops every worker still running (SIGTERM: a warm shutdown)."""
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.running.clear()


async def until(condition: Callable[[], object], what: str, within: float) -> None:
    """Polls `condition()` (blocking calls: in a thread; it may return an awaitable) until
    true; fails after `within` seconds naming `what`."""
    deadline = time.monotonic() + within
    while True:
        met = await asyncio.to_thread(condition)
        if inspect.isawaitable(met):
            met = await met
        if met:
            return
        assert time.monotonic() < deadline, f"{what}: not within {within} s"
        await asyncio.sleep(0.1)


class Proxy:
    """A TCP proxy to PostgreSQL on a port of its own that a test opens and closes: a
    database a worker reaches, or finds unreachable (connections refused, and those it had
    cut), at the test's word."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 5432)) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        """Accepts connections and forwards them."""
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def close(self) -> None:
        """Refuses connections and cuts those it forwards."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._open:
            writer.transport.abort()
        self._open.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._open |= {writer, upstream}
        await asyncio.gather(
            _pipe(reader, upstream), _pipe(upstream_reader, writer), return_exceptions=True
        )


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65_536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()
