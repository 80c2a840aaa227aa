"""Fault: a real Celery worker killed with SIGKILL while the text-message provider holds a text it was handed
(PostgreSQL and Redis), as tests/faults/test_worker_killed.py does for email: every text delivered exactly once,
late rather than lost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from outcomes import dispatcher, outbox
from outcomes.models import FollowUp, Message, MessageStatus
from tests import factories
from tests.faults.conftest import needs_postgres_and_redis, wait_until
from tests.faults.text_sink import delivered

pytestmark = [needs_postgres_and_redis, pytest.mark.django_db(transaction=True)]


def midday_zone() -> str:
    """A time zone where it is about noon now, so no text waits for the end of quiet hours whenever CI runs."""
    offset = 12 - datetime.now(tz=UTC).hour  # local = UTC + offset
    offset = offset - 24 if offset > 14 else offset + 24 if offset < -12 else offset
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc/GMT-3 is UTC+3


@pytest.fixture
def due_texts(transactional_db) -> dict[str, list[int]]:
    site = factories.SiteFactory(code="TXT", time_zone=midday_zone(), country="KR")
    work: dict[str, list[int]] = {}
    for i in range(4):
        patient = factories.PatientFactory(
            site=site, contact_channel="sms", identity__mobile=f"+82100000{i:04d}", identity__email=""
        )
        factories.EpisodeFactory(patient=patient, index_date=date.today() - timedelta(days=100))
        work[patient.identity.mobile] = list(
            FollowUp.objects.filter(episode__patient=patient, status__in=["open", "partial"]).values_list(
                "pk", flat=True
            )
        )
    return work


def test_a_worker_killed_while_the_provider_holds_a_text_loses_none_and_sends_none_twice(
    due_texts, start_worker, tmp_path
):
    texts = tmp_path / "texts"
    (texts / "hold").touch()
    numbers = sorted(due_texts)

    first = start_worker()
    first.run()
    wait_until(lambda: (texts / "in_send").exists(), 15, lambda: f"no text reached the provider:\n{first.tail()}")
    first.kill()
    (texts / "release").touch()

    statuses = dict(Message.objects.values_list("to_phone", "status"))
    assert sorted(statuses) == numbers
    assert set(statuses.values()) <= {MessageStatus.SENDING, MessageStatus.PENDING}, statuses
    stalled = sorted(n for n, s in statuses.items() if s == MessageStatus.SENDING)
    assert stalled and delivered(texts) == []

    second = start_worker()
    second.run()
    second.run()
    assert sorted(delivered(texts)) == sorted(n for n, s in statuses.items() if s == MessageStatus.PENDING)

    report = dispatcher.dispatch(now=timezone.now() + outbox.SENDING_LEASE + timedelta(minutes=1))
    assert report.requeued == len(stalled)
    second.run()
    wait_until(lambda: len(delivered(texts)) == len(numbers), 15, lambda: f"delivered {delivered(texts)}")
    second.run()

    assert sorted(delivered(texts)) == numbers  # each exactly once
    assert set(Message.objects.values_list("status", flat=True)) == {MessageStatus.SENT}
    for pks in due_texts.values():
        assert FollowUp.objects.filter(pk__in=pks, invited_at__isnull=False).count() == len(pks)
