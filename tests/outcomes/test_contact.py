"""Invitations, reminders, the call list and the digest: each email once, stopped the moment it is pointless."""

from __future__ import annotations

import re
import smtplib
import threading
from datetime import UTC, date, datetime, timedelta
from unittest import mock

import pytest
from celery import current_app
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocMem
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from outcomes import contact, dispatcher, outbox, queue, services, tasks
from outcomes.models import AccessToken, EmailOptOut, FollowUpSettings, Message, MessageItem, MessageStatus
from tests import factories
from tests.outcomes import flaky_mail
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db


def run_pass(now=None):
    """What `followups_run` does: one dispatcher pass, then send what is due."""
    now = now or datetime.now(tz=UTC)
    report = dispatcher.dispatch(now=now)
    results = [outbox.message_send(message_id=m, now=now) for m in report.due]
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
    report = dispatcher.dispatch(now=start + timedelta(days=7, minutes=1))  # reminder queued, not yet sent
    assert report.reminders == 1
    services.response_submit(follow_up=open_m3, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
    services.response_submit(follow_up=open_m3, instrument="vas", answers={"vas_mm": 20}, by=alice, mode="phone")
    results = [outbox.message_send(message_id=m, now=start + timedelta(days=7, minutes=2)) for m in report.due]
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
    report = dispatcher.dispatch(now=datetime.now(tz=UTC))
    (message_id,) = report.due
    assert outbox.message_send(message_id=message_id) == "sent"
    assert outbox.message_send(message_id=message_id) == "skipped"  # redelivered task
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
    assert "invitations queued (emails and texts): 1" in out.getvalue() and "sent here: sent 1" in out.getvalue()
    out = StringIO()
    call_command("followups_run", stdout=out)
    assert "invitations queued (emails and texts): 0" in out.getvalue()
    with pytest.raises(Exception, match="ISO 8601"):
        call_command("followups_run", "--now", "next tuesday")


# Sending in batches -----------------------------------------------------------------------------------------


class ScriptedServer:
    """A mail server for batch tests: counts connections; per address it refuses, drops the connection, crashes
    the worker or runs a callback before accepting (each once)."""

    def __init__(self) -> None:
        self.connections = 0
        self.down = False
        self.on: dict[str, object] = {}

    def connection(self) -> LocMem:
        server = self

        class Connection(LocMem):
            def open(self) -> None:
                if server.down:
                    raise ConnectionRefusedError("connection refused")
                server.connections += 1

            def send_messages(self, messages):
                for message in messages:
                    action = server.on.pop(message.to[0], None)
                    if action == "refuse":
                        raise smtplib.SMTPRecipientsRefused({message.to[0]: (550, b"no such user")})
                    if action == "drop":
                        raise smtplib.SMTPServerDisconnected("connection lost")
                    if action == "crash":
                        raise RuntimeError("worker killed")
                    if callable(action):
                        action()
                return super().send_messages(messages)

        return Connection()


@pytest.fixture
def smtp(monkeypatch) -> ScriptedServer:
    server = ScriptedServer()
    monkeypatch.setattr(outbox, "get_connection", server.connection)
    return server


def due_invitations(site, n: int) -> list[Message]:
    """n patients whose 3-month window is open, each with a queued invitation (in id order)."""
    for _ in range(n):
        patient = factories.PatientFactory(site=site)
        factories.EpisodeFactory(patient=patient, index_date=date.today() - timedelta(days=100))
    dispatcher.dispatch(now=datetime.now(tz=UTC))
    return list(Message.objects.select_related("patient").order_by("pk"))


def statuses(messages) -> list[str]:
    return [Message.objects.get(pk=m.pk).status for m in messages]


def test_a_batch_goes_over_one_connection_with_a_few_queries_per_message(site_a, smtp):
    messages = due_invitations(site_a, 8)
    ids = [m.pk for m in messages]
    with CaptureQueriesContext(connection) as two:
        assert outbox.messages_send(message_ids=ids[:2]) == {"sent": 2}
    with CaptureQueriesContext(connection) as six:
        assert outbox.messages_send(message_ids=ids[2:] + ids[:2]) == {"sent": 6, "skipped": 2}
    assert smtp.connections == 2 and len(mail.outbox) == 8
    assert len({e.to[0] for e in mail.outbox}) == 8
    assert len(six) - len(two) <= 4  # the "sent" mark after each message, no N+1
    assert AccessToken.objects.count() == 8 and all(t.follow_ups.count() == 1 for t in AccessToken.objects.all())
    assert set(statuses(messages)) == {"sent"}
    assert len({link_in(e) for e in mail.outbox}) == 8


def test_an_opt_out_or_an_answer_during_a_batch_stops_the_later_messages(site_a, alice, smtp):
    k = outbox.RECHECK_EVERY  # messages re-checked together: the opt-out lands before the next group's check
    messages = due_invitations(site_a, k + 3)
    first, opts_out, answers = messages[0], messages[k], messages[k + 1]

    def meanwhile():
        contact.patient_opt_out(patient=opts_out.patient, source="link")
        fu = MessageItem.objects.get(message=answers).follow_up
        services.response_submit(follow_up=fu, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
        services.response_submit(follow_up=fu, instrument="vas", answers={"vas_mm": 20}, by=alice, mode="phone")

    smtp.on[first.to_email] = meanwhile  # runs while the first message is with the server
    counts = outbox.messages_send(message_ids=[m.pk for m in messages])
    assert counts == {"sent": k + 1, "cancelled": 2}
    assert {e.to[0] for e in mail.outbox} == {m.to_email for m in messages} - {opts_out.to_email, answers.to_email}
    assert statuses([first, opts_out, answers, messages[-1]]) == ["sent", "cancelled", "cancelled", "sent"]
    assert "emailed" in Message.objects.get(pk=opts_out.pk).last_error
    assert "answered" in Message.objects.get(pk=answers.pk).last_error
    assert AccessToken.objects.count() == k + 1  # the cancelled emails' links were never sent: none kept


def test_a_refused_recipient_fails_only_its_own_message(site_a, smtp):
    messages = due_invitations(site_a, 3)
    smtp.on[messages[1].to_email] = "refuse"
    assert outbox.messages_send(message_ids=[m.pk for m in messages]) == {"sent": 2, "failed": 1}
    assert statuses(messages) == ["sent", "failed", "sent"]
    assert "refused by the mail server" in Message.objects.get(pk=messages[1].pk).last_error
    assert smtp.connections == 1  # the server reset the session; the batch went on over the same connection


def test_a_dropped_connection_reconnects_once_then_puts_the_rest_back_and_nothing_is_sent_twice(site_a, smtp):
    messages = due_invitations(site_a, 6)
    ids = [m.pk for m in messages]
    start = datetime.now(tz=UTC)
    smtp.on[messages[1].to_email] = "drop"
    smtp.on[messages[3].to_email] = "drop"
    counts = outbox.messages_send(message_ids=ids, now=start)
    assert counts == {"sent": 2, "retry": 2, "requeued": 2}
    assert statuses(messages) == ["sent", "pending", "sent", "pending", "pending", "pending"]
    rows = {m.pk: m for m in Message.objects.filter(pk__in=ids)}
    # The dropped ones count an attempt and back off, as alone; the rest were never tried: due now, no attempt.
    assert [rows[pk].attempts for pk in ids] == [1, 1, 1, 1, 0, 0]
    assert rows[ids[1]].next_attempt_at == start + timedelta(minutes=1)
    assert rows[ids[4]].next_attempt_at <= start and rows[ids[4]].last_error == ""
    assert smtp.connections == 2
    assert AccessToken.objects.count() == 4  # the requeued ones' links were never sent: dropped
    assert outbox.messages_send(message_ids=ids, now=start) == {"sent": 2, "skipped": 4}
    assert outbox.messages_send(message_ids=ids, now=start + timedelta(minutes=2)) == {"sent": 2, "skipped": 4}
    recipients = [e.to[0] for e in mail.outbox]
    assert sorted(recipients) == sorted(m.to_email for m in messages)  # each exactly once
    assert set(statuses(messages)) == {"sent"}


def test_a_worker_killed_mid_batch_leaves_the_message_in_flight_to_the_lease_and_puts_back_the_rest(site_a, smtp):
    messages = due_invitations(site_a, 4)
    start = datetime.now(tz=UTC)
    smtp.on[messages[1].to_email] = "crash"
    with pytest.raises(RuntimeError):
        outbox.messages_send(message_ids=[m.pk for m in messages], now=start)
    # The server may have accepted the second one: only the lease may retry it. The others were never tried.
    assert statuses(messages) == ["sent", "sending", "pending", "pending"]
    assert outbox.messages_send(message_ids=[m.pk for m in messages], now=start) == {"sent": 2, "skipped": 2}
    assert dispatcher.dispatch(now=start + outbox.SENDING_LEASE + timedelta(minutes=1)).requeued == 1
    assert outbox.message_send(message_id=messages[1].pk, now=start + outbox.SENDING_LEASE) == "sent"
    assert len(mail.outbox) == 4


def test_a_mail_server_that_cannot_be_reached_backs_off_each_message_as_alone(site_a, smtp):
    messages = due_invitations(site_a, 3)
    start = datetime.now(tz=UTC)
    smtp.down = True
    assert outbox.messages_send(message_ids=[m.pk for m in messages], now=start) == {"retry": 3}
    rows = Message.objects.filter(pk__in=[m.pk for m in messages])
    assert {(m.status, m.attempts, m.next_attempt_at) for m in rows} == {("pending", 1, start + timedelta(minutes=1))}
    assert "connection refused" in rows[0].last_error and AccessToken.objects.count() == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL; CI runs this there")
def test_two_batches_over_the_same_messages_at_once_send_each_exactly_once(site_a):
    messages = due_invitations(site_a, 40)
    ids = [m.pk for m in messages]
    barrier = threading.Barrier(2)
    counts, errors = [], []

    def sender(order):
        try:
            barrier.wait()
            counts.append(outbox.messages_send(message_ids=order))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender, args=(o,)) for o in (ids, ids[::-1])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert sum(c.get("sent", 0) for c in counts) == 40 and sum(c.get("skipped", 0) for c in counts) == 40
    assert sorted(e.to[0] for e in mail.outbox) == sorted(m.to_email for m in messages)
    assert Message.objects.filter(status="sent", attempts=1).count() == 40


def test_the_dispatcher_hands_due_messages_out_in_batches_and_a_staff_resend_goes_at_once(
    site_a, django_capture_on_commit_callbacks
):
    for _ in range(5):
        patient = factories.PatientFactory(site=site_a)
        factories.EpisodeFactory(patient=patient, index_date=date.today() - timedelta(days=100))
    with (
        mock.patch.object(tasks, "SEND_BATCH", 2),
        mock.patch.object(tasks.send_messages, "delay") as batches,
        mock.patch.object(current_app, "send_task") as single,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert tasks.dispatch_follow_ups()["due"] == 5
    ids = sorted(Message.objects.values_list("pk", flat=True))
    handed = [c.args[0] for c in batches.call_args_list]
    assert [len(b) for b in handed] == [2, 2, 1] and sorted(sum(handed, [])) == ids
    single.assert_not_called()  # no task per new message as well: each goes out once, in a batch
    assert tasks.send_messages(ids) == {"sent": 5}
    fu = MessageItem.objects.first().follow_up
    with (
        mock.patch.object(current_app, "send_task") as single,
        django_capture_on_commit_callbacks(execute=True),
    ):
        resent = dispatcher.message_resend(follow_up=fu)
    # Queued by name (outcomes.queue), the very task the worker registers.
    single.assert_called_once_with(queue.SEND_MESSAGE, args=[resent.pk])
    assert tasks.send_message.name == queue.SEND_MESSAGE and queue.SEND_MESSAGE in current_app.tasks
    assert tasks.send_message(resent.pk) == "sent" and len(mail.outbox) == 6
