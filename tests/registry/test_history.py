"""Every change to clinical data keeps a history row: who, when, the old and new values, and why."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django import forms
from django.core.management import call_command
from django.urls import reverse

from registry.demo import SEED_REASON
from registry.models import (
    Administration,
    AdverseEvent,
    Patient,
    PatientIdentity,
    SubsequentSurgery,
    TreatmentEpisode,
)
from tests import factories

pytestmark = pytest.mark.django_db


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


def _change_reason_errors(response) -> list[str]:
    assert response.status_code == 200, "the form was saved"
    return response.context["adminform"].form.errors.get("change_reason", [])


@pytest.fixture
def episode(patient_a):
    episode = factories.EpisodeFactory(patient=patient_a, kl_grade=2, index_date=date(2025, 3, 1))
    factories.AdministrationFactory(episode=episode, cell_dose_millions=Decimal("30"))
    return episode


def _episode_url(episode: TreatmentEpisode, view: str = "change") -> str:
    return reverse(f"admin:registry_treatmentepisode_{view}", args=[episode.pk])


def test_creating_a_patient_in_the_admin_records_who_did_it(alice_client, alice, site_a):
    url = reverse("admin:registry_patient_add")
    data = form_data(alice_client.get(url))
    data.update(
        {
            "sex": "male",
            "consent_version": "2.1",
            "consent_date": "2025-02-20",
            # Consent is asked, never pre-ticked: the coordinator records each answer.
            "consent_follow_up": "True",
            "consent_research": "True",
            "consent_email": "True",
            "consent_taken": "paper",
            "contact_channel": "email",
            "identity-0-given_name": "Bo",
            "identity-0-family_name": "Example",
            "identity-0-date_of_birth": "1961-01-31",
        }
    )
    assert alice_client.post(url, data).status_code == 302
    patient = Patient.objects.get()
    (created,) = patient.history.all()
    assert (created.history_type, created.history_user, created.history_change_reason) == (
        "+",
        alice,
        "created in admin",
    )
    (identity_created,) = PatientIdentity.history.filter(patient_id=patient.pk)
    assert identity_created.history_user == alice


def test_editing_a_saved_record_without_a_reason_is_refused(alice_client, episode):
    data = {**form_data(alice_client.get(_episode_url(episode))), "kl_grade": "3"}
    response = alice_client.post(_episode_url(episode), data)
    assert _change_reason_errors(response) == ["Say why this saved record is being changed."]
    episode.refresh_from_db()
    assert episode.kl_grade == 2
    assert episode.history.count() == 1


def test_a_blank_reason_is_no_reason(alice_client, episode):
    data = {**form_data(alice_client.get(_episode_url(episode))), "kl_grade": "3", "change_reason": "   "}
    assert _change_reason_errors(alice_client.post(_episode_url(episode), data))
    episode.refresh_from_db()
    assert episode.kl_grade == 2


def test_saving_an_unchanged_record_needs_no_reason(alice_client, episode):
    response = alice_client.post(_episode_url(episode), form_data(alice_client.get(_episode_url(episode))))
    assert response.status_code == 302


def test_the_reason_and_both_values_are_kept(alice_client, alice, episode):
    data = form_data(alice_client.get(_episode_url(episode)))
    data.update({"kl_grade": "3", "change_reason": "Radiologist re-read the X-ray"})
    assert alice_client.post(_episode_url(episode), data).status_code == 302
    new, old = episode.history.order_by("-history_id")[:2]
    assert (old.kl_grade, new.kl_grade) == (2, 3)
    assert (new.history_type, new.history_user, new.history_change_reason) == (
        "~",
        alice,
        "Radiologist re-read the X-ray",
    )
    assert [(c.field, c.old, c.new) for c in new.diff_against(old).changes] == [("kl_grade", 2, 3)]


def test_the_history_page_shows_the_change(alice_client, episode):
    data = form_data(alice_client.get(_episode_url(episode)))
    data.update({"kl_grade": "3", "change_reason": "Radiologist re-read the X-ray"})
    alice_client.post(_episode_url(episode), data)
    page = alice_client.get(_episode_url(episode, "history"))
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.content.decode()))
    assert "Radiologist re-read the X-ray" in text
    assert "alice" in text
    assert re.search(r"Kellgren-Lawrence grade: 2 \W+ 3", text.replace("&nbsp;", " ").replace("&rarr;", "->")), text


def test_editing_an_inline_record_without_a_reason_is_refused(alice_client, episode):
    data = form_data(alice_client.get(_episode_url(episode)))
    data["administrations-0-cell_dose_millions"] = "45"
    response = alice_client.post(_episode_url(episode), data)
    assert response.status_code == 200, "the change was saved without a reason"
    (administrations,) = [
        i.formset for i in response.context["inline_admin_formsets"] if i.formset.prefix == "administrations"
    ]
    assert administrations.non_form_errors() == [
        "Say why these saved records are being changed, in 'Reason for change'."
    ]
    administration = episode.administrations.get()
    assert administration.cell_dose_millions == Decimal("30")
    assert administration.history.count() == 1


def test_an_inline_record_keeps_the_reason_given_on_the_page(alice_client, alice, episode):
    data = form_data(alice_client.get(_episode_url(episode)))
    data.update({"administrations-0-cell_dose_millions": "45", "change_reason": "Lab report corrected the count"})
    assert alice_client.post(_episode_url(episode), data).status_code == 302
    latest = episode.administrations.get().history.latest()
    assert (latest.cell_dose_millions, latest.history_user, latest.history_change_reason) == (
        Decimal("45"),
        alice,
        "Lab report corrected the count",
    )


def test_editing_the_identity_on_the_patient_page_needs_a_reason(alice_client, patient_a):
    url = reverse("admin:registry_patient_change", args=[patient_a.pk])
    data = {**form_data(alice_client.get(url)), "identity-0-family_name": "Aardwolf"}
    assert alice_client.post(url, data).status_code == 200
    assert PatientIdentity.objects.get(pk=patient_a.pk).family_name == "Aardvark"
    data["change_reason"] = "Married name"
    assert alice_client.post(url, data).status_code == 302
    latest = PatientIdentity.history.filter(patient_id=patient_a.pk).latest()
    assert (latest.family_name, latest.history_change_reason) == ("Aardwolf", "Married name")


def test_another_sites_historical_version_is_not_found(alice_client, patient_b):
    version = patient_b.history.get()
    url = reverse("admin:registry_patient_simple_history", args=[patient_b.pk, version.pk])
    assert alice_client.get(url).status_code == 404
    # Nor can it be "reverted" into the coordinator's own site.
    response = alice_client.post(url, {"site": "1", "sex": "male", "consent_version": "x", "change_reason": "x"})
    assert response.status_code == 404
    patient_b.refresh_from_db()
    assert (patient_b.sex, patient_b.history.count()) == ("female", 1)


def test_own_sites_historical_version_opens(alice_client, patient_a):
    version = patient_a.history.get()
    url = reverse("admin:registry_patient_simple_history", args=[patient_a.pk, version.pk])
    response = alice_client.get(url)
    assert response.status_code == 200
    assert patient_a.registry_id.encode() in response.content


def test_seeded_rows_have_history_with_the_seed_reason():
    call_command("seed_demo", "--patients", "12", "--seed", "5", "--as-of", "2025-06-01", stdout=None)
    for model in (Patient, PatientIdentity, TreatmentEpisode, Administration, AdverseEvent, SubsequentSurgery):
        rows = model.objects.count()
        history = model.history.all()
        assert history.count() == rows, model.__name__
        assert set(history.values_list("history_type", "history_change_reason").distinct()) <= {("+", SEED_REASON)}
    assert Patient.history.count() == 12
