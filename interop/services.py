"""Writes of the FHIR floor: integration keys, a posted QuestionnaireResponse stored as staff entry would store it,
and the Bulk Data export's NDJSON files.

A posted QuestionnaireResponse names its patient in `subject` ("Patient/<registry ID>") and its follow-up in
`basedOn[].identifier` (system `fhir.ID_FOLLOW_UP`, value the follow-up's number, as the registry's own
QuestionnaireResponses carry it); the instrument is the `questionnaire` canonical. Everything else is checked
against the instrument's definition before `outcomes.services.response_submit` stores and scores it, in one
transaction: a refusal (`FhirRefused`) names the problem and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import zoneinfo
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

import scoring
from interop import fhir
from interop.models import BulkExport, ExportStatus, IntegrationKey
from outcomes.models import EnteredVia, FollowUp, FollowUpStatus, Mode, Response, Score
from outcomes.services import response_submit
from registry import clock
from registry.models import Patient, Site, TreatmentEpisode
from research import deid, kanon
from research.access import research_queryset
from research.models import ApiKey
from research.services import pseudonyms_assign

KEY_PREFIX = "ik_"
LAST_USED_RESOLUTION = timedelta(minutes=1)
EXPORT_TYPES = ("Patient", "Observation")
# Exports a key may have in progress at once: each reads a whole cohort.
EXPORTS_IN_PROGRESS_MAX = 3
ITERATOR_CHUNK = 2000


class FhirRefused(Exception):
    """A request FHIR answers with an OperationOutcome: HTTP status, message, issue code, where in the resource."""

    def __init__(self, status: int, message: str, code: str = "invalid", expression: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.expression = status, message, code, expression

    def outcome(self) -> dict[str, Any]:
        return fhir.operation_outcome(self.message, self.code, expression=self.expression)


# Integration keys -------------------------------------------------------------------------------------------


def integration_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def integration_key_create(*, name: str, site: Site, created_by: Any = None) -> tuple[IntegrationKey, str]:
    """A new key for `site`, with its raw value: shown once, never stored (only its SHA-256 digest is kept)."""
    if not name.strip():
        raise ValidationError("Name the key (which system holds it).")
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    key = IntegrationKey.objects.create(
        name=name.strip(),
        site=site,
        prefix=raw_key[: len(KEY_PREFIX) + 6],
        key_hash=integration_key_hash(raw_key),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    return key, raw_key


def integration_key_find(*, raw_key: str) -> IntegrationKey | None:
    """The usable key with this raw value (not revoked, its site active), or None; touches last_used_at."""
    key = IntegrationKey.objects.usable().select_related("site").filter(key_hash=integration_key_hash(raw_key)).first()
    if key is not None:
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
            IntegrationKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


@transaction.atomic
def integration_key_revoke(*, key: IntegrationKey) -> IntegrationKey:
    IntegrationKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    key.refresh_from_db()
    return key


# A posted QuestionnaireResponse -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedAnswers:
    instrument: str
    answers: dict[str, Any]
    missing: dict[str, str]
    completed_at: datetime | None


def _leaves(items: Any, path: str) -> Iterator[tuple[dict[str, Any], str]]:
    """Every item of the tree that carries an answer or a missing reason, with its FHIRPath-like location."""
    if items is None:
        return
    if not isinstance(items, list):
        raise FhirRefused(400, f"{path} must be a list of items.", "structure", path)
    for n, item in enumerate(items):
        where = f"{path}[{n}]"
        if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
            raise FhirRefused(400, f"{where} needs a linkId.", "structure", where)
        if item.get("item") is not None:
            yield from _leaves(item["item"], f"{where}.item")
        if "answer" in item or "extension" in item or item.get("item") is None:
            yield item, where


def _answer_value(instrument: str, item: scoring.Item, answer: Any, where: str) -> Any:
    if not isinstance(answer, dict):
        raise FhirRefused(400, f"{where} must be an object.", "structure", where)
    if item.kind == "choice":
        coding = answer.get("valueCoding")
        if not isinstance(coding, dict) or "code" not in coding:
            raise FhirRefused(422, f"{instrument} item {item.code}: answer with a valueCoding.", "value", where)
        system = coding.get("system")
        if system not in (None, fhir.answer_system(instrument, item)):
            raise FhirRefused(
                422, f"{instrument} item {item.code}: unknown code system {system!r}.", "code-invalid", where
            )
        option = next((o for o in item.options if str(o.value) == str(coding["code"])), None)
        if option is None:
            allowed = ", ".join(str(o.value) for o in item.options)
            raise FhirRefused(
                422,
                f"{instrument} item {item.code}: {coding['code']!r} is not one of its answers ({allowed}).",
                "code-invalid",
                where,
            )
        return option.value
    key = "valueInteger" if item.kind == "integer" else "valueDecimal"
    value = answer.get(key, answer.get("valueInteger") if item.kind == "decimal" else None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FhirRefused(422, f"{instrument} item {item.code}: answer with a {key}.", "value", where)
    return value


def questionnaire_response_parse(resource: Any) -> ParsedAnswers:
    """The instrument, answers, missing reasons and moment of a posted QuestionnaireResponse, checked against
    the instrument's items and answer options (ranges are the scoring engine's, in response_submit)."""
    if not isinstance(resource, dict):
        raise FhirRefused(400, "The body must be a JSON object (a FHIR resource).", "structure")
    if resource.get("resourceType") != "QuestionnaireResponse":
        raise FhirRefused(
            400, f"Expected a QuestionnaireResponse, got resourceType {resource.get('resourceType')!r}.", "structure"
        )
    if resource.get("status") not in ("completed", "amended"):
        raise FhirRefused(
            422, "Only a completed QuestionnaireResponse is stored (status 'completed').", "value", "status"
        )
    canonical = resource.get("questionnaire")
    instrument = fhir.instrument_for_canonical(canonical) if isinstance(canonical, str) else None
    if instrument is None:
        raise FhirRefused(
            422, f"Unknown questionnaire {canonical!r}: see GET /fhir/Questionnaire.", "not-found", "questionnaire"
        )
    by_code = {item.code: item for item in fhir.items(instrument)}
    answers: dict[str, Any] = {}
    missing: dict[str, str] = {}
    for item, where in _leaves(resource.get("item"), "item"):
        code = item["linkId"]
        if code.startswith("section-") and "answer" not in item:
            continue
        definition = by_code.get(code)
        if definition is None:
            raise FhirRefused(422, f"{instrument} has no item {code!r}.", "value", f"{where}.linkId")
        if code in answers or code in missing:
            raise FhirRefused(422, f"{instrument} item {code} is answered twice.", "value", where)
        given = item.get("answer") or []
        if not isinstance(given, list) or len(given) > 1:
            raise FhirRefused(422, f"{instrument} item {code}: give one answer.", "value", f"{where}.answer")
        if given:
            answers[code] = _answer_value(instrument, definition, given[0], f"{where}.answer[0]")
            continue
        extensions = item.get("extension") or []
        if not isinstance(extensions, list) or not all(isinstance(e, dict) for e in extensions):
            raise FhirRefused(400, f"{where}.extension must be a list of extensions.", "structure", where)
        reasons = [e.get("valueCode") for e in extensions if e.get("url") == fhir.EXT_MISSING_REASON]
        if reasons:
            if reasons[0] not in fhir.MISSING_CODES:
                raise FhirRefused(
                    422, f"{instrument} item {code}: {reasons[0]!r} is not a missing-data code.", "value", where
                )
            missing[code] = reasons[0]
    if not answers:
        raise FhirRefused(422, f"The QuestionnaireResponse answers no item of {instrument}.", "required", "item")
    authored = resource.get("authored")
    completed_at = None
    if authored is not None:
        completed_at = parse_datetime(authored) if isinstance(authored, str) else None
        if completed_at is None or completed_at.tzinfo is None:
            raise FhirRefused(422, "authored must be a date and time with its time zone.", "value", "authored")
    return ParsedAnswers(instrument, answers, missing, completed_at)


def registry_id_shaped(value: str) -> bool:
    """Could this be a registry ID (letters, digits and hyphens, as long as the column)? Anything else is simply
    not found, and never reaches the database."""
    return 0 < len(value) <= 16 and all(c.isascii() and (c.isalnum() or c == "-") for c in value)


def _subject(resource: dict[str, Any], key: IntegrationKey) -> Patient:
    reference = (resource.get("subject") or {}).get("reference") if isinstance(resource.get("subject"), dict) else None
    if not isinstance(reference, str) or not reference.startswith("Patient/"):
        raise FhirRefused(422, "subject must reference the patient: Patient/<registry ID>.", "required", "subject")
    registry_id = reference.removeprefix("Patient/")
    patient = (
        Patient.objects.filter(site=key.site, registry_id=registry_id).first()
        if registry_id_shaped(registry_id)
        else None
    )
    if patient is None:  # unknown or another site's: the same answer, so a key learns nothing of other sites
        raise FhirRefused(404, f"No patient {reference} at this site.", "not-found", "subject")
    return patient


def _follow_up(resource: dict[str, Any], patient: Patient) -> FollowUp:
    identifiers = [
        (b.get("identifier") or {}).get("value")
        for b in resource.get("basedOn") or []
        if isinstance(b, dict) and (b.get("identifier") or {}).get("system") == fhir.ID_FOLLOW_UP
    ]
    if not identifiers or not str(identifiers[0]).isdigit():
        raise FhirRefused(
            422,
            f"Name the follow-up in basedOn: an identifier with system {fhir.ID_FOLLOW_UP} and its number.",
            "required",
            "basedOn",
        )
    follow_up = (
        FollowUp.objects.select_related("episode__patient__site")
        .filter(pk=int(identifiers[0]), episode__patient=patient)
        .first()
    )
    if follow_up is None:
        raise FhirRefused(
            404, f"Patient {patient.registry_id} has no follow-up {identifiers[0]}.", "not-found", "basedOn"
        )
    return follow_up


def _refuse_closed(follow_up: FollowUp, moment: datetime) -> None:
    ended = {FollowUpStatus.WITHDRAWN, FollowUpStatus.CANCELLED, FollowUpStatus.REFUSED, FollowUpStatus.LOST}
    if follow_up.status in ended:
        raise FhirRefused(
            409, f"The follow-up is closed ({follow_up.get_status_display()}): no answers are recorded.", "conflict"
        )
    day = moment.astimezone(zoneinfo.ZoneInfo(follow_up.episode.patient.site.time_zone)).date()
    if day > follow_up.window_closes:
        raise FhirRefused(
            409, f"The follow-up's window closed on {follow_up.window_closes}: no answers are recorded.", "conflict"
        )
    if day < follow_up.window_opens:
        raise FhirRefused(
            409, f"The follow-up's window opens on {follow_up.window_opens}: it cannot be answered yet.", "conflict"
        )


def questionnaire_response_receive(*, key: IntegrationKey, resource: Any) -> Response:
    """Store a posted QuestionnaireResponse as the answers of its follow-up, scored and audited as staff entry is
    (outcomes.services.response_submit), with mode "external" and the key named in the history's reason."""
    parsed = questionnaire_response_parse(resource)
    patient = _subject(resource, key)
    follow_up = _follow_up(resource, patient)
    _refuse_closed(follow_up, parsed.completed_at or clock.now())
    try:
        return response_submit(
            follow_up=follow_up,
            instrument=parsed.instrument,
            answers=parsed.answers,
            missing=parsed.missing,
            by=None,
            entered_via=EnteredVia.EXTERNAL_SYSTEM,
            mode=Mode.EXTERNAL,
            completed_at=parsed.completed_at,
            reason=f"posted over FHIR by integration key {key.prefix}… ({key.name})",
        )
    except ValidationError as exc:
        raise FhirRefused(422, " ".join(exc.messages), "processing") from None


