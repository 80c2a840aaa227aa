"""FHIR R4 resources as plain JSON-ready dicts, built from the scoring definitions and the stored rows.

Nothing here writes; the views and the export stream what these functions return. The tests validate every
resource with `fhir.resources` (R4B models, whose Questionnaire, QuestionnaireResponse, Observation, Patient,
Bundle, OperationOutcome and CapabilityStatement are R4's); the registry itself does not need the package.

Codes, in this order of preference:
- LOINC where LOINC has a code: the panels of KOOS (72091-2), HOOS (72092-0), KOOS JR (82324-5), HOOS JR (82316-1)
  and ODI (97908-8); the items and interval scores the definitions carry (`Item.loinc`, `Output.loinc`);
- otherwise the registry's own code systems under `CANONICAL` (a stable URI, the same on every installation, not
  the address the server runs at): `CodeSystem/item` ("koos.P1"), `CodeSystem/score` ("koos.pain") and one
  system per choice item for its answers (`CodeSystem/answer/koos.P1`, code "2" = the stored value, with the
  option's value as `ordinalValue`).

A Questionnaire's canonical URL is `CANONICAL/Questionnaire/<id>` (`id` the instrument id with "-" for "_"),
its `version` the questionnaire's version; the scoring rules' version is the extension `EXT_SCORING_VERSION`.
A QuestionnaireResponse names its follow-up in `basedOn[0].identifier` (system `ID_FOLLOW_UP`), which is also
how a posted one says which follow-up it answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

import scoring
from outcomes.asking import items_asked
from outcomes.models import ASKABLE_IDS, HHS_EXAM, MissingCode, Response, Score
from registry.models import Patient

FHIR_VERSION = "4.0.1"
CONTENT_TYPE = "application/fhir+json"
CANONICAL = "https://regen-ortho-registry.org/fhir"
LOINC = "http://loinc.org"
ITEM_SYSTEM = f"{CANONICAL}/CodeSystem/item"
SCORE_SYSTEM = f"{CANONICAL}/CodeSystem/score"
ANSWER_SYSTEM = f"{CANONICAL}/CodeSystem/answer"
ID_REGISTRY = f"{CANONICAL}/Identifier/registry-id"
ID_FOLLOW_UP = f"{CANONICAL}/Identifier/follow-up"
ID_RESPONSE = f"{CANONICAL}/Identifier/response"
ID_SUBJECT = f"{CANONICAL}/Identifier/research-subject"
EXT_SCORING_VERSION = f"{CANONICAL}/StructureDefinition/scoring-version"
EXT_MISSING_REASON = f"{CANONICAL}/StructureDefinition/missing-reason"
EXT_DAYS_FROM_INDEX = f"{CANONICAL}/StructureDefinition/days-from-index"
EXT_TIMEPOINT = f"{CANONICAL}/StructureDefinition/timepoint"
EXT_EPISODE = f"{CANONICAL}/StructureDefinition/research-episode"
EXT_ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
EXT_MIN = "http://hl7.org/fhir/StructureDefinition/minValue"
EXT_MAX = "http://hl7.org/fhir/StructureDefinition/maxValue"
EXT_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
UCUM = "http://unitsofmeasure.org"

# Panels whose LOINC code the scoring definitions do not carry (ODI's is LOINC 97908-8, "Oswestry Disability
# Index"); the others come from `Instrument.loinc_panel`.
_EXTRA_PANELS = {"odi": "97908-8"}


def loinc_panel(instrument: str) -> str | None:
    definition = scoring.INSTRUMENTS.get(instrument)
    return _EXTRA_PANELS.get(instrument) or (definition.loinc_panel if definition else None)


def _definition(instrument: str) -> scoring.Instrument:
    return scoring.get_instrument("hhs" if instrument == HHS_EXAM else instrument)


def questionnaire_ids() -> list[str]:
    """Every instrument a patient or clinician fills in: the askable ones, then the other non-derived ones."""
    others = [i for i, d in scoring.INSTRUMENTS.items() if d.derived_from is None and i not in ASKABLE_IDS]
    return [*ASKABLE_IDS, *others]


def resource_id(instrument: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]): the instrument id with "-" for "_"."""
    return instrument.replace("_", "-")


def instrument_for_id(fhir_id: str) -> str | None:
    return next((i for i in questionnaire_ids() if resource_id(i) == fhir_id), None)


