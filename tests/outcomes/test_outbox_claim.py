"""The outbox's claim (outcomes/outbox.py `_claim`): a message is taken for sending once, when it is pending and
due (up to a second ahead, the batch's own resolution), and taking it counts an attempt. Both of its SQL forms are
held: UPDATE ... RETURNING (PostgreSQL, SQLite 3.35 and later) and the row-at-a-time form for a database without
RETURNING (SQLite 3.31 to 3.34, which Django 5.2 still supports)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from outcomes.models import Message
from outcomes.outbox import _claim

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["returning", "row by row"])
def claim(request, monkeypatch):
    """`_claim` in one form: the feature flag is switched for the claim alone (inserting needs the real one)."""
    if request.param == "returning" and not connection.features.can_return_columns_from_insert:
        pytest.skip("this database has no UPDATE ... RETURNING")

    def run(ids: list[int], now: datetime) -> list[int]:
        with monkeypatch.context() as patched:
            if request.param == "row by row":
                patched.setattr(connection.features, "can_return_columns_from_insert", False)
            return _claim(ids, now)

    return run


def message(patient, n: int, *, due_in: float = -60, status: str = "pending", attempts: int = 2) -> Message:
    return Message.objects.create(
        kind="invitation",
        site=patient.site,
        patient=patient,
        dedupe_key=f"claim-{n}",
        status=status,
        attempts=attempts,
        next_attempt_at=NOW + timedelta(seconds=due_in),
    )


def test_a_due_pending_message_is_claimed_once_and_counts_an_attempt(patient_a, claim):
    # Due now (a first try), and due within the batch's second (its fourth try).
    due = [message(patient_a, 1, attempts=0), message(patient_a, 2, due_in=0.5, attempts=3)]
    later = message(patient_a, 3, due_in=1.5)
    sending = message(patient_a, 4, status="sending")
    sent = message(patient_a, 5, status="sent")
    ids = [m.pk for m in (sent, later, *due, sending)]
    assert claim(ids, NOW) == sorted(m.pk for m in due)
    for m, attempts in zip(due, (1, 4), strict=True):
        m.refresh_from_db()
        assert (m.status, m.attempts, m.claimed_at) == ("sending", attempts, NOW)
    for m, status in ((later, "pending"), (sending, "sending"), (sent, "sent")):
        m.refresh_from_db()
        assert (m.status, m.attempts, m.claimed_at) == (status, 2, None)
    assert claim(ids, NOW) == []  # a second batch finds nothing left to take
    assert claim([], NOW) == []


def test_a_message_not_asked_for_is_not_claimed(patient_a, claim):
    asked, other = message(patient_a, 1), message(patient_a, 2)
    assert claim([asked.pk], NOW) == [asked.pk]
    other.refresh_from_db()
    assert other.status == "pending"
