"""Staff enter answers taken by phone or on paper in the admin; scores appear at once, correct."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

import scoring
from outcomes import services
from outcomes.models import FollowUpStatus, Response, Score
from tests import factories
from tests.outcomes.conftest import all_items, form_data

pytestmark = pytest.mark.django_db


def enter_url(fu, instrument):
    return reverse("admin:outcomes_followup_enter", args=[fu.pk, instrument])


def entry(answers, today, **extra):
    """The entry form as posted; blanks share one reason unless the test says otherwise."""
    return form_data(answers, **{"completed_on": today.isoformat(), "mode": "paper", "blank_all": "declined", **extra})


def stored(fu, instrument):
    return {s.key: (s.value_text or s.value) for s in Score.objects.filter(follow_up=fu, instrument=instrument)}


def test_koos_and_vas_from_paper_give_subscales_derived_womac_and_vas(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 1)
    response = alice_client.post(enter_url(m3, "koos"), entry(koos, today))
    assert response.status_code == 302, response.context["form"].errors
    response = alice_client.post(enter_url(m3, "vas"), entry({"vas_mm": "37.5"}, today))
    assert response.status_code == 302
    expected = scoring.score("koos", koos).scores
    assert stored(m3, "koos") == pytest.approx(dict(expected))
    assert stored(m3, "koos")["pain"] == 75.0
    assert stored(m3, "womac_from_koos")["function"] == 17  # 17 items x 1
    assert stored(m3, "vas") == {"vas_mm": 37.5}
    m3.refresh_from_db()
    assert m3.status == FollowUpStatus.COMPLETED
    page = alice_client.get(reverse("admin:outcomes_followup_change", args=[m3.pk])).content.decode()
    assert "WOMAC derived from KOOS" in page and "37.5 of 100" in page and "higher is better" in page
    r = Response.objects.get(follow_up=m3, instrument="koos")
    assert (r.entered_via, r.entered_by, r.mode, r.scoring_version) == (
        "staff",
        knee_episode.patient.site.memberships.get().user,
        "paper",
        scoring.SCORING_VERSION,
    )


def test_hip_instruments_and_the_full_harris_hip_score(alice_client, hip_episode, today):
    hip_episode.index_date = today  # baseline window is open today and owes the HHS examination
    hip_episode.save()
    baseline = hip_episode.follow_ups.get(timepoint="baseline")
    mhhs = {
        "pain": "mild",
        "limp": "slight",
        "support": "none",
        "distance": "six_blocks",
        "stairs": "normal_with_railing",
        "shoes_socks": "with_ease",
        "sitting": "ordinary_chair_1h",
        "public_transport": "able",
    }
    exam = {
        "fixed_flexion_contracture_deg": "10",
        "fixed_adduction_deg": "0",
        "fixed_internal_rotation_deg": "0",
        "limb_length_discrepancy_cm": "1.5",
        "flexion_deg": "100",
        "abduction_deg": "20",
        "adduction_deg": "15",
        "external_rotation_deg": "15",
        "internal_rotation_deg": "10",
    }
    assert alice_client.post(enter_url(baseline, "mhhs"), entry(mhhs, today)).status_code == 302
    assert not Score.objects.filter(follow_up=baseline, instrument="hhs").exists()  # needs the examination too
    assert alice_client.post(enter_url(baseline, "hhs_exam"), entry(exam, today, mode="tablet")).status_code == 302
    assert alice_client.post(enter_url(baseline, "hoos"), entry(all_items("hoos", 2), today)).status_code == 302
    hhs = stored(baseline, "hhs")
    expected = scoring.score("hhs", {**mhhs, **{k: float(v) for k, v in exam.items()}}).scores
    assert hhs["total"] == pytest.approx(expected["total"]) and hhs["category"] == expected["category"]
    assert stored(baseline, "mhhs")["raw"] == 30 + 27 + 12
    assert stored(baseline, "womac_from_hoos")["pain"] == 10


@pytest.mark.parametrize(
    ("instrument", "answers", "key", "value"),
    [
        ("odi", {f"S{i}": 2 for i in range(1, 11)}, "odi", 40.0),
        ("vas", {"vas_mm": 0}, "vas_mm", 0.0),
    ],
)
def test_spine_instruments(alice_client, spine_episode, today, instrument, answers, key, value):
    m3 = spine_episode.follow_ups.get(timepoint="m3")
    assert alice_client.post(enter_url(m3, instrument), entry(answers, today)).status_code == 302
    assert stored(m3, instrument)[key] == value


def test_womac_and_nrs_when_a_plan_asks_them(alice_client, patient_a, today):
    from outcomes.models import OutcomePlan, OutcomePlanItem

    plan = OutcomePlan.objects.create(name="WOMAC knee", joint="knee", site=patient_a.site)
    OutcomePlanItem.objects.bulk_create(
        [OutcomePlanItem(plan=plan, timepoint="m3", instrument=i) for i in ("womac", "nrs")]
    )
    episode = factories.EpisodeFactory(patient=patient_a, index_date=today - timedelta(days=90))
    m3 = episode.follow_ups.get(timepoint="m3")
    womac = all_items("womac", 1)
    womac["F10"] = None  # one function item missing: mean substituted, 17 x 1
    assert alice_client.post(enter_url(m3, "womac"), entry(womac, today)).status_code == 302
    assert alice_client.post(enter_url(m3, "nrs"), entry({"nrs": 4}, today)).status_code == 302
    assert stored(m3, "womac")["function"] == 17
    assert stored(m3, "nrs") == {"nrs": 4}


def test_an_out_of_range_answer_is_refused_with_a_message_and_nothing_saved(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    response = alice_client.post(enter_url(m3, "vas"), entry({"vas_mm": "100.5"}, today))
    assert response.status_code == 200
    assert "item_vas_mm" in response.context["form"].errors
    assert not Response.objects.exists() and not Score.objects.exists()


def test_a_date_outside_the_window_is_refused(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    response = alice_client.post(
        enter_url(m3, "vas"),
        form_data({"vas_mm": 20}, completed_on=(m3.window_opens - timedelta(days=1)).isoformat(), mode="phone"),
    )
    assert "completed_on" in response.context["form"].errors
    assert "window" in str(response.context["form"].errors["completed_on"])
    assert not Response.objects.exists()


def test_unscorable_subscales_are_named_before_saving(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 0)
    for code in ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9"):
        koos[code] = None  # 8 of 17 ADL items left: fewer than the 9 needed
    response = alice_client.post(enter_url(m3, "koos"), entry(koos, today))
    assert response.status_code == 200
    assert response.context["warning"] == [
        "Function in daily living needs 9 of 17 items; 8 answered: A10, A11, A12, A13, A14, A15, A16, A17",
        "WOMAC derived from KOOS: Physical function needs 14 of 17 items; 8 answered: A10, A11, A12, A13, A14, A15, "
        "A16, A17",
        "KOOS, JR. derived from KOOS: KOOS, JR. needs 7 of 7 items; 5 answered: S6, P2, P3, P6, P9",
        "KOOS-12 derived from KOOS: Function needs 2 of 4 items; 1 answered: SP4",
    ]
    assert b"Function in daily living needs 9 of 17 items" in response.content
    assert not Response.objects.exists()
    response = alice_client.post(enter_url(m3, "koos"), entry(koos, today, confirm_incomplete="on"))
    assert response.status_code == 302
    scores = stored(m3, "koos")
    assert scores["adl"] is None and scores["pain"] == 100.0


def test_changing_submitted_answers_requires_a_reason_that_history_keeps(alice_client, knee_episode, today):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    alice_client.post(enter_url(m3, "vas"), entry({"vas_mm": 30}, today))
    response = alice_client.post(enter_url(m3, "vas"), entry({"vas_mm": 35}, today))
    assert "reason" in response.context["form"].errors
    assert stored(m3, "vas") == {"vas_mm": 30.0}
    response = alice_client.post(enter_url(m3, "vas"), entry({"vas_mm": 35}, today, reason="transcription error"))
    assert response.status_code == 302
    assert stored(m3, "vas") == {"vas_mm": 35.0}
    history = Response.objects.get(follow_up=m3).history.order_by("history_date")
    assert [h.answers for h in history] == [{"vas_mm": 30}, {"vas_mm": 35}]
    assert history.last().history_change_reason == "transcription error"
    assert history.last().history_user.username == "alice"


def test_another_sites_follow_up_cannot_receive_answers(alice_client, patient_b, today):
    theirs = factories.EpisodeFactory(patient=patient_b, index_date=today - timedelta(days=100))
    m3 = theirs.follow_ups.get(timepoint="m3")
    assert alice_client.get(enter_url(m3, "vas")).status_code == 404
    assert alice_client.post(enter_url(m3, "vas"), entry({"vas_mm": 10}, today)).status_code == 404
    assert not Response.objects.exists()


def test_an_instrument_not_owed_is_not_offered(alice_client, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    assert alice_client.get(enter_url(m3, "odi")).status_code == 404


def test_the_service_names_the_bad_item_and_saves_nothing(knee_episode, alice):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    for answers, needle in (({"P1": 5}, "P1"), ({"P99": 1}, "P99"), ({"P1": "2"}, "P1"), ({"P1": True}, "P1")):
        with pytest.raises(ValidationError) as exc:
            services.response_submit(follow_up=m3, instrument="koos", answers=answers, by=alice, mode="phone")
        assert needle in str(exc.value)
    assert not Response.objects.exists()


def test_a_patient_cannot_change_or_double_submit(knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    first = services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 10}, by=None, mode="web")
    again = services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 10}, by=None, mode="web")
    assert again.pk == first.pk and Response.objects.count() == 1
    with pytest.raises(services.ResponseRefused):
        services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 90}, by=None, mode="web")
    assert Response.objects.get().answers == {"vas_mm": 10}


def test_a_withdrawn_patients_follow_up_takes_no_answers(knee_episode, alice, today):
    patient = knee_episode.patient
    patient.withdrawn_on, patient.withdrawal_reason = today, "withdrew"
    patient.save()
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    with pytest.raises(services.ResponseRefused):
        services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 10}, by=alice, mode="phone")


def test_the_entry_form_names_the_side_and_the_label_source(alice_client, knee_episode):
    from outcomes.models import InstrumentWording

    InstrumentWording.objects.filter(site=knee_episode.patient.site).delete()  # a site that has loaded none
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    page = alice_client.get(enter_url(m3, "koos")).content.decode()
    assert "<strong>Left knee</strong>" in page  # the side named in bold, with its joint
    assert "registry content label" in page
    assert "P1." in page and 'type="radio"' in page


def test_loaded_wording_is_shown_instead_of_our_labels(alice_client, knee_episode):
    from outcomes.models import InstrumentWording

    wording = scoring.wording_skeleton("koos")
    wording.update(language="en", title="Synthetic KOOS", source="test fixture", instructions="Tick one box.")
    for code, item in wording["items"].items():
        item["text"] = f"Synthetic text {code}"
        for key in item.get("options", {}):
            item["options"][key] = f"option {key}"
    wording["items"]["P1"]["text"] = "SYNTHETIC WORDING FOR P1"
    scoring.load_wording(wording)  # the fixture itself is valid
    InstrumentWording.objects.update_or_create(
        site=knee_episode.patient.site, instrument="koos", language="en", defaults={"content": wording}
    )
    page = alice_client.get(enter_url(knee_episode.follow_ups.get(timepoint="m3"), "koos")).content.decode()
    assert "SYNTHETIC WORDING FOR P1" in page and "validated wording" in page
