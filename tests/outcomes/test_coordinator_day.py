"""The coordinator's day: the follow-up as a work screen with a call log, blanks accounted for with missing-data
codes, scores in words, and the call list ordered by what to do next."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from outcomes import score_words, services
from outcomes.models import CallAttempt, FollowUp, FollowUpStatus, Response, Score
from tests import factories
from tests.outcomes.conftest import all_items, form_data

pytestmark = pytest.mark.django_db


def work_url(fu):
    return reverse("admin:outcomes_followup_change", args=[fu.pk])


def call(client, fu, outcome, note=""):
    return client.post(reverse("admin:outcomes_followup_call", args=[fu.pk]), {"outcome": outcome, "note": note})


def enter(client, fu, instrument, answers, today, **extra):
    data = form_data(answers, **{"completed_on": today.isoformat(), "mode": "phone", **extra})
    return client.post(reverse("admin:outcomes_followup_enter", args=[fu.pk, instrument]), data)


# The work screen -------------------------------------------------------------------------------------------


def test_work_screen_shows_whom_to_call_and_has_nothing_to_save(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    identity = knee_episode.patient.identity
    page = alice_client.get(work_url(m3)).content.decode()
    assert "Amelia Aardvark" in page and identity.phone in page and f'href="tel:{identity.phone}"' in page
    assert "born 1958" in page and "English" in page
    assert "by the patient: KOOS, Pain VAS" in page
    for outcome in ("No answer", "Left a message", "Answering by phone now", "Will answer by link", "Refused"):
        assert f">{outcome}</button>" in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page and "No calls yet." in page


def test_history_of_a_follow_up_offers_no_revert(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    call(alice_client, m3, "refused")
    page = alice_client.get(reverse("admin:outcomes_followup_history", args=[m3.pk])).content.decode()
    assert "call: refused" in page
    assert "/history/" in page and "revert" not in page.lower()


def test_no_answer_is_logged_with_its_note_and_shown_as_last_call_on_the_call_list(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    response = call(alice_client, m3, "no_answer", "try after 6 pm")
    assert response.status_code == 302 and response["Location"] == work_url(m3)
    attempt = CallAttempt.objects.get()
    assert (attempt.outcome, attempt.note, attempt.by.username) == ("no_answer", "try after 6 pm", "alice")
    m3.refresh_from_db()
    assert m3.status == FollowUpStatus.OPEN
    page = alice_client.get(work_url(m3)).content.decode()
    assert "No answer" in page and "try after 6 pm" in page and "alice" in page
    FollowUp.objects.filter(pk=m3.pk).update(call_list_since=timezone.now() - timedelta(days=3))
    listed = alice_client.get(reverse("admin:outcomes_worklist_changelist") + "?work=call").content.decode()
    assert "called " in listed and ": no answer" in listed


def test_refused_ends_the_follow_up_with_its_reason_in_history_and_resume_undoes_it(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    response = call(alice_client, m3, "refused", "does not want more questionnaires")
    assert response.status_code == 302
    m3.refresh_from_db()
    assert (m3.status, m3.ended_reason) == (FollowUpStatus.REFUSED, "refused")
    last = m3.history.first()
    assert last.history_change_reason == "call: refused"  # the note stays on the call, which anonymisation erases
    assert last.history_user.username == "alice"
    # no further calls, no answers by link: the follow-up is ended
    assert call(alice_client, m3, "no_answer").status_code == 302
    assert CallAttempt.objects.count() == 1
    # a status recomputation keeps it ended (never missed at random)
    services._refresh_one(m3, today=m3.window_closes + timedelta(days=1))
    assert m3.status == FollowUpStatus.REFUSED
    # resume needs a reason
    url = reverse("admin:outcomes_followup_resume", args=[m3.pk])
    alice_client.post(url, {"reason": " "})
    m3.refresh_from_db()
    assert m3.status == FollowUpStatus.REFUSED
    alice_client.post(url, {"reason": "recorded on the wrong patient"})
    m3.refresh_from_db()
    assert (m3.status, m3.ended_reason) == (FollowUpStatus.OPEN, "")
    assert m3.history.first().history_change_reason == "resumed: recorded on the wrong patient"


def test_moved_away_counts_as_lost_to_follow_up(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    call(alice_client, m3, "moved_away")
    m3.refresh_from_db()
    assert m3.status == FollowUpStatus.LOST
    assert m3.get_status_display() == "Lost to follow-up (moved away)"


def test_answered_by_phone_opens_entry_in_phone_mode(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    response = call(alice_client, m3, "answered_now")
    entry = reverse("admin:outcomes_followup_enter", args=[m3.pk, "koos"])
    assert response["Location"] == entry + "?mode=phone"
    form = alice_client.get(response["Location"]).context["form"]
    assert form.initial["mode"] == "phone"


def test_will_answer_by_link_sends_the_link_again(alice_client, knee_episode, mailoutbox):
    from outcomes.models import Message

    m3 = knee_episode.follow_ups.get(timepoint="m3")
    call(alice_client, m3, "will_use_link")
    assert Message.objects.filter(items__follow_up=m3, items__number__gte=1000).count() == 1


def test_wrong_number_points_to_the_patient_page(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    response = call(alice_client, m3, "wrong_number")
    page = alice_client.get(response["Location"]).content.decode()
    assert reverse("admin:registry_patient_change", args=[knee_episode.patient_id]) in page
    assert "Correct the phone number" in page


def test_bad_calls_are_refused_and_nothing_is_saved(alice, knee_episode, patient_b, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    with pytest.raises(ValidationError, match="Unknown call outcome"):
        services.call_log(follow_up=m3, outcome="shouted", by=alice)
    with pytest.raises(ValidationError, match="under 300"):
        services.call_log(follow_up=m3, outcome="no_answer", by=alice, note="x" * 301)
    theirs = factories.EpisodeFactory(patient=patient_b, index_date=today - timedelta(days=100))
    with pytest.raises(PermissionError):
        services.call_log(follow_up=theirs.follow_ups.get(timepoint="m3"), outcome="refused", by=alice)
    assert not CallAttempt.objects.exists()
    assert theirs.follow_ups.get(timepoint="m3").status == FollowUpStatus.OPEN


def test_call_list_puts_never_called_first_then_longest_since_the_last_call(alice_client, alice, patient_a, today):
    episodes = [
        factories.EpisodeFactory(patient=patient_a, index_date=today - timedelta(days=100 - i)) for i in range(3)
    ]
    fus = [e.follow_ups.get(timepoint="m3") for e in episodes]
    FollowUp.objects.filter(pk__in=[f.pk for f in fus]).update(call_list_since=timezone.now() - timedelta(days=20))
    services.call_log(follow_up=fus[0], outcome="no_answer", by=alice)  # called: goes last
    listed = alice_client.get(reverse("admin:outcomes_worklist_changelist") + "?work=call")
    order = [row.pk for row in listed.context["cl"].result_list]
    assert order == [fus[1].pk, fus[2].pk, fus[0].pk]


# Blanks ----------------------------------------------------------------------------------------------------


def test_phone_koos_with_two_blanks_stores_their_reasons_beside_the_answers(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 1)
    koos["P3"] = koos["Q2"] = None
    # no reasons: refused, naming both items, nothing saved
    response = enter(alice_client, m3, "koos", koos, today)
    assert response.status_code == 200
    assert "Left blank without a reason: P3, Q2" in response.content.decode()
    assert not Response.objects.exists()
    response = enter(alice_client, m3, "koos", koos, today, blank_P3="declined", blank_Q2="not_applicable")
    assert response.status_code == 200  # P3 is a KOOS JR item: the derived KOOS JR cannot be computed
    assert "KOOS, JR. needs 7 of 7 items" in response.content.decode()
    response = enter(
        alice_client, m3, "koos", koos, today, blank_P3="declined", blank_Q2="not_applicable", confirm_incomplete="on"
    )
    assert response.status_code == 302
    stored = Response.objects.get(follow_up=m3, instrument="koos")
    assert stored.missing == {"P3": "declined", "Q2": "not_applicable"}
    assert "P3" not in stored.answers and "Q2" not in stored.answers  # a blank is never a value
    page = alice_client.get(response["Location"]).content.decode()
    assert "Left blank (2): P3 declined to answer, Q2 not applicable." in page
    detail = alice_client.get(reverse("admin:outcomes_response_change", args=[stored.pk])).content.decode()
    assert "blank: declined to answer" in detail and "blank: not applicable" in detail
    assert "40 of 42 items answered; 2 blank" in detail


def test_one_reason_for_all_blanks_and_a_reason_on_an_answered_item(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 2)
    koos["S1"] = koos["S2"] = koos["S3"] = None
    response = enter(alice_client, m3, "koos", koos, today, blank_P1="unreadable")
    assert "P1 has an answer: clear the reason, or clear the answer." in response.content.decode()
    assert not Response.objects.exists()
    response = enter(alice_client, m3, "koos", koos, today, blank_all="not_asked", blank_S2="unreadable")
    assert response.status_code == 302
    stored = Response.objects.get(follow_up=m3, instrument="koos")
    assert stored.missing_codes == "S1:not_asked;S2:unreadable;S3:not_asked"


def test_service_refuses_missing_codes_that_make_no_sense(alice, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    cases = [
        ({"vas_mm": 30}, {"vas_mm": "declined"}, "has an answer and a reason"),
        ({}, {"vas_mm": "forgot"}, "not a missing-data code"),
        ({}, {"P1": "declined"}, "not an item of vas"),
    ]
    for answers, missing, message in cases:
        with pytest.raises(ValidationError, match=message):
            services.response_submit(
                follow_up=m3, instrument="vas", answers=answers, by=alice, mode="phone", missing=missing
            )
    assert not Response.objects.exists()


def test_a_patients_blanks_by_link_are_recorded_as_skipped(knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 1)
    koos["P9"] = None
    services.response_submit(follow_up=m3, instrument="koos", answers=koos, by=None, mode="web")
    assert Response.objects.get().missing == {"P9": "skipped"}


# Scores in words -------------------------------------------------------------------------------------------


def test_score_lines_read_in_plain_words(alice, knee_episode):
    baseline = knee_episode.follow_ups.get(timepoint="baseline")
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(knee_episode.patient.site.time_zone)
    on_day = datetime.combine(baseline.window_closes - timedelta(days=5), time(12), tzinfo=tz)
    services.response_submit(
        follow_up=baseline, instrument="koos", answers=all_items("koos", 3), by=alice, mode="paper", completed_at=on_day
    )
    services.response_submit(follow_up=m3, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
    groups = {g.instrument: g for g in score_words.groups_for(m3)}
    assert list(groups) == ["koos", "womac_from_koos", "koos_jr_from_koos", "koos12_from_koos"]
    koos = {line.key: line for line in groups["koos"].lines}
    assert koos["pain"].name == "KOOS pain"
    assert koos["pain"].value == "75 of 100" and koos["pain"].direction == "higher is better"
    assert koos["pain"].change == "+50.0 since baseline (better)"
    assert koos["pain"].mcii_reached is True and koos["pain"].mcii.startswith("reaches the MCII")
    assert "koos4_kanon" in koos and koos["koos4_kanon"].name.startswith("KOOS4 as defined by Frobell 2010")
    womac = groups["womac_from_koos"]
    assert womac.note.startswith("WOMAC scored from the KOOS answers")
    assert {line.key for line in womac.lines} == {"pain_0_100", "stiffness_0_100", "function_0_100", "total_0_100"}
    assert womac.lines[0].direction == "lower is better" and womac.lines[0].change.endswith("(better)")
    assert {"pain", "function_0_100_inv"} <= {line.key for line in womac.other}


def test_a_score_with_a_published_pass_says_whether_it_is_acceptable(alice_client, alice, knee_episode):
    baseline = knee_episode.follow_ups.get(timepoint="baseline")
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    from datetime import datetime, time
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(knee_episode.patient.site.time_zone)
    on_day = datetime.combine(baseline.window_closes - timedelta(days=5), time(12), tzinfo=tz)
    services.response_submit(
        follow_up=baseline, instrument="koos", answers=all_items("koos", 3), by=alice, mode="paper", completed_at=on_day
    )
    services.response_submit(follow_up=m3, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
    # Every item 1: KOOS JR raw 7 = 68.284, at or above the PASS of 63.7 (Kunze); every item 3: raw 21, below it.
    later = {g.instrument: g for g in score_words.groups_for(m3)}
    jr = {line.key: line for line in later["koos_jr_from_koos"].lines}["interval"]
    assert jr.pass_reached is True and jr.pass_state == "acceptable symptom state (PASS 63.7 or more)"
    assert jr.mcii_reached is True  # from the baseline's table value, more than the MCII of 15.1
    first = {g.instrument: g for g in score_words.groups_for(baseline)}
    jr0 = {line.key: line for line in first["koos_jr_from_koos"].lines}["interval"]
    assert jr0.pass_reached is False and jr0.pass_state.startswith("short of the acceptable symptom state")
    assert jr0.change == ""  # the baseline has no change, but says where it stands
    # WOMAC function (0-100, lower is better) from the KOOS: 25, within Tubach's knee PASS of 31.0 or less.
    womac = {line.key: line for line in later["womac_from_koos"].lines}["function_0_100"]
    assert womac.pass_state == "acceptable symptom state (PASS 31 or less)"
    # KOOS pain has an MCII but no PASS: nothing is said of a state.
    assert {line.key: line for line in later["koos"].lines}["pain"].pass_state == ""
    page = alice_client.get(work_url(baseline)).content.decode()
    assert "short of the acceptable symptom state (PASS 63.7 or more)" in page


def test_an_unscored_line_may_wrap_and_the_table_scrolls_on_a_narrow_screen(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    answers = {code: value for code, value in all_items("koos", 1).items() if code != "S6"}  # a KOOS JR item blank
    services.response_submit(follow_up=m3, instrument="koos", answers=answers, by=None, mode="web")
    page = alice_client.get(work_url(m3)).content.decode()
    assert '<div class="scores-scroll"><table class="scores scores-words">' in page
    assert '<td class=""><strong>not scored (too many items blank)</strong></td>' in page  # may wrap
    assert '<td class="nowrap"><strong>75 of 100</strong></td>' in page  # a number stays whole
    assert "since baseline; acceptable state" in page


def test_follow_up_page_shows_scores_in_words_not_keys(alice_client, alice, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    services.response_submit(follow_up=m3, instrument="koos", answers=all_items("koos", 1), by=alice, mode="phone")
    page = alice_client.get(work_url(m3)).content.decode()
    assert "KOOS pain" in page and "75 of 100" in page and "higher is better" in page
    assert "Other forms of these scores" in page
    assert ">koos4_kanon<" not in page and ">function_0_100_inv<" not in page


# Pickers ---------------------------------------------------------------------------------------------------


def test_patient_picker_shows_name_year_of_birth_and_record_number_of_own_site_only(alice_client, patient_a, patient_b):
    from registry.models import PatientIdentity

    PatientIdentity.objects.filter(patient=patient_a).update(medical_record_number="MRN-4471")
    url = "/admin/autocomplete/"
    params = {"app_label": "registry", "model_name": "treatmentepisode", "field_name": "patient"}
    found = alice_client.get(url, {**params, "term": "Aardvark"}).json()["results"]
    assert [r["text"] for r in found] == [f"Aardvark, Amelia (1958, record MRN-4471) · {patient_a.registry_id}"]
    assert alice_client.get(url, {**params, "term": "Bandicoot"}).json()["results"] == []
    add = alice_client.get(reverse("admin:registry_treatmentepisode_add") + f"?patient={patient_a.pk}")
    assert "Aardvark, Amelia (1958, record MRN-4471)" in add.content.decode()
    factories.EpisodeFactory(patient=patient_a, joint="knee", side="left")
    listed = alice_client.get(reverse("admin:registry_treatmentepisode_changelist")).content.decode()
    assert "Aardvark, Amelia (1958, record MRN-4471)" in listed and "Knee (Left)" in listed


# Double data entry -----------------------------------------------------------------------------------------


@pytest.fixture
def double_site(site_a):
    from outcomes.models import FollowUpSettings

    FollowUpSettings.objects.create(site=site_a, double_entry=True)
    return site_a


def _paper(client, fu, answers, today, **extra):
    return enter(client, fu, "koos", answers, today, mode="paper", **extra)


def test_double_entry_agreeing_keyings_save_and_score_once(client, alice, double_site, knee_episode, today):
    from outcomes.models import DoubleEntry
    from tests.conftest import login

    bob_a = factories.staff_user("bob_a", double_site)
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 1)
    koos["P1"] = None
    response = _paper(login(client, alice), m3, koos, today, blank_P1="unreadable")
    assert response.status_code == 302
    assert not Response.objects.exists() and DoubleEntry.objects.count() == 1
    page = client.get(response["Location"]).content.decode()
    assert "First entry of the paper KOOS kept" in page and "waiting for a second person" in page
    # the same person cannot key the second entry
    again = _paper(client, m3, koos, today, blank_P1="unreadable")
    assert "the second must be keyed by someone else" in again.content.decode()
    assert not Response.objects.exists()
    response = _paper(login(client, bob_a), m3, koos, today, blank_P1="unreadable")
    assert response.status_code == 302
    stored = Response.objects.get(follow_up=m3, instrument="koos")
    assert stored.missing == {"P1": "unreadable"} and stored.entered_by.username == "bob_a"
    assert stored.history.first().history_change_reason == "double entry agreed: keyed by alice and bob_a"
    assert not DoubleEntry.objects.exists()
    assert Score.objects.filter(follow_up=m3, instrument="koos", key="pain").get().value == 75.0


def test_double_entry_differences_are_shown_side_by_side_and_resolved_with_a_reason(
    client, alice, double_site, knee_episode, today
):
    from outcomes.models import DoubleEntry
    from tests.conftest import login

    bob_a = factories.staff_user("bob_a", double_site)
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    first = all_items("koos", 1)
    second = {**first, "P2": 3, "S4": None}
    _paper(login(client, alice), m3, first, today)
    response = _paper(login(client, bob_a), m3, second, today, blank_S4="declined")
    url = reverse("admin:outcomes_followup_resolve", args=[m3.pk, "koos"])
    assert response["Location"] == url
    page = client.get(url).content.decode()
    assert "They differ on 2 items" in page
    assert "3 (Severe)" in page and "blank: declined to answer" in page and "1 (Mild)" in page
    # no reason, or a difference left unchosen: refused, nothing saved
    page = client.post(url, {"choice_P2": "first", "choice_S4": "second", "reason": ""}).content.decode()
    assert "Say how the differences were resolved" in page
    page = client.post(url, {"choice_P2": "first", "reason": "checked the paper"}).content.decode()
    assert "Choose the first or the second entry for: S4" in page
    assert not Response.objects.exists() and DoubleEntry.objects.count() == 1
    response = client.post(url, {"choice_P2": "first", "choice_S4": "second", "reason": "checked the paper"})
    assert response.status_code == 302
    stored = Response.objects.get(follow_up=m3, instrument="koos")
    assert stored.answers["P2"] == 1 and "S4" not in stored.answers and stored.missing == {"S4": "declined"}
    assert (
        stored.history.first().history_change_reason == "double entry resolved (S4, P2): checked the paper"
    )  # the form's order
    assert not DoubleEntry.objects.exists()


def test_phone_answers_are_keyed_once_even_with_double_entry(alice_client, double_site, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    assert enter(alice_client, m3, "vas", {"vas_mm": 30}, today).status_code == 302  # mode phone
    assert Response.objects.filter(follow_up=m3, instrument="vas").exists()
