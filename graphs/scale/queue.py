"""The Celery application of a fleet: its turn queue, its dead-letter queue, and enqueueing.

Delivery is at-least-once: a turn is acknowledged to RabbitMQ only after it ran (late acks),
a turn whose worker died is delivered again (`task_reject_on_worker_lost`, and RabbitMQ's
requeue of a closed connection's unacknowledged messages), and a publish returns only once
RabbitMQ confirmed it (publisher confirms), so a caller told "queued" can rely on it.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

from accord.graphs.errors import ServiceUnavailable
from accord.graphs.scale.extra import need, shown

TASK = "accord.turn"
BROKER_START = "rabbitmq-server -detached"


def queues(prefix: str) -> tuple[str, str]:
    """The names of the fleet's turn queue and dead-letter queue."""
    return f"{prefix}.turns", f"{prefix}.dead"


def application(broker: str, prefix: str) -> Any:
    """The fleet's Celery application (no result backend: replies stream through Redis)."""
    celery = need("celery")
    app = celery.Celery(prefix, broker=broker, set_as_current=False)
    turns, _ = queues(prefix)
    app.conf.update(
        task_default_queue=turns,
        task_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A worker takes only the turns it has room for; the rest wait for any worker.
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        broker_transport_options={"confirm_publish": True},
        broker_connection_timeout=3,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_cancel_long_running_tasks_on_connection_loss=True,
    )
    return app


class Publisher:
    """Publishes turns over connections of its own (at most one publish on each at a time),
    so closing it closes them all; Celery's shared producer pool would leave them open."""

    def __init__(self, app: Any, broker: str) -> None:
        self.app, self.broker = app, broker
        self._idle: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._made: list[Any] = []
        self._lock = threading.Lock()

    def publish(self, payload: dict[str, Any]) -> None:
        """Publishes one turn and returns once RabbitMQ confirmed it.

        Raises:
            ServiceUnavailable: RabbitMQ could not be reached or refused it; nothing was queued.
        """
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = self.app.connection_for_write()
            with self._lock:
                self._made.append(connection)
        try:
            # The headers name the turn, not its text: Celery would otherwise write the
            # message into them (and its logs), and spend some 4% of the caller's CPU on it.
            shown_as = f"[turn {payload.get('message_id')}]"
            self.app.send_task(
                TASK,
                args=[payload],
                retry=False,
                connection=connection,
                argsrepr=shown_as,
                kwargsrepr="{}",
            )
        except broker_errors() as error:
            connection.release()  # broken: the next publish opens a new one
            raise ServiceUnavailable("broker", shown(self.broker), error, BROKER_START) from None
        self._idle.put(connection)

    def close(self) -> None:
        """Closes every connection it opened."""
        with self._lock:
            made, self._made = self._made, []
        for connection in made:
            connection.release()
        self.app.close()


def dead_letter(app: Any, broker: str, prefix: str, payload: dict[str, Any]) -> None:
    """Moves a turn that failed on every attempt to the dead-letter queue (kept, not run)."""
    kombu = need("kombu")
    _, dead = queues(prefix)
    try:
        with app.producer_or_acquire() as producer:
            producer.publish(
                payload,
                exchange="",
                routing_key=dead,
                declare=[kombu.Queue(dead, durable=True)],
                serializer="json",
                delivery_mode=2,
                retry=False,
            )
    except broker_errors() as error:
        raise ServiceUnavailable("broker", shown(broker), error, BROKER_START) from None


def broker_errors() -> tuple[type[BaseException], ...]:
    """The errors of an unreachable RabbitMQ."""
    exceptions = need("kombu.exceptions")
    return (exceptions.OperationalError, ConnectionError, OSError)
