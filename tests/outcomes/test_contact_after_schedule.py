"""What rescheduling does to contact: a personal link follows the windows it covers whichever way the index date
moves, and a cancelled treatment takes the drafts of its own follow-ups with it and no one else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from outcomes import asking, dispatcher, outbox
from outcomes.models import AccessToken, Draft, FollowUp, Message
from registry.services import episode_cancel
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)  # daytime at the site: texts and emails go out at once


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def dispatch_and_send() -> None:
    report = dispatcher.dispatch(now=NOW)
    for message_id in report.due:
        outbox.message_send(message_id=message_id, now=NOW)


def expected_expiry(token: AccessToken) -> datetime:
    last_day = max(fu.window_closes for fu in FollowUp.objects.filter(access_tokens=token))
    return asking.link_expiry(token.patient.site, last_day)


def test_a_link_follows_its_windows_when_the_index_date_moves_later_then_earlier(patient_a):
    episode = factories.EpisodeFactory(
        patient=patient_a, joint="knee", side="left", index_date=NOW.date() - timedelta(days=100)
    )
    # A second treatment whose 3-month window closes ten days sooner: the link lasts for the later window.
    other = factories.EpisodeFactory(
        patient=patient_a, joint="knee", side="right", index_date=NOW.date() - timedelta(days=110)
    )
    dispatch_and_send()
    token = AccessToken.objects.get()
    covered = FollowUp.objects.filter(access_tokens=token)
    assert {fu.episode_id for fu in covered} == {episode.pk, other.pk}
    first = token.expires_at
    assert first == expected_expiry(token)
    assert first == asking.link_expiry(patient_a.site, episode.follow_ups.get(timepoint="m3").window_closes)
    for shift, reason in ((10, "treatment was ten days later"), (-15, "corrected from the clinic notes")):
        episode.index_date += timedelta(days=shift)
        episode._change_reason = reason
        episode.save()
        token.refresh_from_db()
        assert token.expires_at == expected_expiry(token), shift
    # Net five days earlier: the link ends five days earlier than it first did.
    assert token.expires_at == first - timedelta(days=5)


def test_cancelling_a_treatment_deletes_the_drafts_of_its_follow_ups_and_keeps_the_others(patient_a, alice):
    treated = factories.EpisodeFactory(
        patient=patient_a, joint="knee", side="left", index_date=NOW.date() - timedelta(days=100)
    )
    planned = factories.EpisodeFactory(
        patient=patient_a, joint="knee", side="right", status="planned", index_date=NOW.date() + timedelta(days=14)
    )
    dispatch_and_send()
    token = AccessToken.objects.get()
    open_of = {ep.pk: FollowUp.objects.filter(episode=ep, access_tokens=token).first() for ep in (treated, planned)}
    assert all(open_of.values()), open_of
    for fu in open_of.values():
        Draft.objects.create(token=token, follow_up=fu, instrument="koos", answers={"p1": 2}, pages_done=[1])
    episode_cancel(episode=planned, reason="patient chose surgery", by=alice)
    assert list(Draft.objects.values_list("follow_up", flat=True)) == [open_of[treated.pk].pk]


def test_a_window_the_move_closes_keeps_its_draft_and_moving_back_reopens_it(patient_a):
    episode = factories.EpisodeFactory(
        patient=patient_a, joint="knee", side="left", index_date=NOW.date() - timedelta(days=100)
    )
    dispatch_and_send()
    token = AccessToken.objects.get()
    m3 = episode.follow_ups.get(timepoint="m3")
    Draft.objects.create(token=token, follow_up=m3, instrument="koos", answers={"p1": 2}, pages_done=[1])
    FollowUp.objects.filter(pk=m3.pk).update(reminders_sent=2)
    m3.refresh_from_db()
    round_before = m3.contact_round
    episode.index_date -= timedelta(days=40)  # entered a month too late: the 3-month window has closed
    episode._change_reason = "date corrected"
    episode.save()
    m3.refresh_from_db()
    assert m3.status == "missed"
    assert Draft.objects.filter(follow_up=m3).count() == 1
    # Contact starts afresh for the window as it now stands: no invitation, no reminders, a new round.
    assert (m3.invited_at, m3.reminders_sent, m3.contact_round) == (None, 0, round_before + 1)
    episode.index_date += timedelta(days=40)
    episode._change_reason = "the first date was right"
    episode.save()
    m3.refresh_from_db()
    assert m3.status == "open" and Draft.objects.get(follow_up=m3).answers == {"p1": 2}


def test_a_move_that_keeps_the_window_open_keeps_the_invitation_already_sent(patient_a):
    episode = factories.EpisodeFactory(
        patient=patient_a, joint="knee", side="left", index_date=NOW.date() - timedelta(days=100)
    )
    dispatch_and_send()
    m3 = episode.follow_ups.get(timepoint="m3")
    invited, round_before = m3.invited_at, m3.contact_round
    assert invited is not None
    episode.index_date += timedelta(days=5)  # day 95: the 3-month window is still open
    episode._change_reason = "date corrected by five days"
    episode.save()
    m3.refresh_from_db()
    assert m3.status == "open" and (m3.invited_at, m3.contact_round) == (invited, round_before)
    assert dispatcher.dispatch(now=NOW).invitations == 0


def test_a_withdrawal_cancels_the_invitation_still_waiting_at_once(patient_a):
    factories.EpisodeFactory(patient=patient_a, joint="knee", side="left", index_date=NOW.date() - timedelta(days=100))
    report = dispatcher.dispatch(now=NOW)  # queued, not yet sent
    assert report.invitations == 1
    patient_a.withdrawn_on, patient_a.withdrawal_reason = NOW.date(), "No longer wishes to take part"
    patient_a.save()
    # The outbox says so now, not only when the sender next looks at it.
    assert list(Message.objects.values_list("status", "last_error")) == [
        ("cancelled", "the follow-ups it covered were cancelled or closed")
    ]