def questionnaire_url(instrument: str) -> str:
    return f"{CANONICAL}/Questionnaire/{resource_id(instrument)}"


def instrument_for_canonical(canonical: str) -> str | None:
    """The instrument a `Questionnaire` canonical (with or without `|version`) names, or None."""
    url = canonical.split("|", 1)[0]
    prefix = f"{CANONICAL}/Questionnaire/"
    return instrument_for_id(url[len(prefix) :]) if url.startswith(prefix) else None


def items(instrument: str) -> list[scoring.Item]:
    """The items of the questionnaire, as the registry asks them (hhs_exam: the clinician's part of the HHS)."""
    if instrument in ASKABLE_IDS:
        return items_asked(instrument)
    return list(scoring.get_instrument(instrument).items)


def answer_system(instrument: str, item: scoring.Item) -> str:
    return f"{ANSWER_SYSTEM}/{instrument}.{item.code}"


def _item_codes(instrument: str, item: scoring.Item) -> list[dict[str, Any]]:
    codes = [{"system": ITEM_SYSTEM, "code": f"{instrument}.{item.code}", "display": item.label}]
    if item.loinc:
        codes.insert(0, {"system": LOINC, "code": item.loinc})
    return codes


def _question(instrument: str, item: scoring.Item) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": item.code, "code": _item_codes(instrument, item), "text": item.label}
    extensions: list[dict[str, Any]] = []
    if item.kind == "choice":
        out["type"] = "choice"
        out["answerOption"] = []
        for option in item.options:
            coding = {"system": answer_system(instrument, item), "code": str(option.value), "display": option.label}
            ordinal = option.points if option.points is not None else option.value
            if isinstance(ordinal, int):
                coding["extension"] = [{"url": EXT_ORDINAL, "valueDecimal": ordinal}]
            out["answerOption"].append({"valueCoding": coding})
    else:
        out["type"] = item.kind  # "integer" or "decimal", FHIR's names too
        value_key = "valueInteger" if item.kind == "integer" else "valueDecimal"
        if item.min is not None:
            extensions.append({"url": EXT_MIN, value_key: item.min})
        if item.max is not None:
            extensions.append({"url": EXT_MAX, value_key: item.max})
        if item.unit:
            extensions.append({"url": EXT_UNIT, "valueCoding": {"system": UCUM, "code": item.unit}})
    if extensions:
        out["extension"] = extensions
    return out


def questionnaire(instrument: str) -> dict[str, Any]:
    """The instrument as a Questionnaire: a group per form section, a question per item, answers with codes."""
    definition = _definition(instrument)
    asked = items(instrument)
    asked_codes = {item.code for item in asked}
    by_code = {item.code: item for item in asked}
    groups, placed = [], set()
    for section in definition.sections:
        codes = [c for c in section.item_codes if c in asked_codes]
        if not codes:
            continue
        placed.update(codes)
        groups.append(
            {
                "linkId": f"section-{section.code}",
                "text": section.label,
                "type": "group",
                "item": [_question(instrument, by_code[c]) for c in codes],
            }
        )
    loose = [_question(instrument, item) for item in asked if item.code not in placed]
    title = definition.name if instrument != HHS_EXAM else f"{definition.name}, clinician examination"
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": resource_id(instrument),
        "url": questionnaire_url(instrument),
        "version": definition.version,
        "name": "".join(part.capitalize() for part in resource_id(instrument).split("-")),
        "title": title,
        "status": "active",
        "subjectType": ["Patient"],
        "description": definition.label_note,
        "copyright": definition.licence,
        "extension": [{"url": EXT_SCORING_VERSION, "valueString": scoring.SCORING_VERSION}],
        "item": groups + loose,
    }
    panel = loinc_panel(instrument)
    if panel:
        resource["code"] = [{"system": LOINC, "code": panel}]
    return resource


def canonical_of(instrument: str, version: str | None = None) -> str:
    return f"{questionnaire_url(instrument)}|{version or _definition(instrument).version}"


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _answer(instrument: str, item: scoring.Item, value: Any) -> dict[str, Any]:
    if item.kind == "choice":
        option = next((o for o in item.options if o.value == value), None)
        coding = {"system": answer_system(instrument, item), "code": str(value)}
        if option is not None:
            coding["display"] = option.label
        return {"valueCoding": coding}
    if item.kind == "integer":
        return {"valueInteger": int(value)}
    return {"valueDecimal": value}


