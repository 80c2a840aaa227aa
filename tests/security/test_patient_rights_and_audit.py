"""Patient rights (access request, anonymisation) and an audit trail the application cannot rewrite."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from outcomes import services
from outcomes.models import AccessToken, CallAttempt, Response
from registry.models import PatientIdentity
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def treated(patient_a, alice):
    episode = factories.EpisodeFactory(patient=patient_a, index_date=date.today() - timedelta(days=100))
    factories.AdministrationFactory(episode=episode)
    m3 = episode.follow_ups.get(timepoint="m3")
    services.response_submit(follow_up=m3, instrument="vas", answers={"vas_mm": 42}, by=alice, mode="phone")
    services.call_log(follow_up=m3, outcome="left_message", by=alice, note="her daughter Jane takes messages")
    return patient_a


def test_a_coordinator_exports_everything_held_about_a_patient(alice_client, treated, alice):
    response = alice_client.get(reverse("admin:registry_patient_export", args=[treated.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].endswith(f'patient-{treated.registry_id}.json"')
    data = json.loads(response.content)
    assert data["identity"]["family_name"] == "Aardvark"
    assert data["episodes"][0]["administrations"][0]["product_type"] == "bmac"
    m3 = next(f for f in data["episodes"][0]["follow_ups"] if f["timepoint"] == "m3")
    assert m3["responses"][0]["answers"] == {"vas_mm": 42}
    assert {s["key"] for s in m3["scores"]} == {"vas_mm"}
    assert [(c["outcome"], c["note"]) for c in m3["calls"]] == [("left_message", "her daughter Jane takes messages")]
    assert data["change_history"]
    entry = LogEntry.objects.get(object_id=str(treated.pk))
    assert entry.user == alice and "access request" in entry.change_message


def test_anonymisation_needs_withdrawal_and_the_site_policy(alice_client, treated, site_a):
    url = reverse("admin:registry_patient_anonymise", args=[treated.pk])
    page = alice_client.post(url, {"reason": "request of 2026-11-01"})
    assert "Only a patient who has withdrawn" in page.content.decode()
    treated.withdrawn_on, treated.withdrawal_reason = date.today(), "withdrew"
    treated.save()
    page = alice_client.post(url, {"reason": "request of 2026-11-01"})
    assert "policy keeps withdrawn records" in page.content.decode()
    assert PatientIdentity.objects.get(patient=treated).family_name == "Aardvark"


def test_anonymisation_removes_identity_everywhere_and_keeps_the_clinical_record(alice_client, treated, site_a):
    site_a.withdrawal_policy = "anonymise"
    site_a.save()
    treated.withdrawn_on, treated.withdrawal_reason = date.today(), "withdrew"
    treated.save()
    AccessToken.objects.create(token_hash="x" * 64, patient=treated, expires_at=treated.created_at)
    from django.contrib.admin.models import CHANGE
    from django.contrib.auth.models import User

    PatientIdentity.objects.filter(patient=treated).update(given_name="민지")
    LogEntry.objects.log_actions(  # what the admin writes on an edit of the patient page's identity inline
        user_id=User.objects.get(username="alice").pk,
        queryset=[treated],
        action_flag=CHANGE,
        change_message=[{"changed": {"name": "identity", "object": "Aardvark, 민지", "fields": ["phone"]}}],
        single_object=True,
    )
    response = alice_client.post(
        reverse("admin:registry_patient_anonymise", args=[treated.pk]), {"reason": "request of 2026-11-01"}
    )
    assert response.status_code == 302
    identity = PatientIdentity.objects.get(patient=treated)
    assert (identity.family_name, identity.email, identity.phone) == ("anonymised", "", "")
    assert identity.date_of_birth == date(1958, 7, 1)  # the year stays, for ages
    for row in PatientIdentity.history.filter(patient_id=treated.pk):
        assert row.family_name == "anonymised" and "Aardvark" not in row.email
    last = PatientIdentity.history.filter(patient_id=treated.pk).order_by("-history_date").first()
    assert last.history_change_reason.startswith("anonymised: request of 2026-11-01")
    assert Response.objects.filter(follow_up__episode__patient=treated).count() == 1  # clinical data kept
    assert not AccessToken.objects.filter(patient=treated).exists()
    call = CallAttempt.objects.get(follow_up__episode__patient=treated)
    assert (call.outcome, call.note) == ("left_message", "")  # free text about the person erased, the call kept
    assert "Anonymised" in LogEntry.objects.filter(object_id=str(treated.pk)).latest("action_time").change_message
    for entry in LogEntry.objects.filter(object_id=str(treated.pk)):
        text = entry.change_message + entry.object_repr
        assert "Aardvark" not in text and "민지" not in text and "\\ubbfc" not in text, text


def test_another_sites_patient_cannot_be_exported_or_anonymised(alice_client, patient_b):
    for name in ("admin:registry_patient_export", "admin:registry_patient_anonymise"):
        assert alice_client.get(reverse(name, args=[patient_b.pk])).status_code == 404
    assert not LogEntry.objects.exists()


def test_staff_accounts_are_deactivated_not_deleted(charlie_client, alice):
    assert charlie_client.get(reverse("admin:auth_user_delete", args=[alice.pk])).status_code == 403


@pytest.mark.skipif(connection.vendor != "postgresql", reason="enforced by PostgreSQL triggers; CI runs it there")
def test_the_database_refuses_to_edit_or_delete_history(treated):
    history = treated.history.model
    for attempt in (
        lambda: history.objects.filter(id=treated.pk).update(sex="male"),
        lambda: history.objects.filter(id=treated.pk).delete(),
        lambda: Response.history.all().update(mode="paper"),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            attempt()
    assert history.objects.filter(id=treated.pk, sex="female").exists()
    # Without the anonymisation's permission, identity history is protected too.
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        PatientIdentity.history.filter(patient_id=treated.pk).update(family_name="x")
