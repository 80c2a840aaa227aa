"""Invitations, reminders, the call list and the digest: each email once, stopped the moment it is pointless."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.test import override_settings

from outcomes import contact, services
from outcomes.models import EmailOptOut, FollowUpSettings, Message, MessageItem, MessageStatus
from tests import factories
from tests.outcomes import flaky_mail
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


def run_pass(now=None):
    """What `followups_run` does: one dispatcher pass, then send what is due."""
    now = now or datetime.now(tz=UTC)
    report = contact.dispatch(now=now)
    results = [contact.message_send(message_id=m, now=now) for m in report.due]
    return report, results


def link_in(message) -> str:
    return re.search(r"http://\S+/p/(?!optout)(\S+?)/", message.body).group(1)


@pytest.fixture
def open_m3(knee_episode):
    return knee_episode.follow_ups.get(timepoint="m3")


def test_an_open_window_sends_one_invitation_and_a_second_pass_nothing(open_m3, patient_a):
    report, results = run_pass()
    assert report.invitations == 1 and results == ["sent"]
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [patient_a.identity.email]
    assert "Site A clinic" in email.subject
    assert email.extra_headers["List-Unsubscribe"].startswith("<http://")
    assert email.reply_to == [patient_a.site.contact_email]
    html = email.alternatives[0][0]
    assert "Answer the questions" in html
    # No clinical data and nothing identifying beyond the address it goes to.
    for text in (email.body, html, email.subject):
        assert "knee" not in text.lower() and patient_a.identity.family_name not in text
    report, results = run_pass()
    assert (report.invitations, results, len(mail.outbox)) == (0, [], 1)


def test_several_episodes_due_together_get_one_email(patient_a, today):
    left = factories.EpisodeFactory(patient=patient_a, side="left", index_date=today - timedelta(days=100))
    right = factories.EpisodeFactory(patient=patient_a, side="right", index_date=today - timedelta(days=100))
    run_pass()
    assert len(mail.outbox) == 1
    covered = set(MessageItem.objects.values_list("follow_up__episode", flat=True))
    assert covered == {left.pk, right.pk}


def test_reminders_on_day_7_and_14_then_the_call_list_and_one_digest(patient_a, alice, today):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=today - timedelta(days=60))  # window opens today
    open_m3 = episode.follow_ups.get(timepoint="m3")
    start = datetime.now(tz=UTC).replace(hour=9)
    run_pass(start)
    for day, expected in ((3, 1), (7, 2), (10, 2), (14, 3), (20, 3)):
        run_pass(start + timedelta(days=day, minutes=1))
        assert len(mail.outbox) == expected, f"day {day}"
    assert "Reminder" in mail.outbox[1].subject
    open_m3.refresh_from_db()
    assert open_m3.reminders_sent == 2 and open_m3.call_list_since is None
    report, _ = run_pass(start + timedelta(days=21, hours=1))
    open_m3.refresh_from_db()
    assert report.call_listed == 1 and open_m3.call_list_since is not None
    digests = [m for m in mail.outbox if m.to == [alice.email]]
    assert len(digests) == 1 and "1 follow-up to call" in digests[0].subject
    assert "worklist" in digests[0].body
    run_pass(start + timedelta(days=21, hours=3))
    assert len([m for m in mail.outbox if m.to == [alice.email]]) == 1  # one digest a day


def test_answering_stops_a_reminder_already_queued(open_m3, alice):
    start = datetime.now(tz=UTC)
    run_pass(start)
    report = contact.dispatch(now=start + timedelta(days=7, minutes=1))  # reminder queued, not yet sent
    assert report.reminders == 1
    services.response_submit(follow_up=open_m3, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
    services.response_submit(follow_up=open_m3, instrument="vas", answers={"vas_mm": 20}, by=alice, mode="phone")
    results = [contact.message_send(message_id=m, now=start + timedelta(days=7, minutes=2)) for m in report.due]
    assert results == ["cancelled"] and len(mail.outbox) == 1
    run_pass(start + timedelta(days=14, minutes=1))
    assert len(mail.outbox) == 1


def test_withdrawal_and_opt_out_stop_contact(open_m3, patient_a, today):
    start = datetime.now(tz=UTC)
    run_pass(start)
    contact.patient_opt_out(patient=patient_a, source="staff")
    run_pass(start + timedelta(days=7, minutes=1))
    assert len(mail.outbox) == 1
    open_m3.refresh_from_db()
    assert open_m3.call_list_since is not None  # no more email: staff call instead
    EmailOptOut.objects.all().delete()
    patient_a.withdrawn_on, patient_a.withdrawal_reason = today, "withdrew"
    patient_a.save()
    run_pass(start + timedelta(days=14, minutes=1))
    assert len(mail.outbox) == 1


def test_a_patient_without_email_goes_straight_to_the_call_list(open_m3, patient_a):
    patient_a.identity.email = ""
    patient_a.identity.save()
    report, _ = run_pass()
    open_m3.refresh_from_db()
    assert report.invitations == 0 and report.call_listed == 1 and open_m3.call_list_since is not None
    assert not [m for m in mail.outbox if m.to == [""]]


def test_a_moved_index_date_starts_contact_afresh_for_the_new_window(open_m3, knee_episode):
    start = datetime.now(tz=UTC)
    run_pass(start)
    knee_episode.index_date = knee_episode.index_date + timedelta(days=50)  # 3-month window not open yet
    knee_episode.save()
    open_m3.refresh_from_db()
    assert (open_m3.status, open_m3.contact_round, open_m3.invited_at) == ("scheduled", 2, None)
    run_pass(start + timedelta(days=7, minutes=1))
    assert len(mail.outbox) == 1  # no reminder for a window that is not open
    reopened = datetime.combine(open_m3.window_opens, datetime.min.time(), tzinfo=UTC) + timedelta(hours=12)
    run_pass(reopened)
    assert len(mail.outbox) == 2 and "few questions" in mail.outbox[1].subject  # a new invitation


@override_settings(EMAIL_BACKEND="tests.outcomes.flaky_mail.FlakyBackend")
def test_an_smtp_failure_is_retried_with_backoff_and_sent_once(open_m3):
    flaky_mail.FAIL_NEXT[0] = 2
    start = datetime.now(tz=UTC)
    _, results = run_pass(start)
    assert results == ["retry"] and len(mail.outbox) == 0
    message = Message.objects.get()
    assert message.status == MessageStatus.PENDING and "connection lost" in message.last_error
    assert message.next_attempt_at == start + timedelta(minutes=1)
    _, results = run_pass(start + timedelta(seconds=30))
    assert results == []  # not yet due: no hammering
    _, results = run_pass(start + timedelta(minutes=1, seconds=1))
    assert results == ["retry"]
    assert Message.objects.get().next_attempt_at == start + timedelta(minutes=1, seconds=1) + timedelta(minutes=2)
    _, results = run_pass(start + timedelta(minutes=4))
    assert results == ["sent"] and len(mail.outbox) == 1
    assert run_pass(start + timedelta(minutes=30))[1] == []
    assert len(mail.outbox) == 1 and Message.objects.get().attempts == 3


@override_settings(EMAIL_BACKEND="tests.outcomes.flaky_mail.FlakyBackend")
def test_a_refused_address_fails_permanently_and_is_shown_to_staff(open_m3, alice_client):
    flaky_mail.REFUSE[0] = True
    try:
        _, results = run_pass()
    finally:
        flaky_mail.REFUSE[0] = False
    assert results == ["failed"]
    page = alice_client.get("/admin/outcomes/message/?status=failed").content.decode()
    assert "Failed permanently" in page and "refused by the mail server" in page


def test_a_message_is_sent_once_even_if_its_task_runs_twice(open_m3):
    report = contact.dispatch(now=datetime.now(tz=UTC))
    (message_id,) = report.due
    assert contact.message_send(message_id=message_id) == "sent"
    assert contact.message_send(message_id=message_id) == "skipped"  # redelivered task
    assert len(mail.outbox) == 1


def test_staff_can_resend_the_link_from_the_admin(open_m3, alice_client):
    run_pass()
    response = alice_client.post(
        "/admin/outcomes/followup/", {"action": "resend_link", "_selected_action": [open_m3.pk]}
    )
    assert response.status_code == 302
    run_pass()
    assert len(mail.outbox) == 2
    assert link_in(mail.outbox[0]) != link_in(mail.outbox[1])  # a fresh token


def test_site_settings_change_the_reminder_days(open_m3, patient_a):
    FollowUpSettings.objects.create(site=patient_a.site, reminder_days="3", call_after_days=5)
    start = datetime.now(tz=UTC)
    run_pass(start)
    run_pass(start + timedelta(days=3, minutes=1))
    assert len(mail.outbox) == 2
    run_pass(start + timedelta(days=5, minutes=1))
    open_m3.refresh_from_db()
    assert open_m3.call_list_since is not None


def test_followups_run_prints_what_it_did(open_m3):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("followups_run", stdout=out)
    assert "invitation emails queued: 1" in out.getvalue() and "sent here: sent 1" in out.getvalue()
    out = StringIO()
    call_command("followups_run", stdout=out)
    assert "invitation emails queued: 0" in out.getvalue()
    with pytest.raises(Exception, match="ISO 8601"):
        call_command("followups_run", "--now", "next tuesday")
