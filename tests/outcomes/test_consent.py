"""Consent given by the patient: the site's consent document opens the first link of a patient whose consent is
not yet recorded; agree, follow-up only and decline decide what follows; every message carries a link to leave
the registry, which follows the site's withdrawal policy; staff still record paper consent with its version."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client

from outcomes import dispatcher, outbox
from outcomes.models import AccessToken, FollowUpStatus, Message, MessageStatus, Response
from outcomes.texting import outbox as text_outbox
from registry.models import ConsentDecision, ConsentDocument, Patient, PatientIdentity
from research.access import registry_research_queryset, research_queryset
from research.services import api_key_create
from tests.outcomes.test_patient_link import answer_every_page

pytestmark = pytest.mark.django_db

DOCUMENT_TEXT = "Why the registry exists.\n\nWhat we ask of you.\n\nYou may leave at any time."


def pending(patient: Patient) -> Patient:
    Patient.objects.filter(pk=patient.pk).update(
        consent_date=None, consent_version="", consent_follow_up=False, consent_research=False
    )
    patient.refresh_from_db()
    return patient


@pytest.fixture
def document(site_a) -> ConsentDocument:
    return ConsentDocument.objects.create(
        site=site_a, language="en", version="3.0", title="Joining the outcome registry", text=DOCUMENT_TEXT
    )


@pytest.fixture
def asked(patient_a, knee_episode, document) -> Patient:
    """A patient whose consent is to be given by their first link, with a knee treatment 100 days ago."""
    return pending(patient_a)


def invite() -> str:
    report = dispatcher.dispatch(now=datetime.now(tz=UTC))
    for message_id in report.due:
        outbox.message_send(message_id=message_id)
    return mail.outbox[-1].body


def token_in(body: str, path: str = "") -> str:
    return re.search(rf"/p/{path}(?!optout|withdraw)([\w-]{{20,}})/", body).group(1)


def answer(client: Client, decision: str):
    return client.post("/p/q/consent/", {"decision": decision})


def test_the_first_link_opens_on_the_consent_document_and_nothing_else_is_asked_before(client, asked, document):
    body = invite()
    assert "The link first shows the registry's consent form: you decide whether to take part." in body
    opened = client.get(f"/p/{token_in(body)}/", follow=True)
    assert opened.redirect_chain[-1][0] == "/p/q/consent/"
    page = opened.content.decode()
    assert "Joining the outcome registry" in page and "Version 3.0" in page
    assert page.count("<p>Why the registry exists.</p>") == 1 and "<p>You may leave at any time.</p>" in page
    for choice in ("Yes, I take part", "Yes to follow-up, but not to research use", "No, I do not take part"):
        assert choice in page
    # The questions wait for the answer: neither a page nor the summary opens past it.
    assert client.get("/p/q/1/")["Location"] == "/p/q/"
    assert client.get("/p/q/summary/")["Location"] == "/p/q/"
    assert client.get("/p/q/")["Location"] == "/p/q/consent/"


def test_agreeing_records_the_version_language_time_and_channel_then_the_questions_follow(client, asked, document):
    client.get(f"/p/{token_in(invite())}/")
    assert answer(client, "agree")["Location"] == "/p/q/"
    asked.refresh_from_db()
    assert (asked.consent_version, asked.consent_follow_up, asked.consent_research) == ("3.0", True, True)
    assert asked.consent_date is not None
    [decision] = ConsentDecision.objects.filter(patient=asked)
    assert (decision.decision, decision.version, decision.language, decision.channel, decision.document) == (
        "agree",
        "3.0",
        "en",
        "email",
        document,
    )
    assert asked.history.first().history_change_reason.startswith("consent answered by the patient")
    assert "2 short questionnaires" in client.get("/p/q/").content.decode()
    answer_every_page(client)
    client.post("/p/q/summary/")
    assert Response.objects.filter(follow_up__episode__patient=asked).count() == 2
    key, _ = api_key_create(name="Study", sites=[asked.site], tier="rows")
    assert research_queryset(Patient, key).filter(pk=asked.pk).exists()


def test_follow_up_only_keeps_the_patient_out_of_research(client, asked):
    client.get(f"/p/{token_in(invite())}/")
    assert answer(client, "follow_up_only")["Location"] == "/p/q/"
    asked.refresh_from_db()
    assert (asked.consent_follow_up, asked.consent_research) == (True, False)
    assert "2 short questionnaires" in client.get("/p/q/").content.decode()


def test_a_decline_sends_nothing_more_and_releases_nothing(client, asked):
    client.get(f"/p/{token_in(invite())}/")
    declined = answer(client, "decline")
    assert declined.status_code == 200
    assert "You do not take part in the registry." in declined.content.decode()
    asked.refresh_from_db()
    assert (asked.consent_follow_up, asked.consent_research, asked.consent_date is not None) == (False, False, True)
    assert ConsentDecision.objects.get(patient=asked).decision == "decline"
    # The session ended with the answer, and no reminder or later invitation goes out.
    assert client.get("/p/q/").status_code == 404
    sent = len(mail.outbox)
    report = dispatcher.dispatch(now=datetime.now(tz=UTC) + timedelta(days=20))
    assert report.invitations == 0 and not report.due and len(mail.outbox) == sent
    assert not Message.objects.filter(patient=asked, status=MessageStatus.PENDING).exists()


def test_no_answer_chosen_is_a_clear_error_and_nothing_is_recorded(client, asked):
    client.get(f"/p/{token_in(invite())}/")
    for bad in ({}, {"decision": "maybe"}, {"decision": "withdraw"}):
        refused = client.post("/p/q/consent/", bad)
        assert refused.status_code == 200 and 'aria-invalid="true"' in refused.content.decode()
        assert "Please choose one of the three answers." in refused.content.decode()
    assert not ConsentDecision.objects.exists()
    asked.refresh_from_db()
    assert asked.consent_pending


def test_the_document_is_in_the_patients_language_when_the_site_has_one(client, asked, document):
    ConsentDocument.objects.create(
        site=asked.site, language="ko", version="3.0", title="결과 레지스트리 참여", text="레지스트리 안내.", demo=True
    )
    PatientIdentity.objects.filter(patient=asked).update(preferred_language="ko")
    client.get(f"/p/{token_in(invite())}/")
    page = client.get("/p/q/consent/").content.decode()
    assert "결과 레지스트리 참여" in page and "Joining the outcome registry" not in page
    answer(client, "agree")
    assert ConsentDecision.objects.get(patient=asked).language == "ko"


def test_without_a_consent_document_a_pending_patient_is_not_contacted(asked, document):
    document.delete()
    report = dispatcher.dispatch(now=datetime.now(tz=UTC))
    assert report.invitations == 0 and not mail.outbox


def test_a_pending_patient_is_not_released_to_research_even_with_the_research_flag(asked):
    key, _ = api_key_create(name="Study", sites=[asked.site], tier="rows")
    Patient.objects.filter(pk=asked.pk).update(consent_research=True)
    assert not research_queryset(Patient, key).filter(pk=asked.pk).exists()
    assert not registry_research_queryset(Patient).filter(pk=asked.pk).exists()


def test_every_email_and_text_carries_a_link_to_leave_the_registry(asked):
    PatientIdentity.objects.filter(patient=asked).update(mobile="+15555550123")
    Patient.objects.filter(pk=asked.pk).update(contact_channel="both")
    noon = datetime.now(tz=UTC).replace(hour=12, minute=0)  # the site is on UTC: texts go out in the daytime only
    with time_machine.travel(noon, tick=False):
        invite()
    withdraw = re.search(r"/p/withdraw/([\w-]+)/", mail.outbox[-1].body)
    assert withdraw and "Leave the registry:" in mail.outbox[-1].body
    assert "/p/withdraw/" in mail.outbox[-1].alternatives[0][0]
    [text] = text_outbox
    assert "Leave the registry: " in text.body and "/p/withdraw/" in text.body


@pytest.mark.parametrize("policy", ["keep", "anonymise"])
def test_leaving_by_the_link_withdraws_as_staff_withdrawal_does_and_follows_the_site_policy(
    client, patient_a, knee_episode, policy
):
    site = patient_a.site
    site.withdrawal_policy = policy
    site.save()
    body = invite()
    token = re.search(r"/p/withdraw/([\w-]+)/", body).group(1)
    confirm = client.get(f"/p/withdraw/{token}/").content.decode()
    assert "Leave the registry?" in confirm
    assert ("Your name and contact details are then removed" in confirm) == (policy == "anonymise")
    patient_a.refresh_from_db()
    assert not patient_a.is_withdrawn  # opening the page changes nothing
    done = client.post(f"/p/withdraw/{token}/")
    assert done.status_code == 200 and "You have left the registry" in done.content.decode()
    patient_a.refresh_from_db()
    assert patient_a.is_withdrawn
    # The reason names the link; at an anonymising site free text about the patient goes with the identity.
    assert patient_a.withdrawal_reason.startswith("Withdrawn by the patient") == (policy == "keep")
    assert ConsentDecision.objects.get(patient=patient_a).decision == "withdraw"
    statuses = set(knee_episode.follow_ups.values_list("status", flat=True))
    assert FollowUpStatus.WITHDRAWN in statuses and FollowUpStatus.OPEN not in statuses
    assert not AccessToken.objects.filter(patient=patient_a, ended_at__isnull=True).exists()
    identity = PatientIdentity.objects.get(patient=patient_a)
    assert (identity.email == "") == (policy == "anonymise")
    assert (identity.family_name == "anonymised") == (policy == "anonymise")
    again = client.post(f"/p/withdraw/{token}/")
    if policy == "anonymise":  # the links went with the identity: the neutral page, naming nobody
        assert again.status_code == 404
    else:
        assert "We have already recorded that you left." in again.content.decode()
    assert ConsentDecision.objects.filter(patient=patient_a).count() == 1


def test_a_tampered_or_unknown_withdraw_link_is_the_neutral_page(client, patient_a, knee_episode):
    invite()
    for token in ("x" * 43, "abc", "%27"):
        assert client.post(f"/p/withdraw/{token}/").status_code == 404
    patient_a.refresh_from_db()
    assert not patient_a.is_withdrawn


def test_a_consent_document_without_a_version_is_refused_with_a_reason(alice_client, site_a):
    before = ConsentDocument.objects.count()
    page = alice_client.post(
        "/admin/registry/consentdocument/add/",
        {"site": site_a.pk, "language": "en", "version": "  ", "title": "Registry", "text": "Text.", "active": "on"},
    )
    assert page.status_code == 200
    assert "This field is required." in page.content.decode()  # blank after stripping: the field's own check
    assert ConsentDocument.objects.count() == before


def test_staff_add_a_patient_whose_consent_the_patient_gives_and_see_the_answer(alice_client, site_a, document):
    from tests.registry.test_staff_entry_points import ADD, add_form_data, signed_field

    page = alice_client.get(ADD).content.decode()
    data = add_form_data(
        signed_field(page), site=str(site_a.pk), consent_taken="patient", consent_version="", consent_date=""
    )
    saved = alice_client.post(ADD, data)
    assert saved.status_code == 302, saved.context["adminform"].form.errors if saved.context else saved
    patient = Patient.objects.get(identity__family_name="Haddad")
    assert patient.consent_pending and not patient.consent_research
    listing = alice_client.get("/admin/registry/patient/").content.decode()
    assert "to be given by the patient" in listing
    # A version typed although the patient is to give consent: refused, with the reason.
    page = alice_client.get(ADD).content.decode()
    data = add_form_data(signed_field(page), site=str(site_a.pk), consent_taken="patient")
    data["identity-0-family_name"] = "Okafor"
    refused = alice_client.post(ADD, data)
    assert refused.status_code == 200
    assert "Leave this empty: the patient gives consent by their link." in refused.content.decode()
    assert not Patient.objects.filter(identity__family_name="Okafor").exists()


def test_paper_consent_still_needs_its_version_and_date(alice_client, site_a):
    from tests.registry.test_staff_entry_points import ADD, add_form_data, signed_field

    page = alice_client.get(ADD).content.decode()
    data = add_form_data(
        signed_field(page),
        site=str(site_a.pk),
        consent_version="",
        consent_follow_up="True",
        consent_research="True",
        consent_email="True",
    )
    refused = alice_client.post(ADD, data)
    assert refused.status_code == 200
    assert "Give the version of the consent form the patient signed." in refused.content.decode()
    assert not Patient.objects.filter(identity__family_name="Haddad").exists()
