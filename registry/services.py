"""Patient rights: everything held about one patient (an access request), and anonymisation of a withdrawn patient
as the site's policy says. Both are audited: Django's admin log records who did it and when; anonymisation also
leaves a historical row with its reason.

Also the episode's copy of its first administration (`episodes_first_administration_refresh`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from registry import erasure
from registry.extensions import PATIENT_DATA, export_row
from registry.models import Administration, EpisodeStatus, Patient, PatientIdentity, TreatmentEpisode

ANONYMISED = erasure.ANONYMISED

FIRST_ADMINISTRATION = {
    "first_product_type": "product_type",
    "first_source": "source",
    "first_cell_dose_millions": "cell_dose_millions",
}


def first_administration_values(episodes: models.QuerySet) -> int:
    """Set the first-administration columns of `episodes` from their administrations (earliest date, then
    earliest entry; empty without one), in one UPDATE. Derived data, not an edit: no history row."""
    first = Administration.objects.filter(episode=OuterRef("pk")).order_by("administered_on", "pk")
    return episodes.update(
        **{column: Subquery(first.values(source)[:1]) for column, source in FIRST_ADMINISTRATION.items()}
    )


def episodes_first_administration_refresh(*, episode_ids: Iterable[int | None]) -> None:
    """Keep the episodes' copy of their first administration (registry.signals calls this on every save and
    delete of an administration and every save of an episode, inside the saving transaction)."""
    ids = sorted({pk for pk in episode_ids if pk is not None})
    if ids:
        first_administration_values(TreatmentEpisode.objects.filter(pk__in=ids))


def _audit(*, user: Any, patient: Patient, message: str) -> None:
    if user is None:
        return  # the patient's own request (a withdrawal by link): the history rows carry the reason
    LogEntry.objects.log_actions(
        user_id=user.pk, queryset=[patient], action_flag=CHANGE, change_message=message, single_object=True
    )


def patient_export(*, patient: Patient, by: Any) -> dict[str, Any]:
    """Everything the registry holds about one patient, as plain JSON-able data."""
    identity = getattr(patient, "identity", None)
    episodes = []
    for ep in patient.episodes.order_by("index_date", "pk"):
        part = {
            **export_row(ep, exclude=("patient",)),
            "administrations": [export_row(a, exclude=("episode",)) for a in ep.administrations.all()],
            "adverse_events": [export_row(a, exclude=("episode",)) for a in ep.adverse_events.all()],
            "surgeries": [export_row(s, exclude=("episode",)) for s in ep.surgeries.all()],
        }
        for data in PATIENT_DATA:  # follow-ups, responses, scores, calls (registry.extensions)
            part.update(data.episode_export(ep))
        episodes.append(part)
    history = [
        {
            "record": h.instance_type._meta.verbose_name if hasattr(h, "instance_type") else type(h).__name__,
            "when": h.history_date.isoformat(),
            "type": h.get_history_type_display(),
            "by": str(h.history_user) if h.history_user_id else None,
            "reason": h.history_change_reason,
        }
        for manager in (patient.history.all(), PatientIdentity.history.filter(patient_id=patient.pk))
        for h in manager.order_by("history_date")
    ]
    data = {
        "format": "registry-patient-export/1",
        "exported_at": timezone.now().isoformat(),
        "site": {"code": patient.site.code, "name": patient.site.name},
        "patient": export_row(patient, exclude=("site",)),
        "identity": export_row(identity, exclude=("patient",)) if identity else None,
        "episodes": episodes,
        "change_history": history,
    }
    for part in PATIENT_DATA:  # emails, opt-out, links issued (registry.extensions)
        data.update(part.patient_export(patient))
    _audit(user=by, patient=patient, message="Exported everything held about the patient (access request).")
    return data


class PatientRightsError(ValueError):
    pass


@transaction.atomic
def patient_anonymise(*, patient: Patient, by: Any, reason: str) -> Patient:
    """Remove a withdrawn patient's identity, everywhere it is kept, and keep the de-identified clinical record.

    Only for a withdrawn patient at a site whose policy is to anonymise. The identity, the withdrawal reason and each
    app's contact data are overwritten, their history too; then the identity's values are replaced wherever else
    the database holds them (registry.erasure: the patient's rows in every app and their history, the admin log,
    sessions). Overwriting history is the one change to it the registry makes, as erasure requires; it is recorded.
    """
    if not reason.strip():
        raise PatientRightsError(_("Give the reason (e.g. the patient's request and its date)."))
    patient = Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)
    if not patient.is_withdrawn:
        raise PatientRightsError(_("Only a patient who has withdrawn consent can be anonymised."))
    if patient.site.withdrawal_policy != "anonymise":
        raise PatientRightsError(_("This site's policy keeps withdrawn records (Sites → withdrawal policy)."))
    identity = PatientIdentity.objects.filter(patient=patient).first()
    values = erasure.identifying_values(identity) if identity is not None else []
    found = erasure.pattern(values)
    reason = found.sub(erasure.ANONYMISED, reason.strip()) if found else reason.strip()
    if connection.vendor == "postgresql":
        # History is append-only in the database; this transaction may rewrite it (registry.audit), for erasure.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL registry.allow_identity_erasure = 'on'")
    # The patient's rows are found before anything is deleted (a link's draft, say, is found through the link).
    owned = erasure.patient_rows(patient)
    for data in PATIENT_DATA:  # links, drafts, sessions, message addresses, call notes (registry.extensions)
        data.anonymise(patient)
    # Free text about the person: erased, not scrubbed (it may name them in ways no list foresees).
    Patient.objects.filter(pk=patient.pk).update(withdrawal_reason=ANONYMISED)
    Patient.history.filter(id=patient.pk).exclude(withdrawal_reason="").update(withdrawal_reason=ANONYMISED)
    if identity is not None:
        kept_year = identity.date_of_birth.year  # the year alone is not identifying; ages stay computable
        cleared = {
            "given_name": "—",
            "family_name": ANONYMISED,
            "email": "",
            "phone": "",
            "mobile": "",
            "medical_record_number": "",
            "date_of_birth": date(kept_year, 7, 1),
        }
        PatientIdentity.history.filter(patient_id=patient.pk).update(**cleared)
        for name, value in cleared.items():
            setattr(identity, name, value)
        identity._change_reason = f"anonymised: {reason}"[:100]
        identity._history_user = by
        identity.save()
    if found is not None:
        # The values wherever else they were typed or logged: change reasons, descriptions, the admin log, sessions.
        erasure.scrub_patient_rows(owned, found)
        erasure.scrub_admin_log(values, found)
        erasure.scrub_sessions(found)
    _audit(user=by, patient=patient, message=f"Anonymised (site policy): {reason}")
    return patient


# Planned treatments -----------------------------------------------------------------------------------------


@transaction.atomic
def episode_mark_done(*, episode: TreatmentEpisode, on: date, by: Any, reason: str = "") -> TreatmentEpisode:
    """A planned treatment happened on `on` (the planned date confirmed, or corrected): follow-up is timed from
    it (the follow-ups move with the date through the episode's save). ValidationError if it cannot be."""

    ep = TreatmentEpisode.objects.select_for_update().select_related("patient__site").get(pk=episode.pk)
    if ep.status != EpisodeStatus.PLANNED:
        raise ValidationError(
            _("Only a planned treatment can be marked done; this one is %(status)s.")
            % {"status": ep.get_status_display()}
        )
    planned = ep.index_date
    ep.status, ep.index_date = EpisodeStatus.DONE, on
    problem = ep.index_date_problem(ep.patient.site)
    if problem:
        raise ValidationError({"index_date": problem})
    moved = "" if on == planned else f" (planned for {planned})"
    ep._change_reason = reason.strip() or f"treatment done on {on}{moved}"
    ep._history_user = by
    ep.save()
    return ep


@transaction.atomic
def episode_cancel(*, episode: TreatmentEpisode, reason: str, by: Any) -> TreatmentEpisode:
    """A planned treatment will not happen: its follow-ups are cancelled and every message stops (through the
    episode's save). A done treatment cannot be cancelled."""

    if not reason.strip():
        raise ValidationError({"reason": _("Say why the treatment is cancelled; the history keeps it.")})
    ep = TreatmentEpisode.objects.select_for_update().get(pk=episode.pk)
    if ep.status == EpisodeStatus.DONE:
        raise ValidationError(
            _(
                "A treatment that is done cannot be cancelled. If it was recorded in error, correct it, or ask the "
                "registry administrator to delete it."
            )
        )
    if ep.status == EpisodeStatus.CANCELLED:
        raise ValidationError(_("This treatment is already cancelled."))
    ep.status = EpisodeStatus.CANCELLED
    ep._change_reason = f"treatment cancelled: {reason.strip()}"
    ep._history_user = by
    ep.save()
    return ep
