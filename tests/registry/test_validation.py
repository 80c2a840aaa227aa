"""Clinical invariants hold in the admin (a field error, nothing saved) and in the database (a write is refused).

Admin cases post what the browser would: the form as the admin rendered it, with the one value under test
changed. Each group starts with the same post unchanged, which saves, so a refusal below is due to that value.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django import forms
from django.db import IntegrityError, transaction
from django.urls import reverse

from registry.models import Administration, AdverseEvent, Patient, SubsequentSurgery, TreatmentEpisode
from tests import factories

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
FUTURE = (TODAY + timedelta(days=3)).isoformat()  # after today in every time zone
BORN = date(1958, 4, 12)  # factories.IdentityFactory


@pytest.fixture(autouse=True)
def _frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


# What the browser posts ------------------------------------------------------------------------------------


def _put(form: forms.BaseForm, data: dict[str, Any]) -> None:
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(field, forms.BooleanField):
            if value:
                data[form.add_prefix(name)] = "on"
        else:
            data[form.add_prefix(name)] = "" if value is None else str(value)


def form_data(response) -> dict[str, Any]:
    """The admin form and its inline formsets as rendered, ready to post back."""
    assert response.status_code == 200
    data: dict[str, Any] = {}
    _put(response.context["adminform"].form, data)
    for inline in response.context["inline_admin_formsets"]:
        _put(inline.formset.management_form, data)
        for form in inline.formset.forms:
            _put(form, data)
    return data


def add_row(response, data: dict[str, Any], prefix: str, **values: Any) -> None:
    """Click "Add another" in the inline `prefix` and fill in `values`."""
    (formset,) = [i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == prefix]
    n = int(data[f"{prefix}-TOTAL_FORMS"])
    row: dict[str, Any] = {}
    _put(formset.empty_form, row)
    data.update({key.replace("__prefix__", str(n)): value for key, value in row.items()})
    data.update({f"{prefix}-{n}-{key}": value for key, value in values.items()})
    data[f"{prefix}-TOTAL_FORMS"] = str(n + 1)


def field_errors(response) -> set[str]:
    """Names of the fields with errors, inline ones with their prefix, e.g. 'administrations-0-viability_pct'."""
    assert response.status_code == 200, "the form was saved"
    found = set(response.context["adminform"].form.errors)
    for inline in response.context["inline_admin_formsets"]:
        for form in inline.formset.forms:
            found |= {form.add_prefix(name) for name in form.errors}
        if inline.formset.non_form_errors():
            found.add(f"{inline.formset.prefix}-__all__")
    return found


def _saved(response) -> bool:
    if response.status_code == 200:
        messages = {name: list(errors) for name, errors in response.context["adminform"].form.errors.items()}
        for inline in response.context["inline_admin_formsets"]:
            messages |= {f.add_prefix(n): list(e) for f in inline.formset.forms for n, e in f.errors.items()}
        print("not saved:", messages)
    return response.status_code == 302


# Treatment episodes ----------------------------------------------------------------------------------------

EPISODE_ADD = reverse("admin:registry_treatmentepisode_add")

VALID_EPISODE = {
    "joint": "knee",
    "side": "left",
    "kl_grade": "2",
    "index_date": "2025-03-01",
    "bmi": "27.0",
}


VALID_ADMINISTRATION = {
    "administered_on": "2025-03-01",
    "product_type": "bmac",
    "source": "autologous",
    "cell_dose_millions": "30",
    "viability_pct": "90",
    "volume_ml": "5",
    "harvest_volume_ml": "60",
}


@pytest.fixture
def episode_form(alice_client, patient_a):
    """The add-episode page for patient A, filled in with a valid knee episode."""
    response = alice_client.get(EPISODE_ADD)
    data = form_data(response)
    data.update(VALID_EPISODE, patient=str(patient_a.pk))
    return response, data


def test_a_valid_episode_with_all_inlines_is_saved(alice_client, episode_form):
    response, data = episode_form
    add_row(response, data, "administrations", **{**VALID_ADMINISTRATION, "cell_dose_millions": "30"})
    add_row(
        response,
        data,
        "adverse_events",
        onset_date="2025-03-02",
        event_type="effusion",
        grade="4",
        serious="on",
        relatedness="possible",
        resolution_date="2025-03-10",
    )
    add_row(response, data, "surgeries", surgery_date="2025-05-01", surgery_type="arthroscopy")
    assert _saved(alice_client.post(EPISODE_ADD, data))
    episode = TreatmentEpisode.objects.get()
    assert episode.administrations.get().cell_dose_millions == Decimal("30")
    assert episode.adverse_events.get().serious is True
    assert episode.surgeries.count() == 1


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"kl_grade": "5"}, "kl_grade"),
        ({"kl_grade": "-1"}, "kl_grade"),
        ({"bmi": "9.9"}, "bmi"),
        ({"bmi": "80.1"}, "bmi"),
        ({"index_date": FUTURE}, "index_date"),
        ({"index_date": "1958-04-11"}, "index_date"),  # the day before the patient was born
        ({"joint": "spine", "side": "midline", "kl_grade": "2"}, "kl_grade"),
        ({"joint": "knee", "side": "midline"}, "side"),
        ({"joint": "hip", "side": "midline"}, "side"),
    ],
)
def test_an_invalid_episode_shows_a_field_error_and_saves_nothing(alice_client, episode_form, changes, error):
    _, data = episode_form
    response = alice_client.post(EPISODE_ADD, {**data, **changes})
    assert field_errors(response) == {error}
    assert not TreatmentEpisode.objects.exists()
    assert not TreatmentEpisode.history.exists()


def test_a_spine_episode_without_kl_grade_is_saved(alice_client, episode_form):
    _, data = episode_form
    response = alice_client.post(EPISODE_ADD, {**data, "joint": "spine", "side": "midline", "kl_grade": ""})
    assert _saved(response)
    assert TreatmentEpisode.objects.get().kl_grade is None


VALID_EVENT = {"onset_date": "2025-03-02", "event_type": "effusion", "grade": "2", "relatedness": "possible"}
VALID_SURGERY = {"surgery_date": "2025-05-01", "surgery_type": "total_arthroplasty"}

# Per inline, rows that each break one rule, and the field that must say so. The index date is 2025-03-01.
INVALID_ROWS = {
    "administrations": (
        VALID_ADMINISTRATION,
        [
            ({"administered_on": "2025-02-28"}, "administered_on"),
            ({"administered_on": FUTURE}, "administered_on"),
            ({"cell_dose_millions": "-1"}, "cell_dose_millions"),
            ({"viability_pct": "100.1"}, "viability_pct"),
            ({"viability_pct": "-0.1"}, "viability_pct"),
            ({"volume_ml": "-0.5"}, "volume_ml"),
            ({"harvest_volume_ml": "-10"}, "harvest_volume_ml"),
        ],
    ),
    "adverse_events": (
        VALID_EVENT,
        [
            ({"grade": "4"}, "serious"),
            ({"grade": "5", "outcome": "fatal"}, "serious"),
            ({"grade": "6", "serious": "on"}, "grade"),
            ({"resolution_date": "2025-03-01"}, "resolution_date"),  # the day before onset
            ({"onset_date": FUTURE}, "onset_date"),
            ({"onset_date": "2025-02-28"}, "onset_date"),  # before the index date
        ],
    ),
    "surgeries": (
        VALID_SURGERY,
        [
            ({"surgery_date": FUTURE}, "surgery_date"),
            ({"surgery_date": "2025-02-28"}, "surgery_date"),
        ],
    ),
}


def test_a_valid_episode_with_an_invalid_administration_saves_neither(alice_client, episode_form):
    response, data = episode_form
    add_row(response, data, "administrations", **{**VALID_ADMINISTRATION, "viability_pct": "120"})
    response = alice_client.post(EPISODE_ADD, data)
    assert field_errors(response) == {"administrations-0-viability_pct"}
    assert not TreatmentEpisode.objects.exists()
    assert not Administration.objects.exists()
    assert not TreatmentEpisode.history.exists()


@pytest.mark.parametrize("prefix", list(INVALID_ROWS))
def test_each_invalid_inline_row_shows_its_field_error_and_nothing_is_saved(alice_client, episode_form, prefix):
    response, data = episode_form
    valid, cases = INVALID_ROWS[prefix]
    add_row(response, data, prefix, **valid)  # one good row, which must not be saved either
    for values, _ in cases:
        add_row(response, data, prefix, **{**valid, **values})
    response = alice_client.post(EPISODE_ADD, data)
    assert field_errors(response) == {f"{prefix}-{n}-{field}" for n, (_, field) in enumerate(cases, start=1)}
    assert not TreatmentEpisode.objects.exists()
    assert not (Administration.objects.exists() or AdverseEvent.objects.exists() or SubsequentSurgery.objects.exists())


def test_editing_an_episode_with_an_invalid_administration_changes_nothing(alice_client, patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, kl_grade=2)
    administration = factories.AdministrationFactory(episode=episode, viability_pct=Decimal("90"))
    url = reverse("admin:registry_treatmentepisode_change", args=[episode.pk])
    data = form_data(alice_client.get(url))
    data.update({"kl_grade": "3", "administrations-0-viability_pct": "140", "change_reason": "Re-read the X-ray"})
    response = alice_client.post(url, data)
    assert field_errors(response) == {"administrations-0-viability_pct"}
    episode.refresh_from_db()
    administration.refresh_from_db()
    assert (episode.kl_grade, administration.viability_pct) == (2, Decimal("90"))
    assert episode.history.count() == 1 and administration.history.count() == 1


def test_moving_the_index_date_after_an_administration_is_refused(alice_client, patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=date(2025, 3, 1))
    factories.AdministrationFactory(episode=episode)
    url = reverse("admin:registry_treatmentepisode_change", args=[episode.pk])
    data = {**form_data(alice_client.get(url)), "index_date": "2025-03-05", "change_reason": "Typo"}
    response = alice_client.post(url, data)
    assert field_errors(response) == {"administrations-0-administered_on"}
    episode.refresh_from_db()
    assert episode.index_date == date(2025, 3, 1)


# Patients --------------------------------------------------------------------------------------------------

PATIENT_ADD = reverse("admin:registry_patient_add")


@pytest.fixture
def patient_form(alice_client, site_a):
    response = alice_client.get(PATIENT_ADD)
    data = form_data(response)
    data.update(
        {
            "sex": "female",
            "consent_version": "2.1",
            "consent_date": "2025-02-20",
            # Consent is asked, never pre-ticked: the coordinator records each answer.
            "consent_follow_up": "True",
            "consent_research": "True",
            "consent_email": "True",
            "consent_taken": "paper",
            "contact_channel": "email",
            "identity-0-given_name": "Ada",
            "identity-0-family_name": "Example",
            "identity-0-date_of_birth": "1960-05-01",
        }
    )
    assert data["site"] == str(site_a.pk)  # offered as the coordinator's only site
    return response, data


def test_a_valid_patient_with_identity_and_episode_is_saved(alice_client, patient_form):
    response, data = patient_form
    add_row(response, data, "episodes", joint="knee", side="right", kl_grade="3", index_date="2025-03-01")
    assert _saved(alice_client.post(PATIENT_ADD, data))
    patient = Patient.objects.get()
    assert patient.identity.date_of_birth == date(1960, 5, 1)
    assert patient.episodes.get().kl_grade == 3


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"consent_date": FUTURE}, "consent_date"),
        ({"identity-0-date_of_birth": FUTURE}, "identity-0-date_of_birth"),
        ({"withdrawn_on": "2025-02-19", "withdrawal_reason": "Moved"}, "withdrawn_on"),  # before consent
        ({"withdrawn_on": "2025-04-01"}, "withdrawal_reason"),
    ],
)
def test_an_invalid_patient_shows_a_field_error_and_saves_nothing(alice_client, patient_form, changes, error):
    _, data = patient_form
    response = alice_client.post(PATIENT_ADD, {**data, **changes})
    assert field_errors(response) == {error}
    assert not Patient.objects.exists()


def test_a_new_patient_cannot_have_an_episode_before_their_birth(alice_client, patient_form):
    response, data = patient_form
    data["identity-0-date_of_birth"] = "2025-01-10"  # a typo for 1955
    add_row(response, data, "episodes", joint="knee", side="right", kl_grade="3", index_date="2025-01-09")
    response = alice_client.post(PATIENT_ADD, data)
    assert field_errors(response) == {"episodes-0-index_date"}
    assert not Patient.objects.exists()
    assert not TreatmentEpisode.objects.exists()


def test_a_date_of_birth_after_an_existing_episode_is_refused(alice_client, patient_a):
    factories.EpisodeFactory(patient=patient_a, index_date=date(2024, 6, 1))
    url = reverse("admin:registry_patient_change", args=[patient_a.pk])
    data = form_data(alice_client.get(url))
    data.update({"identity-0-date_of_birth": "2024-07-01", "change_reason": "Corrected date of birth"})
    response = alice_client.post(url, data)
    assert field_errors(response) == {"episodes-0-index_date"}
    patient_a.identity.refresh_from_db()
    assert patient_a.identity.date_of_birth == BORN


# The database refuses what the forms refuse ----------------------------------------------------------------


@pytest.fixture
def episode(patient_a):
    return factories.EpisodeFactory(patient=patient_a, index_date=date(2025, 3, 1))


def _refused(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ({"kl_grade": 4}, {"kl_grade": 5}),
        ({"kl_grade": 0}, {"kl_grade": -1}),
        ({"bmi": Decimal("10")}, {"bmi": Decimal("9.9")}),
        ({"bmi": Decimal("80")}, {"bmi": Decimal("80.1")}),
        ({"joint": "knee", "side": "left"}, {"joint": "knee", "side": "midline"}),
        ({"joint": "hip", "side": "right"}, {"joint": "hip", "side": "midline"}),
        ({"joint": "spine", "side": "midline", "kl_grade": None}, {"joint": "knee", "side": "sideways"}),
    ],
)
def test_the_database_refuses_an_invalid_episode(patient_a, good, bad):
    factories.EpisodeFactory(patient=patient_a, **good)
    _refused(lambda: factories.EpisodeFactory(patient=patient_a, **bad))
    assert TreatmentEpisode.objects.count() == 1


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ({"cell_dose_millions": Decimal("0")}, {"cell_dose_millions": Decimal("-0.01")}),
        ({"viability_pct": Decimal("100")}, {"viability_pct": Decimal("100.1")}),
        ({"viability_pct": Decimal("0")}, {"viability_pct": Decimal("-1")}),
        ({"volume_ml": Decimal("0")}, {"volume_ml": Decimal("-1")}),
        ({"harvest_volume_ml": Decimal("0")}, {"harvest_volume_ml": Decimal("-1")}),
    ],
)
def test_the_database_refuses_an_invalid_administration(episode, good, bad):
    factories.AdministrationFactory(episode=episode, **good)
    _refused(lambda: factories.AdministrationFactory(episode=episode, **bad))
    assert Administration.objects.count() == 1


@pytest.mark.parametrize(
    ("good", "bad"),
    [
        ({"grade": 4, "serious": True}, {"grade": 4, "serious": False}),
        ({"grade": 5, "serious": True, "outcome": "fatal"}, {"grade": 5, "serious": False, "outcome": "fatal"}),
        ({"grade": 1}, {"grade": 0}),
        ({"grade": 5, "serious": True}, {"grade": 6, "serious": True}),
        (
            {"onset_date": date(2025, 3, 5), "resolution_date": date(2025, 3, 5)},
            {"onset_date": date(2025, 3, 5), "resolution_date": date(2025, 3, 4)},
        ),
    ],
)
def test_the_database_refuses_an_invalid_adverse_event(episode, good, bad):
    factories.AdverseEventFactory(episode=episode, **good)
    _refused(lambda: factories.AdverseEventFactory(episode=episode, **bad))
    assert AdverseEvent.objects.count() == 1


def test_the_database_refuses_an_update_that_breaks_a_rule(episode):
    administration = factories.AdministrationFactory(episode=episode)
    _refused(lambda: Administration.objects.filter(pk=administration.pk).update(viability_pct=Decimal("101")))
    _refused(lambda: TreatmentEpisode.objects.filter(pk=episode.pk).update(kl_grade=7))
    administration.refresh_from_db()
    assert administration.viability_pct == Decimal("92.0")


def test_the_database_refuses_withdrawal_before_consent(patient_a):
    _refused(lambda: Patient.objects.filter(pk=patient_a.pk).update(withdrawn_on=patient_a.consent_date - timedelta(1)))


# "Today" is the clinic's today ---------------------------------------------------------------------------


def test_a_clinic_east_of_utc_can_record_its_today_before_utc_midnight(client, alice, site_a, patient_a):
    # 08:30 in Seoul is 23:30 the day before in UTC, the registry's TIME_ZONE.
    site_a.time_zone = "Asia/Seoul"
    site_a.save()
    episode = factories.EpisodeFactory(patient=patient_a, index_date=date(2025, 6, 1))
    url = reverse("admin:registry_administration_add")
    with time_machine.travel(datetime(2025, 6, 15, 23, 30, tzinfo=UTC), tick=False):
        client.force_login(alice)
        data = form_data(client.get(url))
        data.update({**VALID_ADMINISTRATION, "episode": str(episode.pk), "administered_on": "2025-06-16"})
        assert _saved(client.post(url, data))
        data["administered_on"] = "2025-06-18"
        assert field_errors(client.post(url, data)) == {"administered_on"}
    assert Administration.objects.get().administered_on == date(2025, 6, 16)
