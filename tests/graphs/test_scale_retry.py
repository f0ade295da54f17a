"""A turn whose retry cannot be published is handed back to RabbitMQ, never dropped (no
services: Redis is unreachable, so the turn fails before it runs)."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fleet import AMQP, REDIS, services
from scale_team import single

from accord.graphs import Broker, Worker
from accord.graphs.errors import ServiceUnavailable

celery_exceptions: Any = importlib.import_module("celery.exceptions")  # untyped


def test_a_retry_that_cannot_be_published_requeues_the_turn(tmp_path: Path) -> None:
    fleet = Broker("amqp://guest:guest@127.0.0.1:1//", redis="redis://127.0.0.1:1/0")
    worker = Worker(single(), db=f"sqlite:///{tmp_path / 's.sqlite'}", broker=fleet)

    def retry(countdown: float) -> None:
        # What Celery raises when it cannot publish the retry: a reject that drops the turn.
        raise celery_exceptions.Reject(OSError("broker gone"), requeue=False)

    task = SimpleNamespace(request=SimpleNamespace(retries=0), retry=retry)
    payload: dict[str, Any] = {"session_id": "s", "user": "alice", "roles": [], "text": "hi"}
    payload |= {"message_id": "m", "ticket": 1}
    try:
        with pytest.raises(celery_exceptions.Reject) as refused:
            worker._task(task, payload, None)
    finally:
        worker.runtime.portal.call(worker.channel.aclose())
        worker.runtime.portal.close()
    assert refused.value.requeue is True


@pytest.mark.timeout(60)
def test_a_worker_says_at_start_which_service_it_cannot_reach(tmp_path: Path) -> None:
    """At once, not after Celery's hundred connection retries, each logged."""
    services()
    down = {
        "broker": Broker("amqp://guest:guest@127.0.0.1:1//", redis=REDIS),
        "redis": Broker(AMQP, redis="redis://127.0.0.1:1/0", prefix=f"t{uuid.uuid4().hex}"),
    }
    for service, fleet in down.items():
        worker = Worker(single(), db=f"sqlite:///{tmp_path / 's.sqlite'}", broker=fleet)
        try:
            with pytest.raises(ServiceUnavailable) as refused:
                worker.run()
        finally:
            worker.runtime.portal.call(worker.channel.aclose())
            worker.runtime.portal.close()
        assert refused.value.service == service
