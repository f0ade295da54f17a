"""Load across processes: live session leases in a real shared database, counted per agent."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from accord.agents import Agent, Router
from accord.agents.routing import LoadCounter, SharedLoad
from accord.agents.routing.shared_load import OWN_HOLDERS
from accord.persistence import LeaseStore, SessionStore, SQLAlchemySaver, adrive, drive
from accord.persistence.sessions.stores import utcnow


def _databases_class() -> Any:
    # The scratch-database helper of the persistence tests, loaded by path: one definition.
    path = Path(__file__).parents[1] / "persistence" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_accord_persistence_databases", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Databases


@pytest.fixture(scope="module", params=["sqlite", "postgres", "mariadb"])
def url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh shared database per backend (a server that is down skips, or fails under CI)."""
    databases = _databases_class()(request.param, tmp_path_factory.mktemp("shared"))
    try:
        yield databases.create()
    finally:
        databases.drop_all()


@pytest.fixture
def saver(url: str) -> Iterator[SQLAlchemySaver]:
    with SQLAlchemySaver(url) as s:
        s.setup()
        yield s


OTHER_PROCESS = """
import os, socket, sys, uuid
from accord.persistence import LeaseStore, SessionStore, SQLAlchemySaver
url, agent, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
with SQLAlchemySaver(url) as saver:
    records, leases = SessionStore(saver), LeaseStore(saver)
    for _ in range(count):
        record = records.create(owner="alice", agent=agent)
        # How a session run names its lease holder: host, pid and a uuid.
        holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex}"
        leases.acquire(record.session_id, holder, ttl=600)
"""


def run_elsewhere(url: str, agent: str, count: int) -> None:
    """Another process starts `count` sessions served by `agent` and leaves them running."""
    code = textwrap.dedent(OTHER_PROCESS)
    subprocess.run([sys.executable, "-c", code, url, agent, str(count)], check=True, timeout=60)


def own_session(saver: SQLAlchemySaver, agent: str, holder: str, ttl: float = 600) -> str:
    record = SessionStore(saver).create(owner="bob", agent=agent)
    LeaseStore(saver).acquire(record.session_id, holder, ttl=ttl)
    return record.session_id


def test_sessions_of_another_process_count_as_load(saver: SQLAlchemySaver, url: str) -> None:
    run_elsewhere(url, "billing", 2)
    run_elsewhere(url, "tech", 1)
    local = LoadCounter()
    shared = SharedLoad(saver, local=local)
    drive(shared.refreshing())
    with local.running("tech"):
        assert shared.loads(["billing", "tech", "sales"]) == [2.0, 2.0, 0.0]


def test_this_processs_own_leases_are_not_counted_twice(saver: SQLAlchemySaver) -> None:
    leases = LeaseStore(saver)
    before = leases.leased_per_agent().get("sales", 0)
    own_session(saver, "sales", f"{OWN_HOLDERS}{'a' * 32}")
    assert leases.leased_per_agent(exclude_holder_prefix=OWN_HOLDERS).get("sales", 0) == before
    assert leases.leased_per_agent().get("sales", 0) == before + 1


def test_expired_and_released_leases_do_not_count(saver: SQLAlchemySaver) -> None:
    session = own_session(saver, "audit", "elsewhere:1:x", ttl=60)
    leases = LeaseStore(saver)
    assert leases.leased_per_agent().get("audit") == 1
    later = utcnow() + timedelta(seconds=120)
    assert leases.leased_per_agent(now=later).get("audit") is None
    leases.release(session, "elsewhere:1:x")
    assert leases.leased_per_agent().get("audit") is None


def test_the_reading_is_cached_for_max_age(saver: SQLAlchemySaver) -> None:
    now = [0.0]
    shared = SharedLoad(saver, local=LoadCounter(), max_age_s=5.0, clock=lambda: now[0])
    drive(shared.refreshing())
    start = shared.loads(["cache"])[0]
    own_session(saver, "cache", "elsewhere:2:y")
    drive(shared.refreshing())
    assert shared.loads(["cache"]) == [start]  # not read again yet
    now[0] = 6.0
    drive(shared.refreshing())
    assert shared.loads(["cache"]) == [start + 1]


async def test_the_async_refresh_reads_the_same_leases(url: str) -> None:
    async with SQLAlchemySaver.from_url(url) as saver:
        await saver.asetup()
        record = await SessionStore(saver).acreate(owner="carol", agent="async")
        await LeaseStore(saver).aacquire(record.session_id, "elsewhere:3:z", ttl=600)
        shared = SharedLoad(saver, local=LoadCounter())
        await adrive(shared.refreshing())
        assert shared.loads(["async"]) == [1.0]


def test_a_router_avoids_the_agent_other_processes_keep_busy(
    saver: SQLAlchemySaver, url: str
) -> None:
    team = [
        Agent(name="east", description="Answers questions.", capacity=4),
        Agent(name="west", description="Answers questions.", capacity=4),
    ]
    shared = SharedLoad(url, local=LoadCounter())
    router = Router(team, strategy="least-busy", load=shared)
    try:
        router.refresh()
        assert router.decide("hello").agent == "east"
        run_elsewhere(url, "east", 3)
        shared.max_age_s = 0.0
        router.refresh()
        decision = router.decide("hello")
        assert decision.agent == "west"
        assert decision.candidates()[1]["load"] == 3.0
    finally:
        shared.close()
