"""Where staff and researchers first meet the registry: consent asked, never assumed; a new patient's registry ID
that does not change under the coordinator's eyes; a researcher at the admin login told where their data is; an
API that says 405 to a method it does not have."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User

from registry.models import Patient

pytestmark = pytest.mark.django_db

ADD = "/admin/registry/patient/add/"


def add_form_data(registry_id_signed: str, **overrides: str) -> dict[str, str]:
    data = {
        "registry_id_signed": registry_id_signed,
        "site": "",
        "sex": "female",
        "consent_taken": "paper",
        "consent_version": "2.1",
        "consent_date": "2026-01-05",
        "contact_channel": "email",
        "withdrawn_on": "",
        "withdrawal_reason": "",
        "change_reason": "",
        "identity-TOTAL_FORMS": "1",
        "identity-INITIAL_FORMS": "0",
        "identity-MIN_NUM_FORMS": "0",
        "identity-MAX_NUM_FORMS": "1",
        "identity-0-given_name": "Noor",
        "identity-0-family_name": "Haddad",
        "identity-0-date_of_birth": "1961-03-04",
        "identity-0-email": "noor@example.test",
        "identity-0-phone": "",
        "identity-0-preferred_language": "en",
        "identity-0-medical_record_number": "",
        "episodes-TOTAL_FORMS": "0",
        "episodes-INITIAL_FORMS": "0",
        "episodes-MIN_NUM_FORMS": "0",
        "episodes-MAX_NUM_FORMS": "1000",
    }
    data.update(overrides)
    return data


def shown_registry_id(html: str) -> str:
    return re.search(r"R-[0-9A-Z]{10}", html).group(0)


def signed_field(html: str) -> str:
    return re.search(r'name="registry_id_signed" value="([^"]+)"', html).group(1)


def test_consent_starts_unticked_and_each_scope_needs_an_explicit_answer(alice_client, site_a):
    page = alice_client.get(ADD).content.decode()
    for name in ("consent_follow_up", "consent_research", "consent_email"):
        radios = re.findall(rf'<input type="radio" name="{name}"[^>]*>', page)
        assert len(radios) == 2 and not any("checked" in r for r in radios), name
    data = add_form_data(signed_field(page), site=str(site_a.pk), consent_follow_up="True", consent_email="True")
    refused = alice_client.post(ADD, data)
    assert refused.status_code == 200
    assert "Ask the patient and record yes or no." in refused.content.decode()
    assert not Patient.objects.filter(identity__family_name="Haddad").exists()


def test_the_registry_id_shown_is_kept_across_a_failed_save_and_given_to_the_patient(alice_client, site_a):
    page = alice_client.get(ADD).content.decode()
    first = shown_registry_id(page)
    failed = alice_client.post(ADD, add_form_data(signed_field(page), site=str(site_a.pk))).content.decode()
    assert shown_registry_id(failed) == first  # the save failed (no consent answers): the same ID is shown
    data = add_form_data(
        signed_field(failed),
        site=str(site_a.pk),
        consent_follow_up="True",
        consent_research="False",
        consent_email="True",
    )
    assert alice_client.post(ADD, data).status_code == 302
    patient = Patient.objects.get(identity__family_name="Haddad")
    assert patient.registry_id == first
    assert (patient.consent_follow_up, patient.consent_research, patient.consent_email) == (True, False, True)


def test_a_tampered_registry_id_is_not_taken(alice_client, site_a):
    data = add_form_data(
        "R-AAAAAAAAAA:forged",
        site=str(site_a.pk),
        consent_follow_up="True",
        consent_research="True",
        consent_email="True",
    )
    assert alice_client.post(ADD, data).status_code == 302
    assert Patient.objects.get(identity__family_name="Haddad").registry_id != "R-AAAAAAAAAA"


def test_a_researcher_at_the_admin_login_is_sent_to_the_api(client):
    User.objects.create_user("researcher", password="a-long-research-password", is_staff=False)
    response = client.post("/admin/login/", {"username": "researcher", "password": "a-long-research-password"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Researchers read the registry" in body and 'href="/api/v1/docs/"' in body
    assert "correct username and password" not in body
    wrong = client.post("/admin/login/", {"username": "researcher", "password": "not-the-password"})
    assert "correct username and password" in wrong.content.decode()  # a wrong password says nothing more
