"""The patient's journey as a patient lives it: a treatment planned ahead with a baseline asked before it, links
that never arrive dead, bundles that drop what closed, reminders that stop when nothing is left for the patient,
only answerable questionnaires, and the clinic tablet. Time is frozen at a fixed moment (sites on UTC)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from outcomes import dispatcher, outbox, services
from outcomes.checks import check_patient_wording
from outcomes.models import (
    AccessToken,
    Draft,
    FollowUp,
    InstrumentWording,
    Message,
    MessageStatus,
    Response,
)
from registry.models import Administration, TreatmentEpisode
from registry.services import episode_cancel, episode_mark_done
from tests import factories
from tests.outcomes.conftest import all_items

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def run_pass(now: datetime = NOW):
    report = dispatcher.dispatch(now=now)
    results = [outbox.message_send(message_id=m, now=now) for m in report.due]
    return report, results


def token_in(message) -> str:
    return re.search(r"http://\S+/p/(?!optout)(\S+?)/", message.body).group(1)


def works_until(message) -> date:
    found = re.search(r"works until the end of (\d{1,2} \w+ \d{4})", message.body)
    return datetime.strptime(found.group(1), "%d %B %Y").date()


def planned_knee(patient, days_ahead: int = 14) -> TreatmentEpisode:
    return factories.EpisodeFactory(
        patient=patient, joint="knee", side="left", status="planned", index_date=TODAY + timedelta(days=days_ahead)
    )


def walk_pages(client: Client, value: object = 1, vas: str = "30") -> int:
    number = 1
    while True:
        page = client.get(f"/p/q/{number}/")
        if page.status_code == 303:  # past the last page: on to the summary (not back: a window closed)
            assert page["Location"] == reverse("outcomes:patient_summary"), page["Location"]
            return number - 1
        assert page.status_code == 200, page.status_code
        instrument = page.context["page"].instrument
        data = {name: str(vas if instrument == "vas" else value) for name in page.context["form"].fields}
        assert client.post(f"/p/q/{number}/", data).status_code == 303
        number += 1


# Planned treatments ----------------------------------------------------------------------------------------


def test_a_treatment_planned_two_weeks_ahead_opens_its_baseline_and_invites_at_once(patient_a):
    episode = planned_knee(patient_a)
    statuses = dict(episode.follow_ups.values_list("timepoint", "status"))
    assert statuses == {
        "baseline": "open",
        "m3": "scheduled",
        "m6": "scheduled",
        "m12": "scheduled",
        "m24": "scheduled",
    }
    report, results = run_pass()
    assert report.invitations == 1 and results == ["sent"]
    assert works_until(mail.outbox[0]) == TODAY + timedelta(days=14)  # the planned day: a baseline counts until then


def test_a_planned_treatment_s_later_follow_ups_wait_until_it_is_done(patient_a):
    episode = planned_knee(patient_a)
    later = NOW + timedelta(days=14 + 70)  # the 3-month window would be open by the planned date
    with time_machine.travel(later, tick=False):
        run_pass(later)
        assert episode.follow_ups.get(timepoint="m3").status == "scheduled"
        assert episode.follow_ups.get(timepoint="baseline").status == "missed"  # the planned day went by


def test_a_baseline_answered_on_the_day_of_treatment_counts_and_one_after_is_refused(patient_a):
    episode = planned_knee(patient_a, days_ahead=3)
    baseline = episode.follow_ups.get(timepoint="baseline")
    on_the_day = NOW + timedelta(days=3)
    with time_machine.travel(on_the_day, tick=False):
        services.response_submit(
            follow_up=baseline, instrument="vas", answers={"vas_mm": 40}, mode="web", completed_at=on_the_day
        )
    after = NOW + timedelta(days=4)
    with time_machine.travel(after, tick=False), pytest.raises(ValidationError) as refused:
        services.response_submit(
            follow_up=baseline,
            instrument="koos",
            answers=all_items("koos", 1),
            mode="paper",
            completed_at=after,
            by=factories.UserFactory(),
        )
    assert "before the treatment" in str(refused.value) and str(TODAY + timedelta(days=3)) in str(refused.value)
    assert list(Response.objects.values_list("instrument", flat=True)) == ["vas"]


@pytest.mark.parametrize(
    ("status", "days", "message"),
    [
        ("planned", 366, "at most a year ahead"),
        ("planned", -1, "cannot be in the past"),
        ("done", 1, "cannot be dated after today"),
    ],
)
def test_impossible_dates_are_refused_with_a_reason(patient_a, status, days, message):
    episode = TreatmentEpisode(
        patient=patient_a, joint="knee", side="left", status=status, index_date=TODAY + timedelta(days=days)
    )
    with pytest.raises(ValidationError) as refused:
        episode.full_clean()
    assert message in " ".join(refused.value.message_dict["index_date"])


def test_moving_the_planned_date_moves_the_windows_and_the_link(patient_a):
    episode = planned_knee(patient_a)
    run_pass()
    token = AccessToken.objects.get()
    episode.index_date = TODAY + timedelta(days=30)
    episode.save()
    baseline = episode.follow_ups.get(timepoint="baseline")
    assert baseline.window_closes == TODAY + timedelta(days=30) and baseline.status == "open"
    assert episode.follow_ups.get(timepoint="m3").window_opens == TODAY + timedelta(days=90)
    token.refresh_from_db()
    assert token.expires_at == datetime.combine(TODAY + timedelta(days=31), datetime.min.time(), tzinfo=UTC)


def test_marking_it_done_corrects_the_date_and_times_follow_up_from_it(patient_a, alice):
    episode = planned_knee(patient_a, days_ahead=5)
    with time_machine.travel(NOW + timedelta(days=6), tick=False):
        done = episode_mark_done(episode=episode, on=TODAY + timedelta(days=6), by=alice)
    assert done.status == "done"
    m3 = done.follow_ups.get(timepoint="m3")
    assert m3.window_opens == TODAY + timedelta(days=66)
    assert done.history.first().history_change_reason.startswith("treatment done on")
    with pytest.raises(ValidationError, match="Only a planned treatment"):
        episode_mark_done(episode=done, on=TODAY, by=alice)


def test_a_done_date_in_the_future_is_refused_and_nothing_changes(patient_a, alice):
    episode = planned_knee(patient_a)
    with pytest.raises(ValidationError, match="recorded as done on the day it happens or later, not ahead"):
        episode_mark_done(episode=episode, on=TODAY + timedelta(days=1), by=alice)
    episode.refresh_from_db()
    assert episode.status == "planned"


def test_cancelling_cancels_the_follow_ups_and_every_message(patient_a, alice):
    episode = planned_knee(patient_a)
    dispatcher.dispatch(now=NOW)  # the invitation is queued, not yet sent
    assert Message.objects.get().status == MessageStatus.PENDING
    episode_cancel(episode=episode, reason="patient chose surgery", by=alice)
    assert set(episode.follow_ups.values_list("status", flat=True)) == {"cancelled"}
    assert Message.objects.get().status == MessageStatus.CANCELLED
    _, results = run_pass()
    assert results == [] and mail.outbox == []
    with pytest.raises(ValidationError, match="already cancelled"):
        episode_cancel(episode=episode, reason="again", by=alice)


def test_a_done_treatment_cannot_be_cancelled_nor_a_cancelled_one_revived(patient_a, alice):
    done = factories.EpisodeFactory(patient=patient_a, index_date=TODAY - timedelta(days=10))
    with pytest.raises(ValidationError, match="cannot be cancelled"):
        episode_cancel(episode=done, reason="changed mind", by=alice)
    with pytest.raises(ValidationError, match="Say why"):
        episode_cancel(episode=planned_knee(patient_a), reason=" ", by=alice)
    cancelled = planned_knee(patient_a, days_ahead=20)
    episode_cancel(episode=cancelled, reason="postponed indefinitely", by=alice)
    cancelled = TreatmentEpisode.objects.get(pk=cancelled.pk)
    cancelled.status = "planned"
    with pytest.raises(ValidationError) as refused:
        cancelled.full_clean()
    assert "stays cancelled" in " ".join(refused.value.message_dict["status"])


def test_administrations_belong_to_a_done_treatment_only(patient_a):
    episode = planned_knee(patient_a)
    injection = Administration(
        episode=episode, administered_on=episode.index_date, product_type="prp", source="autologous"
    )
    with pytest.raises(ValidationError, match="Mark the treatment as done first"):
        injection.clean()


def test_research_never_sees_a_planned_or_cancelled_treatment(patient_a):
    from research.access import research_queryset
    from research.services import api_key_create

    planned_knee(patient_a)
    done = factories.EpisodeFactory(patient=patient_a, index_date=TODAY - timedelta(days=100))
    key = api_key_create(name="t", sites=[patient_a.site], tier="rows")[0]
    assert list(research_queryset(TreatmentEpisode, key)) == [done]
    assert {fu.episode_id for fu in research_queryset(FollowUp, key)} == {done.pk}


# Never a dead link -----------------------------------------------------------------------------------------


def test_a_partial_follow_up_whose_window_closed_is_never_invited(patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=TODAY - timedelta(days=200))
    m3 = episode.follow_ups.get(timepoint="m3")  # closed on day 120
    FollowUp.objects.filter(pk=m3.pk).update(status="partial")
    m6 = episode.follow_ups.get(timepoint="m6")  # open: day 200 of 150-240
    report, results = run_pass()
    assert results == ["sent"]
    message = Message.objects.get()
    assert list(message.items.values_list("follow_up_id", flat=True)) == [m6.pk]
    assert works_until(mail.outbox[0]) == episode.index_date + timedelta(days=240) > TODAY


def test_a_bundle_drops_the_follow_up_that_closed_and_still_goes(patient_a):
    closing = factories.EpisodeFactory(patient=patient_a, side="left", index_date=TODAY - timedelta(days=120))
    later = factories.EpisodeFactory(patient=patient_a, side="right", index_date=TODAY - timedelta(days=70))
    dispatcher.dispatch(now=NOW)  # both 3-month follow-ups in one invitation, queued
    assert Message.objects.get().items.count() == 2
    tomorrow = NOW + timedelta(days=1)
    with time_machine.travel(tomorrow, tick=False):
        results = [outbox.message_send(message_id=m.pk, now=tomorrow) for m in Message.objects.all()]
    assert results == ["sent"]
    token = AccessToken.objects.get()
    assert list(token.follow_ups.values_list("episode_id", flat=True)) == [later.pk]
    assert "2 short questionnaires" in mail.outbox[0].body  # the right knee's KOOS and VAS only
    assert closing.follow_ups.get(timepoint="m3").pk not in set(token.follow_ups.values_list("pk", flat=True))


def test_a_window_closing_halfway_keeps_the_answers_and_says_so(client, patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, side="left", index_date=TODAY - timedelta(days=120))
    other = factories.EpisodeFactory(patient=patient_a, side="right", index_date=TODAY - timedelta(days=70))
    run_pass()
    client.get(f"/p/{token_in(mail.outbox[0])}/")
    first = client.get("/p/q/1/")
    assert "Left knee, 3 months after your treatment" in first.content.decode()
    client.post("/p/q/1/", dict.fromkeys(first.context["form"].fields, "1"))  # KOOS symptoms, left knee
    assert Draft.objects.count() == 1
    with time_machine.travel(NOW + timedelta(days=1), tick=False):
        page = client.get(f"/p/{token_in(mail.outbox[0])}/", follow=True)  # the next day, from the email again
        text = page.content.decode()
        assert "We have kept the answers you gave" in text and "Left knee, 3 months after your treatment" in text
        assert "Other questionnaires are still open" in text
        left = episode.follow_ups.get(timepoint="m3")
        assert left.status == "partial" and Response.objects.get(follow_up=left).instrument == "koos"
        assert left.scores.get(instrument="koos", key="symptoms").value is not None  # scored where it can be
        assert left.scores.get(instrument="koos", key="pain").value is None
        assert "Right knee" in client.get("/p/q/1/").content.decode()
    assert other.follow_ups.get(timepoint="m3").status == "open"


def test_the_dispatcher_keeps_answers_left_in_a_closed_window(client, patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=TODAY - timedelta(days=120))
    run_pass()
    client.get(f"/p/{token_in(mail.outbox[0])}/")
    client.post("/p/q/6/", {"item_vas_mm": "35"})
    report, _ = run_pass(NOW + timedelta(days=2))
    assert report.kept_unsent == 1 and not Draft.objects.exists()
    response = Response.objects.get()
    assert (response.instrument, response.answers, response.follow_up.status) == ("vas", {"vas_mm": 35}, "partial")
    assert episode.follow_ups.get(timepoint="m3").status == "partial"


def test_no_email_of_a_dispatcher_pass_carries_a_date_in_the_past(patient_a, patient_b):
    for offset in (0, 60, 119, 120, 150, 239, 300, 449, 630, 849):
        factories.EpisodeFactory(
            patient=factories.PatientFactory(site=patient_a.site), index_date=TODAY - timedelta(days=offset)
        )
    run_pass()
    assert len(mail.outbox) >= 8
    assert all(works_until(m) >= TODAY for m in mail.outbox)


# Reminders ---------------------------------------------------------------------------------------------------


def test_a_hip_patient_who_answered_everything_gets_no_reminder(patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, joint="hip", side="right", index_date=TODAY)
    baseline = episode.follow_ups.get(timepoint="baseline")  # open today, the day of treatment
    assert "hhs_exam" in baseline.instruments
    run_pass()
    assert len(mail.outbox) == 1
    for instrument in ("hoos", "mhhs", "vas"):
        answers = {i.code: v for i, v in zip(_patient_items(instrument), _values(instrument), strict=True)}
        services.response_submit(follow_up=baseline, instrument=instrument, answers=answers, mode="web")
    baseline.refresh_from_db()
    assert baseline.status == "partial"  # the clinician's examination is still owed: staff work
    with time_machine.travel(NOW + timedelta(days=7, hours=1), tick=False):
        report, _ = run_pass(NOW + timedelta(days=7, hours=1))
    assert report.reminders == 0 and len(mail.outbox) == 1
    baseline.refresh_from_db()
    assert baseline.next_reminder_at is None and baseline.call_list_since is None


def _patient_items(instrument):
    from outcomes.asking import items_asked

    return items_asked(instrument)


def _values(instrument):
    return [i.options[0].value if i.kind == "choice" else (i.min or 0) for i in _patient_items(instrument)]


def test_no_reminder_goes_after_the_window_closed(patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=TODAY - timedelta(days=115))
    run_pass()
    assert len(mail.outbox) == 1
    m3 = episode.follow_ups.get(timepoint="m3")
    FollowUp.objects.filter(pk=m3.pk).update(status="partial")  # something answered: it stays "partial"
    later = NOW + timedelta(days=7, hours=1)  # day 122: closed on day 120
    with time_machine.travel(later, tick=False):
        report, results = run_pass(later)
    assert report.reminders == 0 and len(mail.outbox) == 1


# Only answerable questionnaires ----------------------------------------------------------------------------


def test_a_questionnaire_without_wording_is_never_emailed_and_goes_to_staff(patient_a):
    InstrumentWording.objects.filter(site=patient_a.site, instrument="odi").delete()
    spine = factories.EpisodeFactory(
        patient=patient_a, joint="spine", side="midline", kl_grade=None, index_date=TODAY - timedelta(days=90)
    )
    run_pass()
    assert "1 short questionnaire." in mail.outbox[0].body  # the VAS only
    m3 = spine.follow_ups.get(timepoint="m3")
    client = Client()
    client.get(f"/p/{token_in(mail.outbox[0])}/")
    landing = client.get("/p/q/").content.decode()
    assert "There is 1 short questionnaire" in landing and "Back questionnaire" not in landing
    warnings = [w for w in check_patient_wording() if w.id == "outcomes.W001"]
    assert [w.msg for w in warnings] == [f"Site {patient_a.site.code} has no patient wording in 'en' for: odi."]
    InstrumentWording.objects.filter(site=patient_a.site, instrument="vas").delete()
    m3.refresh_from_db()
    assert m3.call_list_since is None
    services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 20}, mode="web")


def test_a_follow_up_with_no_worded_questionnaire_goes_to_the_call_list_without_email(patient_a):
    InstrumentWording.objects.filter(site=patient_a.site).delete()
    episode = factories.EpisodeFactory(patient=patient_a, index_date=TODAY - timedelta(days=90))
    report, _ = run_pass()
    assert not Message.objects.filter(kind__in=["invitation", "reminder"]).exists()
    assert all("follow-up" in m.subject for m in mail.outbox)  # at most the coordinators' call-list digest
    assert report.call_listed == 1 and episode.follow_ups.get(timepoint="m3").call_list_since == NOW


def test_the_email_counts_what_the_landing_page_lists_and_estimates_the_time(client, patient_a):
    factories.EpisodeFactory(patient=patient_a, joint="hip", side="left", index_date=TODAY - timedelta(days=90))
    run_pass()
    body = mail.outbox[0].body
    assert (
        "3 short questionnaires" in body and "about 10 minutes" in body
    )  # HOOS 40 + mHHS 8 + VAS 1: 49 items at 12 s, rounded up
    client.get(f"/p/{token_in(mail.outbox[0])}/")
    landing = client.get("/p/q/").content.decode()
    assert "There are 3 short questionnaires" in landing and "about 10 minutes (7 pages)" in landing
    assert landing.count("Left hip, 3 months after your treatment") == 3
    page = client.get("/p/q/3/").content.decode()
    assert "Page 3 of 7" in page and "Part 3 of 5" in page
    vas = client.get("/p/q/7/").content.decode()
    assert "No pain" in vas and "Worst pain imaginable" in vas and "as set by" not in vas
    assert 'class="vas-unset"' in vas and 'value="' not in vas.split('name="item_vas_mm"')[1].split(">")[0]


# Clinic tablet -----------------------------------------------------------------------------------------------


@pytest.fixture
def clinic_visit(patient_a):
    """A knee treatment planned for today: the baseline is open, the patient is in the clinic."""
    return planned_knee(patient_a, days_ahead=0)


def tablet_url(episode) -> str:
    return f"/admin/outcomes/followup/{episode.follow_ups.get(timepoint='baseline').pk}/tablet/"


def test_the_tablet_opens_the_patient_s_questionnaire_and_ends_on_a_screen_naming_nobody(
    alice_client, alice, clinic_visit
):
    confirm = alice_client.get(tablet_url(clinic_visit)).content.decode()
    assert "Amelia Aardvark" in confirm and "your staff session on this device ends" in confirm
    opened = alice_client.post(tablet_url(clinic_visit), follow=True)
    assert opened.redirect_chain[-1][0] == "/p/q/"
    text = opened.content.decode()
    assert "Left knee, before your treatment" in text and "data-tablet-idle" in text
    assert alice_client.get("/admin/").status_code == 302  # staff logged out on this device
    assert walk_pages(alice_client) == 6
    sent = alice_client.post("/p/q/summary/", follow=True)
    assert sent.redirect_chain[-1][0] == "/p/tablet/done/"
    done = sent.content.decode()
    assert "hand the tablet back" in done and "Amelia" not in done and "Aardvark" not in done
    assert set(Response.objects.values_list("mode", "handed_over_by")) == {("tablet", alice.pk)}
    assert clinic_visit.follow_ups.get(timepoint="baseline").status == "completed"
    again = alice_client.get("/p/q/")
    assert again.status_code == 404  # the session is gone: the neutral page
    assert AccessToken.objects.get().ended_at is not None


def test_an_idle_tablet_ends_its_session_and_keeps_what_was_answered(alice_client, clinic_visit):
    alice_client.post(tablet_url(clinic_visit))
    first = alice_client.get("/p/q/1/")
    alice_client.post("/p/q/1/", dict.fromkeys(first.context["form"].fields, "2"))
    with time_machine.travel(NOW + timedelta(minutes=6), tick=False):
        ended = alice_client.get("/p/q/2/")
    assert ended.status_code == 410 and "hand the tablet back" in ended.content.decode()
    assert "Amelia" not in ended.content.decode()
    assert Response.objects.get().mode == "tablet"  # the symptoms part, kept
    assert alice_client.get("/p/q/2/").status_code == 404  # reused after it ended: nothing opens


def test_a_second_tablet_session_for_the_patient_is_refused_until_the_first_ends(alice, clinic_visit):
    first, second = Client(), Client()
    first.force_login(alice)
    second.force_login(alice)
    first.post(tablet_url(clinic_visit))
    refused = second.post(tablet_url(clinic_visit)).content.decode()
    assert "already open on another device" in refused and "End the other session" in refused
    assert AccessToken.objects.filter(ended_at__isnull=True).count() == 1
    taken_over = second.post(tablet_url(clinic_visit), {"end_other": "1"})
    assert taken_over.status_code == 303
    assert first.get("/p/q/").status_code == 410  # the first tablet now shows the hand-back screen


def test_the_patient_can_stop_and_hand_the_tablet_back(alice_client, clinic_visit):
    alice_client.post(tablet_url(clinic_visit))
    first = alice_client.get("/p/q/1/")
    assert "Stop here and hand the tablet back" in first.content.decode()
    alice_client.post("/p/q/1/", dict.fromkeys(first.context["form"].fields, "1"))
    back = alice_client.post("/p/tablet/end/")
    assert back.status_code == 200 and "hand the tablet back" in back.content.decode()
    assert "Amelia" not in back.content.decode()
    assert AccessToken.objects.get().ended_at is not None and Response.objects.get().instrument == "koos"
    assert alice_client.get("/p/q/1/").status_code == 404


def test_the_tablet_page_says_why_only_the_clinician_s_exam_is_left(alice_client, patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, joint="hip", side="left", index_date=TODAY)
    baseline = episode.follow_ups.get(timepoint="baseline")
    for instrument in ("hoos", "mhhs", "vas"):
        answers = {i.code: v for i, v in zip(_patient_items(instrument), _values(instrument), strict=True)}
        services.response_submit(follow_up=baseline, instrument=instrument, answers=answers, mode="web")
    page = alice_client.get(f"/admin/outcomes/followup/{baseline.pk}/tablet/").content.decode()
    assert "only the clinician&#x27;s HHS examination is left, which staff enter at the visit" in page
    assert "Hand over the tablet now" not in page


def test_the_tablet_refuses_a_follow_up_with_nothing_for_the_patient(alice_client, patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=TODAY - timedelta(days=30))  # nothing open
    url = f"/admin/outcomes/followup/{episode.follow_ups.get(timepoint='m3').pk}/tablet/"
    page = alice_client.post(url).content.decode()
    assert "cannot be answered on the tablet: its window is not open today" in page
    assert not AccessToken.objects.exists()
    assert alice_client.get("/admin/").status_code == 200  # still logged in


def test_another_site_s_follow_up_cannot_be_handed_over(alice_client, patient_b):
    episode = planned_knee(patient_b, days_ahead=0)
    assert alice_client.get(tablet_url(episode)).status_code == 404
    assert alice_client.get("/admin/outcomes/followup/abc/tablet/").status_code == 404
