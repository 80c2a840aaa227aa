"""Fault: a real Celery worker killed with SIGKILL in the middle of sending an invitation (PostgreSQL and Redis).

The SMTP sink holds the first message inside DATA: its content has arrived, no answer has been given. The worker's
whole process group is then killed, as when a node dies. The message it was sending stays claimed ("sending"), and
so do the others its batch had claimed; nothing was delivered. A fresh worker sends whatever was still pending;
once the sending lease has run out the dispatcher puts the stalled ones back, and they are sent too: every
invitation delivered exactly once, late rather than lost.

The worker uses the solo pool: the task runs in the process that is killed (with prefork, killing only a child
would test Celery's reject-on-worker-lost redelivery instead, which the claim in outcomes.contact covers in
tests/outcomes/test_contact.py), and one task at a time makes the queue order, and so the test, deterministic.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from outcomes import dispatcher, outbox
from outcomes.models import Message, MessageStatus
from tests.faults.conftest import (
    assert_everyone_invited_once,
    assert_nothing_half_written,
    needs_postgres_and_redis,
    wait_until,
)

pytestmark = [needs_postgres_and_redis, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_inside_smtp_data_loses_no_invitation_and_sends_none_twice(due_work, smtp_sink, start_worker):
    sink, _ = smtp_sink
    sink.hold_first = True
    patients = len(due_work.emails)

    first = start_worker()
    dispatch_id = first.run()
    assert first.succeeded(dispatch_id), first.tail()
    assert sink.in_data.wait(15), f"no invitation reached SMTP DATA within 15 s:\n{first.tail()}"
    first.kill()
    sink.release.set()  # the held handler now answers a dead client: still not delivered

    # Killed mid-send: nothing delivered, nothing sent, the message being sent (and any other its batch claimed)
    # stays "sending", the rest still pending.
    statuses = dict(Message.objects.values_list("to_email", "status"))
    assert sorted(statuses) == due_work.emails
    assert set(statuses.values()) <= {MessageStatus.SENDING, MessageStatus.PENDING}, statuses
    stalled = sorted(e for e, s in statuses.items() if s == MessageStatus.SENDING)
    assert stalled, "no message was left claimed by the killed worker"
    assert sink.delivered == []
    assert not Message.objects.filter(sent_at__isnull=False).exists()
    assert_nothing_half_written(due_work)

    # A fresh worker sends what was still pending; the stalled ones are under their lease, so nobody sends them.
    second = start_worker()
    second.run()
    second.run()  # in queue order: the sends the first pass queued have run too
    assert sorted(sink.delivered) == sorted(e for e, s in statuses.items() if s == MessageStatus.PENDING)
    assert Message.objects.filter(to_email__in=stalled, status=MessageStatus.SENDING).count() == len(stalled)

    # After the lease the dispatcher puts them back, and the next beat pass on the worker sends them.
    report = dispatcher.dispatch(now=timezone.now() + outbox.SENDING_LEASE + timedelta(minutes=1))
    assert report.requeued == len(stalled)
    second.run()
    wait_until(
        lambda: len(sink.delivered) == patients,
        15,
        lambda: f"delivered {sink.delivered}, expected {patients}; worker log:\n{second.tail()}",
    )
    second.run()  # one more pass in queue order: whatever was still queued has run by now

    assert_everyone_invited_once(due_work, sink.delivered)
    attempts = dict(Message.objects.values_list("to_email", "attempts"))
    assert attempts == {e: 2 if e in stalled else 1 for e in due_work.emails}  # the killed claim counted once