# Bulk Data export ---------------------------------------------------------------------------------------------


def export_dir(export: BulkExport) -> Path:
    return Path(settings.FHIR_EXPORT_DIR) / str(export.pk)


def export_file(export: BulkExport, resource_type: str) -> Path:
    return export_dir(export) / f"{resource_type}.ndjson"


@transaction.atomic
def bulk_export_start(*, key: ApiKey, request_url: str, types: Iterable[str] = EXPORT_TYPES) -> BulkExport:
    """A new export of `types` for `key`, in progress until its task has built the files; FhirRefused (429) while
    the key already has EXPORTS_IN_PROGRESS_MAX in progress."""
    ApiKey.objects.select_for_update().filter(pk=key.pk).first()  # one kick-off of a key at a time counts
    if BulkExport.objects.filter(api_key=key, status=ExportStatus.IN_PROGRESS).count() >= EXPORTS_IN_PROGRESS_MAX:
        raise FhirRefused(
            429, f"This key has {EXPORTS_IN_PROGRESS_MAX} exports in progress: wait for one to finish.", "throttled"
        )
    return BulkExport.objects.create(api_key=key, request_url=request_url[:500], types=list(types))


def _research_patients(key: ApiKey, release: kanon.Release) -> Iterator[dict[str, Any]]:
    """A Patient per released subject, carrying only the pseudonym (no sex, age or site: those are the
    episodes', in the Observations' extensions they do not need)."""
    rows = deid.TREATMENTS.annotate(release.withhold(research_queryset(TreatmentEpisode, key)))
    subject = deid.TREATMENTS.column("subject_id").alias
    seen = rows.values_list(subject, flat=True).order_by(subject).distinct()
    for pseudonym in seen.iterator(chunk_size=ITERATOR_CHUNK):
        yield {
            "resourceType": "Patient",
            "id": pseudonym,
            "identifier": [{"system": fhir.ID_SUBJECT, "value": pseudonym}],
        }


