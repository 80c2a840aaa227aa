"""Rules a bug could break silently, each stated once (hardening round two: what a mutation test found the suite
did not catch): every window's bounds as the README publishes them, patient tokens stored only as their hash,
and two timepoints of one patient each getting their own invitation."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection

from outcomes import dispatcher, outbox
from outcomes.models import AccessToken, FollowUp, Message, MessageKind
from outcomes.schedule import WINDOWS
from tests import factories

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"
NAMES = {"baseline": "baseline", "3 months": "m3", "6 months": "m6", "12 months": "m12", "24 months": "m24"}


def _readme_windows() -> dict[str, tuple[int, int, int]]:
    rows = re.findall(r"^\| (baseline|\d+ months) \| (-?\d+) to (-?\d+) \| (-?\d+) \|$", README.read_text(), re.M)
    return {NAMES[name]: (int(opens), int(target), int(closes)) for name, opens, closes, target in rows}


def test_every_window_is_the_one_the_readme_publishes_and_the_schedule_uses_it(patient_a):
    published = _readme_windows()
    assert published == {w.timepoint: (w.opens, w.target, w.closes) for w in WINDOWS}
    index = datetime(2026, 1, 15, tzinfo=UTC).date()
    episode = factories.EpisodeFactory(patient=patient_a, index_date=index)
    for fu in FollowUp.objects.filter(episode=episode):
        opens, target, closes = published[fu.timepoint]
        assert (fu.window_opens, fu.target_date, fu.window_closes) == (
            index + timedelta(days=opens),
            index + timedelta(days=target),
            index + timedelta(days=closes),
        ), fu.timepoint


def _send(now: datetime) -> list:
    before = len(mail.outbox)
    for message_id in dispatcher.dispatch(now=now).due:
        outbox.message_send(message_id=message_id, now=now)
    return mail.outbox[before:]


def test_a_personal_link_is_stored_only_as_its_hash(patient_a, time_machine):
    now = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
    time_machine.move_to(now, tick=False)
    factories.EpisodeFactory(patient=patient_a, index_date=now.date() - timedelta(days=100))
    (email,) = _send(now)
    raw = re.search(r"/p/(?!optout)([\w-]+)/", email.body).group(1)
    token = AccessToken.objects.get(patient=patient_a)
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    # The raw token is in no column of any table (messages, tokens, drafts, history, sessions...).
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [c.name for c in connection.introspection.get_table_description(cursor, table)]
            for column in columns:
                qn = connection.ops.quote_name
                cursor.execute(
                    f"SELECT COUNT(*) FROM {qn(table)} WHERE CAST({qn(column)} AS TEXT) LIKE %s",  # noqa: S608
                    [f"%{raw}%"],
                )
                assert cursor.fetchone()[0] == 0, f"the raw token is stored in {table}.{column}"


def test_two_timepoints_of_one_patient_each_get_their_invitation(patient_a, time_machine):
    index = datetime(2026, 1, 5, tzinfo=UTC).date()
    at_3_months = datetime.combine(index + timedelta(days=70), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    time_machine.move_to(at_3_months, tick=False)
    factories.EpisodeFactory(patient=patient_a, index_date=index)
    assert len(_send(at_3_months)) == 1
    at_6_months = at_3_months + timedelta(days=100)  # day 170: the 6-month window is open, the 3-month closed
    time_machine.move_to(at_6_months, tick=False)
    sent = _send(at_6_months)
    assert len(sent) == 1, "the 6-month invitation went out"
    invitations = Message.objects.filter(patient=patient_a, kind=MessageKind.INVITATION)
    covered = sorted(invitations.values_list("items__follow_up__timepoint", flat=True))
    assert covered == ["m3", "m6"]
