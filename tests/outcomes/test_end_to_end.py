"""End to end with a real Celery worker on the configured broker (in-memory here, Redis in CI), and two
dispatchers at once on PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from celery.signals import after_task_publish, task_postrun
from django.core import mail
from django.db import connection
from django.test import Client

from outcomes import dispatcher, outbox, tasks
from outcomes.models import Message, MessageItem, Score
from project.celery import app
from tests import factories
from tests.outcomes.conftest import all_items


def _wait_for(condition, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


class _Tasks:
    """The ids of tasks published and of tasks the worker finished (it runs in this process, so its signals fire
    here): `idle()` once every task sent so far, and any they sent, has run."""

    def __init__(self) -> None:
        self.published: set[str] = set()
        self.finished: set[str] = set()

    def _on_publish(self, sender=None, headers=None, **kwargs) -> None:
        self.published.add((headers or {}).get("id"))

    def _on_finish(self, task_id=None, **kwargs) -> None:
        self.finished.add(task_id)

    def idle(self) -> bool:
        return self.published <= self.finished

    def __enter__(self) -> _Tasks:
        after_task_publish.connect(self._on_publish, weak=False)
        task_postrun.connect(self._on_finish, weak=False)
        return self

    def __exit__(self, *exc) -> None:
        after_task_publish.disconnect(self._on_publish)
        task_postrun.disconnect(self._on_finish)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_invites_the_patient_answers_and_nothing_is_sent_twice(site_a):
    from celery.contrib.testing.worker import start_worker

    today = datetime.now(tz=UTC).date()
    patient = factories.PatientFactory(site=site_a)
    episode = factories.EpisodeFactory(patient=patient, index_date=today - timedelta(days=50))
    m3 = episode.follow_ups.get(timepoint="m3")
    assert m3.status == "scheduled"  # opens in ten days
    later = datetime.combine(m3.window_opens, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    with (
        time_machine.travel(later, tick=True),
        start_worker(app, perform_ping_check=False, pool="solo", loglevel="WARNING", shutdown_timeout=10),
        _Tasks() as worker_tasks,
    ):
        tasks.dispatch_follow_ups.delay()
        assert _wait_for(lambda: len(mail.outbox) == 1), "the worker sent no invitation"
        token = re.search(r"/p/(?!optout)([\w-]+)/", mail.outbox[0].body).group(1)
        client = Client()
        client.get(f"/p/{token}/")
        for number in range(1, 6):  # KOOS, one subscale a page (each page takes its own items)
            client.post(f"/p/q/{number}/", {f"item_{c}": "1" for c in all_items("koos", 1)})
        client.post("/p/q/6/", {"item_vas_mm": "30"})
        assert "Thank you" in client.post("/p/q/summary/", follow=True).content.decode()
        report = dispatcher.dispatch()
        assert (report.invitations, report.reminders, report.due) == (0, 0, [])
        again = tasks.dispatch_follow_ups.delay()
        # The worker ran that dispatcher and whatever it queued (nothing, if all is well) before we look.
        assert _wait_for(lambda: again.id in worker_tasks.finished and worker_tasks.idle()), "the worker is stuck"
    assert len(mail.outbox) == 1
    assert Score.objects.filter(follow_up=m3, instrument="koos", key="pain").get().value == 75.0
    assert Message.objects.get().status == "sent"


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; CI runs this there")
def test_two_dispatchers_and_two_senders_at_once_send_each_email_exactly_once(site_a):
    today = datetime.now(tz=UTC).date()
    episodes = [
        factories.EpisodeFactory(patient=factories.PatientFactory(site=site_a), index_date=today - timedelta(days=100))
        for _ in range(30)
    ]
    now = datetime.now(tz=UTC)
    barrier = threading.Barrier(2)
    reports, errors = [], []

    def dispatch_and_send():
        try:
            barrier.wait()
            reports.append(dispatcher.dispatch(now=now))
            barrier.wait()
            for message_id in Message.objects.values_list("pk", flat=True):
                outbox.message_send(message_id=message_id, now=now)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=dispatch_and_send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(r.invitations for r in reports) == 30
    assert MessageItem.objects.count() == 30 and Message.objects.filter(status="sent").count() == 30
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert len(recipients) == 30 and len(set(recipients)) == 30
    assert {e.follow_ups.get(timepoint="m3").invited_at is not None for e in episodes} == {True}