def _research_observations(key: ApiKey, release: kanon.Release) -> Iterator[dict[str, Any]]:
    """An Observation per released score row (research.deid.SCORES): pseudonymous subject, no calendar date; the
    day from the index date is the extension `days-from-index` (valueInteger), as the CSV's days_from_index."""
    dataset = deid.SCORES
    rows = dataset.rows(dataset.annotate(release.withhold(research_queryset(Score, key))))
    a = {c.name: c.alias for c in dataset.columns}
    for row in rows.iterator(chunk_size=ITERATOR_CHUNK):
        instrument, score_key = row[a["instrument"]], row[a["key"]]
        digest = hashlib.sha256(
            f"{row[a['episode_id']]}|{row[a['timepoint']]}|{instrument}|{score_key}".encode()
        ).hexdigest()[:24]
        extensions = [
            {"url": fhir.EXT_EPISODE, "valueString": row[a["episode_id"]]},
            {"url": fhir.EXT_TIMEPOINT, "valueCode": row[a["timepoint"]]},
            {"url": fhir.EXT_SCORING_VERSION, "valueString": row[a["scoring_version"]]},
        ]
        if row[a["days_from_index"]] is not None:
            extensions.insert(1, {"url": fhir.EXT_DAYS_FROM_INDEX, "valueInteger": row[a["days_from_index"]]})
        yield {
            "resourceType": "Observation",
            "id": f"s-{digest}",
            "status": "preliminary" if row[a["stale"]] else "final",
            "category": fhir.survey_category(),
            "code": fhir.score_code(instrument, score_key),
            "subject": {"reference": f"Patient/{row[a['subject_id']]}"},
            "extension": extensions,
            **fhir.score_value(instrument, score_key, row[a["value"]], row[a["value_text"]] or ""),
        }


