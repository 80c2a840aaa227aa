"""Fault: the database restarts while a real Celery worker is in the middle of a dispatcher pass (PostgreSQL and
Redis).

A real PostgreSQL restart would break every other client of this shared server, so the test does to the test
database exactly what its clients see of one: every connection to it is terminated (pg_terminate_backend) and, for
a while, new connections are refused (ALTER DATABASE ... WITH ALLOW_CONNECTIONS false, then true, from the
`postgres` maintenance database; always re-allowed on the way out).

To be sure the pass is caught in the middle, a second connection holds a lock on outcomes_messageitem: the
dispatcher has claimed the due follow-ups (FOR UPDATE) and written the first invitation's Message row in its
transaction, and waits to write that message's items. That is when the database goes away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from django.db import connection, connections
from django.utils import timezone
from psycopg import sql

from outcomes import dispatcher, outbox
from outcomes.models import FollowUp, FollowUpStatus, Message, MessageItem
from tests.faults.conftest import (
    assert_everyone_invited_once,
    assert_nothing_half_written,
    connect_to_test_db,
    needs_postgres_and_redis,
    wait_until,
)

pytestmark = [needs_postgres_and_redis, pytest.mark.django_db(transaction=True)]


class Outage:
    def __init__(self, maintenance: psycopg.Connection, database: str) -> None:
        self.maintenance, self.database = maintenance, database

    def begin(self) -> int:
        """Refuse new connections, then end every existing one; returns how many were ended."""
        name = sql.Identifier(self.database)
        self.maintenance.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS false").format(name))
        rows = self.maintenance.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            [self.database],
        ).fetchall()
        return len(rows)

    def end(self) -> None:
        name = sql.Identifier(self.database)
        self.maintenance.execute(sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS true").format(name))


@pytest.fixture
def outage(maintenance, transactional_db) -> Iterator[Outage]:
    database = connection.settings_dict["NAME"]
    outage = Outage(maintenance, database)
    try:
        yield outage
    finally:
        outage.end()  # whatever happened, the test database takes connections again before it is flushed
        connections.close_all()  # this process's own connections were ended too (every alias)


def blocked_dispatcher(maintenance: psycopg.Connection, database: str) -> int | None:
    row = maintenance.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
        "AND query LIKE 'INSERT INTO \"outcomes_messageitem\"%%'",
        [database],
    ).fetchone()
    return row[0] if row else None


def test_a_database_restart_mid_pass_leaves_nothing_half_written_and_the_worker_recovers(
    due_work, smtp_sink, start_worker, maintenance, outage
):
    sink, _ = smtp_sink
    database = connection.settings_dict["NAME"]
    worker = start_worker()

    blocker = connect_to_test_db()
    try:
        blocker.execute("LOCK TABLE outcomes_messageitem IN SHARE ROW EXCLUSIVE MODE")
        interrupted = worker.send()
        wait_until(
            lambda: blocked_dispatcher(maintenance, database),
            15,
            lambda: f"the dispatcher never waited to write message items:\n{worker.tail()}",
        )
        # Mid-pass: it holds the row locks of every due follow-up (claimed, not yet committed).
        with connect_to_test_db() as probe:
            free = probe.execute(
                "SELECT id FROM outcomes_followup WHERE id = ANY(%s) FOR UPDATE SKIP LOCKED", [due_work.all_follow_ups]
            ).fetchall()
        assert free == []

        ended = outage.begin()
    finally:
        blocker.close()
    assert ended >= 3  # the dispatcher, the lock holder, this process

    # The interrupted pass fails; a pass while connections are refused fails too. The worker lives on.
    worker.wait_for_task(interrupted)
    assert "OperationalError" in worker.failure(interrupted), worker.tail()
    refused = worker.run()
    assert "is not currently accepting connections" in worker.failure(refused), worker.tail()
    assert worker.proc.poll() is None

    outage.end()
    connection.close()
    # Nothing of the interrupted pass was committed, so nothing is half-written and nobody was emailed.
    assert_nothing_half_written(due_work)
    assert not Message.objects.exists() and not MessageItem.objects.exists()
    assert not FollowUp.objects.filter(pk__in=due_work.all_follow_ups, invited_at__isnull=False).exists()
    assert FollowUp.objects.filter(pk__in=due_work.all_follow_ups, status=FollowUpStatus.OPEN).count() == len(
        due_work.all_follow_ups
    )
    assert sink.delivered == []

    # The same worker process, with the database back, reconnects: the next pass invites everyone once.
    recovered = worker.run()
    assert worker.succeeded(recovered), worker.tail()
    wait_until(
        lambda: len(sink.delivered) == len(due_work.emails),
        15,
        lambda: f"delivered {sink.delivered} after the database came back; worker log:\n{worker.tail()}",
    )
    worker.run()  # a last pass in queue order: whatever was still queued has run by now
    assert_everyone_invited_once(due_work, sink.delivered)
    assert worker.proc.poll() is None


class DropsTheDatabaseAfterAccepting:
    """A sink handler wrapper: right before answering 250 to the first message, the test database goes away
    (every connection ended, new ones refused) and comes back `outage_seconds` later."""

    def __init__(self, sink, outage: Outage, outage_seconds: float) -> None:
        self.accept = sink.handle_DATA  # the sink's own handler, bound before it is replaced by this one
        self.outage, self.outage_seconds = outage, outage_seconds
        self.dropped = threading.Event()

    async def handle_DATA(self, server, session, envelope) -> str:
        if not self.dropped.is_set():
            self.dropped.set()
            self.outage.begin()
            threading.Timer(self.outage_seconds, self.outage.end).start()
        return await self.accept(server, session, envelope)


def test_a_database_restart_right_after_the_server_accepted_an_email_does_not_send_it_twice(
    due_work, smtp_sink, start_worker, maintenance, outage
):
    """The server has the message, the worker is about to mark it sent, and the database is gone for 3 s. The
    worker waits the outage out and records it; it is not sent again once the lease has passed."""
    sink, _ = smtp_sink
    wrapper = DropsTheDatabaseAfterAccepting(sink, outage, outage_seconds=3.0)
    worker = start_worker()
    original, sink.handle_DATA = sink.handle_DATA, wrapper.handle_DATA
    try:
        worker.run(seconds=30)  # dispatch, then the batches are queued behind it on the same worker
        wait_until(wrapper.dropped.is_set, 15, lambda: f"nothing reached the sink:\n{worker.tail()}")
        wait_until(
            lambda: len(sink.delivered) == len(due_work.emails),
            30,
            lambda: f"delivered {sink.delivered}; worker log:\n{worker.tail()}",
        )
        worker.run(seconds=30)  # in queue order: every batch has finished
    finally:
        sink.handle_DATA = original
    connection.close()
    assert "could not be marked sent" in worker.log()  # the outage did hit the mark
    assert not Message.objects.exclude(status="sent").exists(), list(Message.objects.values("status", "last_error"))

    # After the lease, a dispatcher pass finds nothing stalled: nobody gets a second copy.
    report = dispatcher.dispatch(now=timezone.now() + outbox.SENDING_LEASE + timedelta(minutes=1))
    assert report.requeued == 0
    worker.run()
    assert_everyone_invited_once(due_work, sink.delivered)