def _answer_items(instrument: str, answers: Mapping[str, Any], missing: Mapping[str, str]) -> list[dict[str, Any]]:
    definition = _definition(instrument)
    asked = items(instrument)
    by_code = {item.code: item for item in asked}

    def leaf(code: str) -> dict[str, Any] | None:
        item = by_code[code]
        out: dict[str, Any] = {"linkId": code, "text": item.label}
        if answers.get(code) is not None:
            out["answer"] = [_answer(instrument, item, answers[code])]
        elif code in missing:
            out["extension"] = [{"url": EXT_MISSING_REASON, "valueCode": missing[code]}]
        else:
            return None
        return out

    groups, placed = [], set()
    for section in definition.sections:
        leaves = [leaf(c) for c in section.item_codes if c in by_code]
        placed.update(c for c in section.item_codes if c in by_code)
        leaves = [x for x in leaves if x is not None]
        if leaves:
            groups.append({"linkId": f"section-{section.code}", "text": section.label, "item": leaves})
    loose = [leaf(item.code) for item in asked if item.code not in placed]
    return groups + [x for x in loose if x is not None]


def patient_reference(patient: Patient) -> dict[str, Any]:
    return {"reference": f"Patient/{patient.registry_id}"}


def questionnaire_response(response: Response) -> dict[str, Any]:
    """A stored response, for staff: the identified patient's reference, the moment it was given."""
    follow_up = response.follow_up
    patient = follow_up.episode.patient
    return {
        "resourceType": "QuestionnaireResponse",
        "id": f"response-{response.pk}",
        "identifier": {"system": ID_RESPONSE, "value": str(response.pk)},
        "basedOn": [{"identifier": {"system": ID_FOLLOW_UP, "value": str(follow_up.pk)}}],
        "questionnaire": canonical_of(response.instrument, response.instrument_version),
        "status": "completed",
        "subject": patient_reference(patient),
        "authored": _instant(response.completed_at),
        "extension": [
            {"url": EXT_SCORING_VERSION, "valueString": response.scoring_version},
            {"url": EXT_TIMEPOINT, "valueCode": follow_up.timepoint},
        ],
        "item": _answer_items(response.instrument, response.answers, response.missing),
    }


def score_code(instrument: str, key: str) -> dict[str, Any]:
    definition = scoring.INSTRUMENTS.get(instrument)
    output = next((o for o in definition.outputs if o.key == key), None) if definition else None
    codings = [{"system": SCORE_SYSTEM, "code": f"{instrument}.{key}"}]
    if output is not None:
        codings[0]["display"] = f"{definition.name}: {output.label}"
        if output.loinc:
            codings.insert(0, {"system": LOINC, "code": output.loinc})
    return {"coding": codings, "text": codings[-1].get("display", f"{instrument}.{key}")}


def score_value(instrument: str, key: str, value: float | None, text: str) -> dict[str, Any]:
    """The value[x] (or dataAbsentReason) of a score's Observation."""
    if text:
        return {"valueString": text}
    if value is None:
        return {
            "dataAbsentReason": {
                "coding": [{"system": DATA_ABSENT, "code": "not-performed"}],
                "text": "Not scorable: too few items answered.",
            }
        }
    definition = scoring.INSTRUMENTS.get(instrument)
    output = next((o for o in definition.outputs if o.key == key), None) if definition else None
    unit = (output.unit if output else None) or "{score}"
    return {"valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit}}


def survey_category() -> list[dict[str, Any]]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}]


def score_observation(score: Score) -> dict[str, Any]:
    """One stored score, for staff."""
    patient = score.follow_up.episode.patient
    response = score.response
    moment = response.completed_at if response is not None else score.follow_up.completed_at or score.computed_at
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": f"score-{score.pk}",
        "status": "final",
        "category": survey_category(),
        "code": score_code(score.instrument, score.key),
        "subject": patient_reference(patient),
        "effectiveDateTime": _instant(moment),
        "extension": [
            {"url": EXT_SCORING_VERSION, "valueString": score.scoring_version},
            {"url": EXT_TIMEPOINT, "valueCode": score.timepoint},
        ],
        **score_value(score.instrument, score.key, score.value, score.value_text),
    }
    if response is not None:
        resource["derivedFrom"] = [{"reference": f"QuestionnaireResponse/response-{response.pk}"}]
    return resource


