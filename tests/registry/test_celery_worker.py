"""End to end: a real Celery worker, on the configured broker, runs a task queued with .delay().

The broker is whatever the settings say: memory:// by default, Redis when CELERY_BROKER_URL points at it (CI). The
task uses a queue of its own per run, so a worker of another test run sharing the Redis database cannot take it.
"""

from __future__ import annotations

import threading
import uuid

from celery.contrib.testing.worker import start_worker
from django.conf import settings
from kombu import Exchange, Queue

from project.celery import app

QUEUE = f"test-worker-{uuid.uuid4().hex[:12]}"
received: list[int] = []
done = threading.Event()


class OwnQueueTask(app.Task):
    # Sent to this run's own queue. (The `queue` task option does the same but is deprecated in Celery 5.)
    def apply_async(self, *args, **kwargs):
        kwargs.setdefault("queue", QUEUE)
        return super().apply_async(*args, **kwargs)


@app.task(name="tests.registry.record_number", base=OwnQueueTask)
def record_number(number: int) -> None:
    received.append(number)
    done.set()


def test_worker_runs_a_task_queued_with_delay():
    received.clear()
    done.clear()
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, queues=[QUEUE], shutdown_timeout=10):
            record_number.delay(41)
            assert done.wait(timeout=15), f"no worker ran the task within 15 s on {settings.CELERY_BROKER_URL}"
    finally:
        # Leave nothing behind on a shared broker: the queue and its binding (Celery made both on demand).
        with app.connection_for_write() as conn:
            queue = Queue(QUEUE, Exchange(QUEUE, type="direct"), routing_key=QUEUE)(conn.default_channel)
            queue.declare()
            queue.delete()
    assert received == [41]


def test_the_app_reads_its_broker_from_django_settings():
    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    assert app.conf.task_serializer == "json"
    assert app.conf.task_acks_late is True
