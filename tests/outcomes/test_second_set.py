"""The second set in the registry (issue 20): KOOS JR, HOOS JR, KOOS-12, PROMIS-10, IKDC, Lysholm, Tegner and
EQ-5D-5L in plans, staff entry and stored scores; derived short forms from a full KOOS or HOOS with their
provenance; a site's EQ-5D-5L value set."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

import scoring
from outcomes import services
from outcomes.models import ASKABLE_IDS, FollowUpSettings, OutcomePlan, OutcomePlanItem, Response, Score
from tests import factories
from tests.outcomes.conftest import all_items, form_data

pytestmark = pytest.mark.django_db

SECOND_SET = ("koos_jr", "koos12", "hoos_jr", "promis10", "ikdc", "lysholm", "tegner", "eq5d5l")


def stored(fu, instrument):
    return {s.key: (s.value_text or s.value) for s in Score.objects.filter(follow_up=fu, instrument=instrument)}


def plan_episode(patient, today, instruments, joint="knee"):
    """An episode 90 days ago at a site whose plan asks `instruments` at 3 months."""
    plan = OutcomePlan.objects.create(name="Second set", joint=joint, site=patient.site)
    OutcomePlanItem.objects.bulk_create([OutcomePlanItem(plan=plan, timepoint="m3", instrument=i) for i in instruments])
    episode = factories.EpisodeFactory(patient=patient, joint=joint, index_date=today - timedelta(days=90))
    return episode.follow_ups.get(timepoint="m3")


def enter(client, fu, instrument, answers, today):
    data = form_data(answers, completed_on=today.isoformat(), mode="paper", blank_all="declined")
    return client.post(reverse("admin:outcomes_followup_enter", args=[fu.pk, instrument]), data)


def valid_answers(instrument):
    """Every item answered with its second printed option (choice) or its midpoint (numbers)."""
    out = {}
    for item in scoring.get_instrument(instrument).items:
        out[item.code] = item.options[1].value if item.kind == "choice" else (item.min + item.max) // 2
    return out


def test_every_instrument_of_the_second_set_can_be_planned():
    assert set(SECOND_SET) <= set(ASKABLE_IDS)
    plan = OutcomePlan.objects.create(name="All", joint="knee")
    for instrument in SECOND_SET:
        OutcomePlanItem(plan=plan, timepoint="m3", instrument=instrument).full_clean()


@pytest.mark.parametrize("instrument", SECOND_SET)
def test_staff_entry_stores_the_engines_scores(alice_client, patient_a, today, instrument):
    patient_a.site.country = "KR"
    patient_a.site.save()
    fu = plan_episode(patient_a, today, [instrument])
    answers = valid_answers(instrument)
    response = enter(alice_client, fu, instrument, answers, today)
    assert response.status_code == 302, response.context["form"].errors
    value_set = "KR" if instrument == "eq5d5l" else None
    expected = scoring.score(instrument, answers, value_set=value_set).scores
    got = stored(fu, instrument)
    if instrument == "eq5d5l":
        assert got.pop("value_set") == "KR"
    assert got == pytest.approx(dict(expected))
    assert Response.objects.get(follow_up=fu).instrument_version == scoring.get_instrument(instrument).version


@pytest.mark.parametrize(
    ("instrument", "item", "bad", "message"),
    [
        ("ikdc", "IKDC6", "2", "Select a valid choice"),
        ("lysholm", "locking", "5", "Select a valid choice"),
        ("promis10", "Global07r", "2.5", "Enter a whole number"),
        ("tegner", "tegner", "11", "Select a valid choice"),
        ("eq5d5l", "MO", "0", "Select a valid choice"),
    ],
)
def test_bad_input_is_a_form_error_and_nothing_is_stored(
    alice_client, patient_a, today, instrument, item, bad, message
):
    fu = plan_episode(patient_a, today, [instrument])
    answers = {**valid_answers(instrument), item: bad}
    response = enter(alice_client, fu, instrument, answers, today)
    assert response.status_code == 200
    assert message in str(response.context["form"].errors[f"item_{item}"])
    assert not Response.objects.exists() and not Score.objects.exists()


@pytest.mark.parametrize(
    ("instrument", "item", "bad"),
    [("ikdc", "IKDC6", 2), ("lysholm", "locking", 5), ("koos_jr", "P2", 2.0), ("tegner", "tegner", 3.0)],
)
def test_the_service_refuses_bad_values_and_stores_nothing(alice, patient_a, today, instrument, item, bad):
    fu = plan_episode(patient_a, today, [instrument])
    with pytest.raises(ValidationError, match=item):
        services.response_submit(
            follow_up=fu,
            instrument=instrument,
            answers={**valid_answers(instrument), item: bad},
            by=alice,
            mode="phone",
        )
    assert not Response.objects.exists() and not Score.objects.exists()


def test_a_full_koos_gives_koos_jr_and_koos12_with_their_provenance(alice, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = {code: i % 5 for i, code in enumerate(scoring.get_instrument("koos").item_codes)}
    response = services.response_submit(follow_up=m3, instrument="koos", answers=koos, by=alice, mode="phone")
    for derived, short in (("koos_jr_from_koos", "koos_jr"), ("koos12_from_koos", "koos12")):
        rows = Score.objects.filter(follow_up=m3, instrument=derived)
        assert {row.response_id for row in rows} == {response.pk}  # derived from the KOOS the patient answered
        mapped = {code: koos[source] for code, source in scoring.get_instrument(derived).item_map}
        assert stored(m3, derived) == pytest.approx(dict(scoring.score(short, mapped).scores))
    assert Response.objects.filter(follow_up=m3).count() == 1  # answered once


def test_a_full_hoos_gives_hoos_jr_with_its_provenance(alice, hip_episode):
    m3 = hip_episode.follow_ups.get(timepoint="m3")
    hoos = {code: (i * 3) % 5 for i, code in enumerate(scoring.get_instrument("hoos").item_codes)}
    response = services.response_submit(follow_up=m3, instrument="hoos", answers=hoos, by=alice, mode="phone")
    rows = Score.objects.filter(follow_up=m3, instrument="hoos_jr_from_hoos")
    assert {row.response_id for row in rows} == {response.pk}
    mapped = {code: hoos[source] for code, source in scoring.get_instrument("hoos_jr_from_hoos").item_map}
    assert stored(m3, "hoos_jr_from_hoos") == pytest.approx(dict(scoring.score("hoos_jr", mapped).scores))


def test_one_missing_koos_jr_item_leaves_the_derived_koos_jr_unscored(alice, knee_episode):
    m3 = knee_episode.follow_ups.get(timepoint="m3")
    koos = all_items("koos", 1)
    koos["S6"] = None
    services.response_submit(
        follow_up=m3, instrument="koos", answers=koos, by=alice, mode="phone", missing={"S6": "declined"}
    )
    assert stored(m3, "koos_jr_from_koos") == {"raw": None, "interval": None}
    assert stored(m3, "koos12_from_koos")["summary"] == 75.0  # S6 is not a KOOS-12 item


# The EQ-5D-5L value set ------------------------------------------------------------------------------------

STATE = {"MO": 2, "SC": 1, "UA": 3, "PD": 2, "AD": 1}


@pytest.mark.parametrize(("country", "value_set"), [("KR", "KR"), ("JP", "JP"), ("GB", "GB-ENG"), ("US", "US")])
def test_the_index_is_in_the_value_set_of_the_sites_country(alice, patient_a, today, country, value_set):
    patient_a.site.country = country
    patient_a.site.save()
    fu = plan_episode(patient_a, today, ["eq5d5l"])
    services.response_submit(follow_up=fu, instrument="eq5d5l", answers=STATE, by=alice, mode="phone")
    index = scoring.score("eq5d5l", STATE, value_set=value_set).scores["index"]
    assert stored(fu, "eq5d5l") == {"index": pytest.approx(index), "value_set": value_set}


def test_a_site_without_a_value_set_stores_the_answers_without_an_index_until_it_chooses_one(
    alice, admin_client, patient_a, today
):
    patient_a.site.country = "TW"  # no Taiwanese value set in the engine
    patient_a.site.save()
    fu = plan_episode(patient_a, today, ["eq5d5l"])
    services.response_submit(follow_up=fu, instrument="eq5d5l", answers=STATE, by=alice, mode="phone")
    assert stored(fu, "eq5d5l") == {"index": None, "value_set": None}
    settings = FollowUpSettings.objects.create(site=patient_a.site)
    url = reverse("admin:outcomes_followupsettings_change", args=[settings.pk])
    form = {
        "site": patient_a.site.pk,
        "reminder_days": "7,14",
        "call_after_days": 21,
        "digest_hour": 8,
        "show_patient_chart": "on",
        "eq5d5l_value_set": "CN",
    }
    assert admin_client.post(url, form).status_code == 302
    index = scoring.score("eq5d5l", STATE, value_set="CN").scores["index"]
    assert stored(fu, "eq5d5l") == {"index": pytest.approx(index), "value_set": "CN"}


def test_the_sites_choice_wins_over_its_country(alice, patient_a, today):
    patient_a.site.country = "KR"
    patient_a.site.save()
    FollowUpSettings.objects.create(site=patient_a.site, eq5d5l_value_set="DE")
    fu = plan_episode(patient_a, today, ["eq5d5l"])
    services.response_submit(follow_up=fu, instrument="eq5d5l", answers=STATE, by=alice, mode="phone")
    assert stored(fu, "eq5d5l")["value_set"] == "DE"


def test_an_unknown_value_set_is_refused_by_the_settings_form():
    settings = FollowUpSettings(site=factories.SiteFactory(wording=False), eq5d5l_value_set="XX")
    with pytest.raises(ValidationError, match="eq5d5l_value_set"):
        settings.full_clean()


# By personal link, in the patient's language ---------------------------------------------------------------


def test_a_korean_patient_answers_the_second_set_by_link_in_the_sites_wording(client, patient_a, today):
    import re
    from datetime import UTC, datetime

    from django.core import mail

    from outcomes import dispatcher, outbox

    patient_a.identity.preferred_language = "ko"
    patient_a.identity.save()
    patient_a.site.country = "KR"
    patient_a.site.save()
    asked = ["promis10", "ikdc", "lysholm", "tegner", "eq5d5l"]
    fu = plan_episode(patient_a, today, asked)
    report = dispatcher.dispatch(now=datetime.now(tz=UTC))
    for message_id in report.due:
        outbox.message_send(message_id=message_id)
    token = re.search(r"/p/(?!optout)([\w-]+)/", mail.outbox[-1].body).group(1)
    client.get(f"/p/{token}/", follow=True)
    texts, number = "", 1
    while (page := client.get(f"/p/q/{number}/")).status_code == 200:
        texts += page.content.decode()
        form = page.context["form"]
        data = {}
        for name, field in form.fields.items():
            data[name] = str(field.choices[-1][0]) if hasattr(field, "choices") else "3"
        if page.context["page"].instrument == "ikdc" and "item_IKDC6" in data:
            refused = client.post(f"/p/q/{number}/", {**data, "item_IKDC6": "2"})
            assert refused.status_code == 200 and refused.context["form"].errors["item_IKDC6"]
        assert client.post(f"/p/q/{number}/", data).status_code == 303
        number += 1
    assert "무릎이 걸리거나 잠긴 적이 있습니까?" in texts and "오늘의 건강 상태" in texts  # demo wording, Korean
    client.post("/p/q/summary/")
    assert sorted(Response.objects.filter(follow_up=fu).values_list("instrument", flat=True)) == sorted(asked)
    assert stored(fu, "eq5d5l")["value_set"] == "KR" and stored(fu, "eq5d5l")["index"] is not None
    assert stored(fu, "lysholm")["lysholm"] == 0  # the last printed answer of every item: the fewest points


def test_a_site_moving_country_recomputes_its_indices_in_the_new_countrys_value_set(alice, patient_a, today):
    patient_a.site.country = "JP"
    patient_a.site.save()
    fu = plan_episode(patient_a, today, ["eq5d5l"])
    services.response_submit(follow_up=fu, instrument="eq5d5l", answers=STATE, by=alice, mode="phone")
    assert stored(fu, "eq5d5l")["value_set"] == "JP"
    patient_a.site.country = "CN"
    patient_a.site.save()
    index = scoring.score("eq5d5l", STATE, value_set="CN").scores["index"]
    assert stored(fu, "eq5d5l") == {"index": pytest.approx(index), "value_set": "CN"}


def test_every_instrument_s_version_and_id_fit_the_columns_that_store_them():
    """PostgreSQL refuses a value longer than its column where SQLite stores it anyway: the demo seed once failed
    there on "KOOS, JR. (Lyman 2016)" in a 20-character column."""
    import scoring
    from outcomes.models import Response, Score

    version = Response._meta.get_field("instrument_version").max_length
    instrument = Score._meta.get_field("instrument").max_length
    key = Score._meta.get_field("key").max_length
    for name, definition in scoring.INSTRUMENTS.items():
        assert len(definition.version) <= version, (name, definition.version)
        assert len(name) <= instrument, name
        for output in definition.outputs:
            assert len(output.key) <= key, (name, output.key)
    assert len(scoring.SCORING_VERSION) <= Response._meta.get_field("scoring_version").max_length
