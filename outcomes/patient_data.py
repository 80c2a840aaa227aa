"""Follow-up's share of a patient's data, for the core's patient export and anonymisation
(registry.extensions.PATIENT_DATA; outcomes.apps registers it)."""

from __future__ import annotations

from typing import Any

from django.contrib.sessions.models import Session
from django.utils import timezone

from outcomes.models import (
    AccessToken,
    CallAttempt,
    Draft,
    EmailOptOut,
    FollowUp,
    ImportKey,
    Message,
    Response,
    Score,
)
from outcomes.patient_views import SESSION_KEY
from registry.extensions import PatientData, export_row
from registry.models import Patient, TreatmentEpisode


def episode_export(episode: TreatmentEpisode) -> dict[str, Any]:
    follow_ups = []
    for fu in FollowUp.objects.filter(episode=episode).order_by("window_opens"):
        follow_ups.append(
            {
                **export_row(fu, exclude=("episode",)),
                "responses": [export_row(r, exclude=("follow_up",)) for r in Response.objects.filter(follow_up=fu)],
                "scores": [
                    export_row(s, exclude=("follow_up", "response")) for s in Score.objects.filter(follow_up=fu)
                ],
                "calls": [export_row(c, exclude=("follow_up", "by")) for c in CallAttempt.objects.filter(follow_up=fu)],
            }
        )
    return {"follow_ups": follow_ups}


def patient_export(patient: Patient) -> dict[str, Any]:
    opt_out = EmailOptOut.objects.filter(patient=patient).first()
    return {
        "emails": [
            {
                "kind": m.kind,
                "status": m.status,
                "created_at": m.created_at.isoformat(),
                "sent_at": m.sent_at.isoformat() if m.sent_at else None,
                "to": m.to_email,
            }
            for m in Message.objects.filter(patient=patient).order_by("created_at")
        ],
        "email_opt_out": export_row(opt_out, exclude=("patient",)) if opt_out else None,
        "links_issued": AccessToken.objects.filter(patient=patient).count(),
        # Where the patient's rows came from, if imported: the clinic's earlier system and its record id.
        "imported_from": [
            {"source": k.source, "record": k.record, "event": k.event, "file": k.run.file_name}
            for k in ImportKey.objects.filter(patient=patient).select_related("run").order_by("id")
        ],
    }


def _end_link_sessions(token_ids: set[int]) -> None:
    """A patient's open sessions on the patient pages (by link or on the clinic's tablet) end with their links."""
    if not token_ids:
        return
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if session.get_decoded().get(SESSION_KEY) in token_ids:
            session.delete()


def anonymise(patient: Patient) -> None:
    _end_link_sessions(set(AccessToken.objects.filter(patient=patient).values_list("pk", flat=True)))
    Draft.objects.filter(token__patient=patient).delete()
    AccessToken.objects.filter(patient=patient).delete()
    # Where a message went and what the provider said about that address (bounces quote it).
    Message.objects.filter(patient=patient).update(to_email="", to_phone="", last_error="")
    CallAttempt.objects.filter(follow_up__episode__patient=patient).update(note="")  # free text about the person
    # The record id of the clinic's earlier system points back to the person: the import keys go (a later run of
    # the old file would then bring the person in again, as a new patient: the site should not run it again).
    ImportKey.objects.filter(patient=patient).delete()


FOLLOW_UP_DATA = PatientData(
    app="outcomes", episode_export=episode_export, patient_export=patient_export, anonymise=anonymise
)