def panel_observations(scores: Iterable[Score]) -> list[dict[str, Any]]:
    """One panel Observation (LOINC panel code, the scores as members) per scored response of an instrument
    LOINC has a panel for (KOOS, HOOS, KOOS JR, HOOS JR, ODI)."""
    groups: dict[tuple[int, str], list[Score]] = {}
    for score in scores:
        if score.response_id is not None and loinc_panel(score.instrument):
            groups.setdefault((score.response_id, score.instrument), []).append(score)
    out = []
    for (response_id, instrument), members in groups.items():
        first = members[0]
        definition = scoring.get_instrument(instrument)
        out.append(
            {
                "resourceType": "Observation",
                "id": f"panel-{response_id}-{resource_id(instrument)}",
                "status": "final",
                "category": survey_category(),
                "code": {"coding": [{"system": LOINC, "code": loinc_panel(instrument)}], "text": definition.name},
                "subject": patient_reference(first.follow_up.episode.patient),
                "effectiveDateTime": _instant(first.response.completed_at),
                "hasMember": [{"reference": f"Observation/score-{s.pk}"} for s in members],
                "derivedFrom": [{"reference": f"QuestionnaireResponse/response-{response_id}"}],
            }
        )
    return out


_GENDER = {"female": "female", "male": "male", "other": "other", "unknown": "unknown"}


def patient_resource(patient: Patient) -> dict[str, Any]:
    """The identified patient, for their own site's staff and record system."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient.registry_id,
        "identifier": [{"system": ID_REGISTRY, "value": patient.registry_id}],
        "active": not patient.is_withdrawn,
        "gender": _GENDER.get(patient.sex, "unknown"),
        "managingOrganization": {"display": patient.site.name},
    }
    identity = getattr(patient, "identity", None)
    if identity is not None:
        resource["name"] = [{"family": identity.family_name, "given": [identity.given_name]}]
        resource["birthDate"] = identity.date_of_birth.isoformat()
        telecom = []
        if identity.email:
            telecom.append({"system": "email", "value": identity.email})
        for number, use in ((identity.phone, "home"), (identity.mobile, "mobile")):
            if number:
                telecom.append({"system": "phone", "value": number, "use": use})
        if telecom:
            resource["telecom"] = telecom
        if identity.medical_record_number:
            resource["identifier"].append(
                {
                    "system": f"{CANONICAL}/Identifier/mrn/{patient.site.code}",
                    "value": identity.medical_record_number,
                    "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]},
                }
            )
    return resource


def bundle(resources: Iterable[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """A searchset Bundle of the matches (`base_url` the server's FHIR base, for the entries' fullUrl)."""
    entries = [
        {"fullUrl": f"{base_url}{r['resourceType']}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in resources
    ]
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def operation_outcome(message: str, code: str = "invalid", *, expression: str | None = None) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": message}
    if expression:
        issue["expression"] = [expression]
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def capability_statement(base_url: str, *, today: date) -> dict[str, Any]:
    """What this server offers (GET /fhir/metadata)."""

    def search(*params: tuple[str, str]) -> list[dict[str, str]]:
        return [{"name": name, "type": kind} for name, kind in params]

    read_search = [{"code": "read"}, {"code": "search-type"}]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": today.isoformat(),
        "publisher": "Regenerative orthopedics outcome registry",
        "kind": "instance",
        "software": {"name": "regen-ortho-registry"},
        "implementation": {"description": "Patient outcome registry", "url": base_url},
        "fhirVersion": FHIR_VERSION,
        "format": [CONTENT_TYPE, "json"],
        "instantiates": ["http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Staff: a staff session or the site's integration key (Authorization: Bearer), "
                "own site only. Researchers: $export with a researcher API key (Authorization: Token), "
                "de-identified.",
                "security": {"description": "Bearer integration key per site; researcher API key for $export."},
                "resource": [
                    {"type": "Questionnaire", "interaction": read_search, "searchParam": search(("url", "uri"))},
                    {"type": "Patient", "interaction": [{"code": "read"}]},
                    {
                        "type": "QuestionnaireResponse",
                        "interaction": [{"code": "search-type"}, {"code": "create"}],
                        "searchParam": search(("patient", "reference")),
                    },
                    {
                        "type": "Observation",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": search(("patient", "reference")),
                    },
                ],
                "operation": [
                    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}
                ],
            }
        ],
    }


MISSING_CODES = frozenset(MissingCode.values)