def _write_ndjson(path: Path, resources: Iterable[dict[str, Any]]) -> int:
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for resource in resources:
            out.write(json.dumps(resource, separators=(",", ":"), ensure_ascii=False))
            out.write("\n")
            count += 1
    return count


def bulk_export_build(*, export_id: str) -> BulkExport:
    """Build the NDJSON files of one export (the Celery task's work): rows streamed from the database in chunks
    and written as they come, so memory stays flat whatever the cohort. Idempotent: a finished export is left."""
    claimed = BulkExport.objects.filter(pk=export_id, status=ExportStatus.IN_PROGRESS).select_related("api_key")
    export = claimed.first()
    if export is None:
        return BulkExport.objects.get(pk=export_id)
    folder = export_dir(export)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        pseudonyms_assign(full=False)  # as the research API does before reading: no row without its pseudonym
        builders = {"Patient": _research_patients, "Observation": _research_observations}
        # One release (k-anonymity decided once over the key's whole cohort) for every file of the export, so the
        # files withhold the same subjects and the cohort is read for it once, not once a file.
        release = kanon.release_for_key(export.api_key)
        files = [
            {"type": t, "count": _write_ndjson(export_file(export, t), builders[t](export.api_key, release))}
            for t in export.types or EXPORT_TYPES
        ]
    except Exception as exc:
        shutil.rmtree(folder, ignore_errors=True)
        BulkExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED, finished_at=timezone.now(), error=str(exc)[:500]
        )
        raise
    BulkExport.objects.filter(pk=export.pk).update(status=ExportStatus.DONE, finished_at=timezone.now(), files=files)
    export.refresh_from_db()
    return export


@transaction.atomic
def bulk_export_delete(*, export: BulkExport) -> None:
    shutil.rmtree(export_dir(export), ignore_errors=True)
    export.delete()


def bulk_manifest(export: BulkExport, base_url: str) -> dict[str, Any]:
    return {
        "transactionTime": (export.finished_at or export.requested_at).isoformat(timespec="seconds"),
        "request": export.request_url,
        "requiresAccessToken": True,
        "output": [
            {"type": f["type"], "url": f"{base_url}$export-files/{export.pk}/{f['type']}.ndjson", "count": f["count"]}
            for f in export.files
        ],
        "error": [],
    }
