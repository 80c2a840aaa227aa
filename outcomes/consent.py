"""Consent given by the patient: the answer to the site's consent document, asked by the first link a patient
opens while their consent is not yet recorded, and withdrawal by the link every message carries.

The patient's consent fields follow the answer (`Patient.consent_*`, with history); each answer is also kept as a
`ConsentDecision` row with the document's version, the language it was read in, the time and the channel. A
decline sends nothing more (every unsent message is cancelled; the patient is no longer contactable) and releases
nothing to research. A withdrawal is the staff withdrawal, dated today at the site; at a site whose policy is to
anonymise, the identity is removed at once, as the withdrawal page says.
"""

from __future__ import annotations

from django.db import transaction

from outcomes import services
from outcomes.models import AccessToken, Message, MessageStatus, TokenChannel
from registry import clock
from registry.models import ConsentDecision, ConsentDocument, Patient
from registry.services import patient_anonymise

Choice = ConsentDecision.Choice

CHANNEL_OF_TOKEN = {
    TokenChannel.EMAIL: ConsentDecision.Channel.EMAIL,
    TokenChannel.SMS: ConsentDecision.Channel.SMS,
    TokenChannel.TABLET: ConsentDecision.Channel.TABLET,
}
CHANNEL_WORDS = {
    ConsentDecision.Channel.EMAIL: "a link in an email",
    ConsentDecision.Channel.SMS: "a link in a text message",
    ConsentDecision.Channel.TABLET: "the clinic tablet",
}


class ConsentRefused(ValueError):
    """The answer cannot be taken (already recorded, no document, an unknown choice)."""


def _cancel_messages(patient: Patient, why: str) -> None:
    Message.objects.filter(patient=patient, status=MessageStatus.PENDING).update(
        status=MessageStatus.CANCELLED, last_error=why
    )


@transaction.atomic
def consent_answer(*, token: AccessToken, document: ConsentDocument, decision: str) -> ConsentDecision:
    """Record the patient's answer to `document`, given through `token`'s channel."""
    if decision not in (Choice.AGREE, Choice.FOLLOW_UP_ONLY, Choice.DECLINE):
        raise ConsentRefused("unknown answer")
    patient = Patient.objects.select_for_update().select_related("site").get(pk=token.patient_id)
    if not patient.consent_pending or patient.is_withdrawn:
        raise ConsentRefused("consent is already recorded")
    if document.site_id != patient.site_id or not document.version:
        raise ConsentRefused("not this site's consent document")
    channel = CHANNEL_OF_TOKEN[token.channel]
    now = clock.now()
    recorded = ConsentDecision.objects.create(
        patient=patient,
        decision=decision,
        document=document,
        version=document.version,
        language=document.language,
        channel=channel,
        decided_at=now,
    )
    patient.consent_version = document.version
    patient.consent_date = services.site_today(patient.site, now)
    patient.consent_follow_up = decision != Choice.DECLINE
    patient.consent_research = decision == Choice.AGREE
    patient._change_reason = (
        f"consent answered by the patient ({recorded.get_decision_display()}), document {document.version} "
        f"({document.language}), through {CHANNEL_WORDS[channel]}"
    )[:100]
    patient.save()
    if decision == Choice.DECLINE:
        _cancel_messages(patient, "the patient declined the registry")
        AccessToken.objects.filter(patient=patient, ended_at__isnull=True).exclude(pk=token.pk).update(ended_at=now)
    return recorded


@transaction.atomic
def patient_withdraw(*, token: AccessToken, language: str) -> Patient:
    """The patient withdraws through a link: all follow-up and contact stop, as when staff record it, and the
    site's withdrawal policy applies."""
    patient = Patient.objects.select_for_update().select_related("site").get(pk=token.patient_id)
    if patient.is_withdrawn:
        return patient
    channel = CHANNEL_OF_TOKEN[token.channel]
    now = clock.now()
    ConsentDecision.objects.create(
        patient=patient,
        decision=Choice.WITHDRAW,
        version=patient.consent_version,
        language=language,
        channel=channel,
        decided_at=now,
    )
    today = services.site_today(patient.site, now)
    patient.withdrawn_on = max(today, patient.consent_date) if patient.consent_date else today
    patient.withdrawal_reason = f"Withdrawn by the patient through {CHANNEL_WORDS[channel]}"
    patient._change_reason = "withdrawn by the patient"
    patient.save()  # the post_save signal closes every unfinished follow-up
    _cancel_messages(patient, "the patient withdrew from the registry")
    AccessToken.objects.filter(patient=patient, ended_at__isnull=True).update(ended_at=now)
    if patient.site.withdrawal_policy == "anonymise":
        patient_anonymise(
            patient=patient, by=None, reason=f"the patient's own withdrawal through {CHANNEL_WORDS[channel]}"
        )
    return patient
