"""The embedded server's lifecycle, on a stand-in worker process: start once, stop, fail clearly."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx
import pytest

from accord.agents.errors import LocalModelNotInstalled, LocalServerFailed, OfflineMode
from accord.agents.models.local import EmbeddedServer, warm_up
from accord.agents.models.local import server as server_module
from accord.agents.models.local.chat import LocalChatModel, local_chat_model

from .conftest import FAKE_WORKER, make_server


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _wait_dead(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


def test_offline_mode_refuses_to_start(home: Path) -> None:
    server = make_server(home)
    with pytest.raises(OfflineMode, match="start the embedded model server"):
        server.start()
    assert server.pid is None


def test_start_serves_health_and_reuses_the_process(fake_server: EmbeddedServer) -> None:
    url = fake_server.start()

    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/v1")
    assert httpx.get(url.removesuffix("/v1") + "/health").json() == {"status": "ok"}
    pid = fake_server.pid
    assert fake_server.start() == url
    assert fake_server.pid == pid
    assert fake_server.load_seconds is not None


def test_stop_ends_the_process_and_a_later_start_makes_a_new_one(
    fake_server: EmbeddedServer,
) -> None:
    fake_server.start()
    first = fake_server.pid
    assert first is not None

    fake_server.stop()

    assert fake_server.url is None
    assert fake_server.pid is None
    assert _wait_dead(first)
    fake_server.start()
    assert fake_server.pid not in (None, first)


def test_a_dead_server_is_restarted(fake_server: EmbeddedServer) -> None:
    fake_server.start()
    first = fake_server.pid
    assert first is not None
    os.kill(first, 9)
    deadline = time.monotonic() + 10
    while fake_server.pid is not None and time.monotonic() < deadline:
        time.sleep(0.05)

    fake_server.start()

    assert fake_server.pid not in (None, first)


def test_threads_starting_at_once_share_one_process(fake_server: EmbeddedServer) -> None:
    urls: list[str] = []
    threads = [threading.Thread(target=lambda: urls.append(fake_server.start())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(urls) == 8
    assert len(set(urls)) == 1


async def test_tasks_starting_at_once_share_one_process(fake_server: EmbeddedServer) -> None:
    urls = await asyncio.gather(*(fake_server.astart() for _ in range(8)))
    assert len(set(urls)) == 1
    assert fake_server.url == urls[0]


def test_a_crashing_worker_reports_its_exit_and_log(home: Path, online: None) -> None:
    os.environ["FAKE_WORKER_MODE"] = "crash"
    try:
        with pytest.raises(LocalServerFailed, match=r"code 3") as caught:
            make_server(home).start()
    finally:
        del os.environ["FAKE_WORKER_MODE"]
    assert "failed to load the model" in str(caught.value)


def test_a_worker_that_never_gets_ready_times_out(
    home: Path, online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_WORKER_MODE", "never-ready")
    server = make_server(home, timeout=0.5)

    with pytest.raises(LocalServerFailed, match="ACCORD_LOCAL_START_TIMEOUT"):
        server.start()
    assert server.pid is None


def test_missing_xllamacpp_names_the_install_command(
    home: Path, online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "xllamacpp" else real(name)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    server = EmbeddedServer(weights=lambda: pytest.fail("weights needed before the check"))

    with pytest.raises(LocalModelNotInstalled, match=r"pip install 'accord\[local\]'"):
        server.start()


def test_the_server_ends_when_its_owner_is_killed(home: Path, online: None) -> None:
    owner = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from accord.agents.models.environment import LocalSettings
        from accord.agents.models.local import EmbeddedServer
        home = Path({str(home)!r})
        server = EmbeddedServer(
            settings=lambda: LocalSettings(threads=1, home=home),
            weights=lambda: home,
            worker={FAKE_WORKER!r},
        )
        server.start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", owner], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        assert _alive(pid)
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert _wait_dead(pid), "the server process outlived its killed owner"


def test_local_chat_model_starts_the_server_on_first_call(
    fake_server: EmbeddedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests = tmp_path / "requests.jsonl"
    monkeypatch.setenv("FAKE_WORKER_REQUESTS", str(requests))
    model = LocalChatModel(server=fake_server, max_retries=0)
    assert fake_server.url is None

    answer = model.invoke("hello")

    assert answer.content == "hello from the fake server"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["total_tokens"] == 10
    (sent,) = [json.loads(line) for line in requests.read_text().splitlines()]
    limit = sent.get("max_completion_tokens", sent.get("max_tokens"))
    assert (sent["temperature"], sent["seed"], limit) == (0.0, 0, 512)


async def test_local_chat_model_async_and_streaming(fake_server: EmbeddedServer) -> None:
    model = LocalChatModel(server=fake_server, max_retries=0)

    answers = await asyncio.gather(*(model.ainvoke(f"q{i}") for i in range(3)))
    chunks = [chunk async for chunk in model.astream("stream please")]

    assert {a.content for a in answers} == {"hello from the fake server"}
    assert "".join(str(c.content) for c in chunks) == "hello from the fake server"
    assert any(c.usage_metadata for c in chunks)


def test_local_chat_model_follows_a_restart(fake_server: EmbeddedServer) -> None:
    model = LocalChatModel(server=fake_server, max_retries=0)
    model.invoke("one")
    fake_server.stop()

    assert model.invoke("two").content == "hello from the fake server"


def test_local_chat_model_offline_fails_on_first_call_not_on_build(home: Path) -> None:
    model = local_chat_model()
    with pytest.raises(OfflineMode):
        model.invoke("hello")


def test_warm_up_does_nothing_when_a_server_url_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ACCORD_LOCAL_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setattr(server_module, "_shared", None)
    assert warm_up() == 0.0
