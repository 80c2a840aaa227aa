"""The mapping from a clinic's columns and codes to the registry's fields, read from JSON or YAML and checked whole
before any row is read (the sample mappings in `samples/` show every part).

    source: hrj-redcap            # the clinic's system: part of every imported row's key
    format: redcap                # or "table" (CSV or XLSX)
    record: record_id             # the column of the record id: one record is one patient and one treatment
    event: redcap_event_name      # the column naming the timepoint (or `timepoint: m12` for a file of one)
    events: {baseline_arm_1: baseline, month_3_arm_1: m3, screening_arm_1: null}   # null: no answers there
    date_format: "%Y-%m-%d"
    patient: {given_name: first_name, sex: {column: sex, codes: {"1": female, "2": male}}, ...}
    episode: {joint: {value: knee}, side: {column: side, codes: {L: left, R: right}}, index_date: tx_date}
    completed_on: visit_date      # the day the answers were given
    instruments:
      koos: {items: {P1: koos_p1, ...}, codes: {"1": 0, "2": 1, ...}}   # their code -> the instrument's value
      vas: {items: {vas_mm: pain_vas}}

A field is a column name, `{column: NAME, codes: {THEIRS: OURS}}` or `{value: CONSTANT}`. Instrument items are the
item codes of scoring's definitions; an item's codes may be given per item (`item_codes: {P1: {...}}`), else the
instrument's `codes`, else the cell is read as the number itself. Scores are never mapped: the engine computes
them from the answers. In YAML, quote codes that YAML reads as something else ("yes", "no", "on", "off", "1.0").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from django.conf import settings
from django.utils.translation import gettext as _

import scoring
from outcomes.models import ASKABLE_IDS, HHS_EXAM, Timepoint
from registry.models import Diagnosis, Joint, Sex, Side

SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
FORMATS = ("table", "redcap")

# field -> (kind, required). Kinds: text, date, bool, int, decimal, or a tuple of the values a choice takes.
PATIENT_FIELDS: dict[str, tuple[Any, bool]] = {
    "given_name": ("text", True),
    "family_name": ("text", True),
    "date_of_birth": ("date", True),
    "sex": (tuple(Sex.values), True),
    "consent_date": ("date", True),
    "consent_version": ("text", True),
    "consent_follow_up": ("bool", False),
    "consent_research": ("bool", False),
    "consent_email": ("bool", False),
    "medical_record_number": ("text", False),
    "email": ("text", False),
    "phone": ("text", False),
    "mobile": ("text", False),
    "preferred_language": (tuple(code for code, _name in settings.LANGUAGES), False),
}
EPISODE_FIELDS: dict[str, tuple[Any, bool]] = {
    "joint": (tuple(Joint.values), True),
    "side": (tuple(Side.values), True),
    "index_date": ("date", True),
    "diagnosis": (tuple(Diagnosis.values), False),
    "kl_grade": ("int", False),
    "bmi": ("decimal", False),
    "spinal_level": ("text", False),
    "prior_nsaids": ("bool", False),
    "prior_physiotherapy": ("bool", False),
    "prior_steroid_injection": ("bool", False),
    "prior_ha_injection": ("bool", False),
    "prior_prp_injection": ("bool", False),
    "prior_surgery": ("bool", False),
}
# A cell read as a yes/no when the mapping gives no codes (REDCap writes checkboxes and yes/no fields as 1/0).
BOOL_CODES = {"1": True, "0": False, "yes": True, "no": False, "y": True, "n": False, "true": True, "false": False}


class MappingError(ValueError):
    """The mapping cannot be used: every problem found, each a sentence."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Field:
    """Where one registry field comes from: a column (its codes translated, if given) or one value for all rows."""

    column: str | None = None
    value: Any = None
    codes: dict[str, Any] | None = None


@dataclass(frozen=True)
class InstrumentMap:
    instrument: str
    items: dict[str, str]  # item code -> column
    codes: dict[str, Any] = field(default_factory=dict)
    item_codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def codes_for(self, item: str) -> dict[str, Any]:
        return self.item_codes.get(item) or self.codes


@dataclass(frozen=True)
class ImportMapping:
    source: str
    format: str
    record: str
    event: str | None
    events: dict[str, str | None]
    timepoint: str | None
    date_format: str
    patient: dict[str, Field]
    episode: dict[str, Field]
    completed_on: Field
    instruments: dict[str, InstrumentMap]

    def columns(self) -> list[str]:
        """Every column the mapping reads, in the mapping's order."""
        named = [self.record, self.event]
        named += [f.column for f in (*self.patient.values(), *self.episode.values(), self.completed_on)]
        named += [column for imap in self.instruments.values() for column in imap.items.values()]
        return list(dict.fromkeys(c for c in named if c))

    def column_of(self, name: str) -> str:
        """The column behind a registry field ("date_of_birth", "index_date", "completed_on"), or ""."""
        spec = self.completed_on if name == "completed_on" else self.patient.get(name) or self.episode.get(name)
        return (spec.column or "") if spec else ""


def instrument_item(instrument: str, code: str) -> scoring.Item:
    """The item `code` of an askable instrument (the HHS examination's are the Harris Hip Score's clinician items)."""
    definition = scoring.get_instrument("hhs" if instrument == HHS_EXAM else instrument)
    item = definition.item(code)
    if instrument == HHS_EXAM and item.respondent != "clinician":
        raise scoring.ScoringError(f"hhs_exam: {code!r} is not a clinician item")
    return item


def accepts(item: scoring.Item, value: Any) -> bool:
    """Whether the item takes this stored value (a choice among its options, or a number in its range)."""
    if item.kind == "choice":
        return value in item.values
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if item.kind == "integer" and not float(value).is_integer():
        return False
    return (item.min is None or value >= item.min) and (item.max is None or value <= item.max)


def mapping_load(text: str | bytes) -> ImportMapping:
    """The mapping in a JSON or YAML file (JSON is YAML), or MappingError naming every problem."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise MappingError([_("The mapping file is not UTF-8 text.")]) from None
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise MappingError([_("The mapping is neither JSON nor YAML: %(error)s") % {"error": exc}]) from None
    return mapping_parse(data)


def _field(name: str, raw: Any, problems: list[str]) -> Field | None:
    if isinstance(raw, str) and raw.strip():
        return Field(column=raw.strip())
    if isinstance(raw, dict):
        if "value" in raw and raw.get("column") is None:
            return Field(value=raw["value"])
        column = raw.get("column")
        codes = raw.get("codes")
        if isinstance(column, str) and column.strip() and (codes is None or isinstance(codes, dict)):
            return Field(column=column.strip(), codes={str(k): v for k, v in codes.items()} if codes else None)
    problems.append(_("%(field)s: give a column name, {column: NAME, codes: {...}} or {value: ...}.") % {"field": name})
    return None


def _choice_ok(kind: Any, value: Any) -> bool:
    return not isinstance(kind, tuple) or value is None or value in kind


def _fields(section: str, raw: Any, known: dict[str, tuple[Any, bool]], problems: list[str]) -> dict[str, Field]:
    if not isinstance(raw, dict):
        problems.append(_("The mapping has no %(section)s section.") % {"section": section})
        return {}
    out: dict[str, Field] = {}
    for name, spec in raw.items():
        if name not in known:
            problems.append(
                _("%(section)s.%(field)s is not a field the import fills (known: %(known)s).")
                % {"section": section, "field": name, "known": ", ".join(known)}
            )
            continue
        f = _field(f"{section}.{name}", spec, problems)
        if f is None:
            continue
        kind = known[name][0]
        wrong = [v for v in ([f.value] if f.column is None else (f.codes or {}).values()) if not _choice_ok(kind, v)]
        if wrong:
            problems.append(
                _("%(section)s.%(field)s: “%(value)s” is not one of %(choices)s.")
                % {"section": section, "field": name, "value": wrong[0], "choices": ", ".join(kind)}
            )
        out[name] = f
    for name, (_kind, required) in known.items():
        if required and name not in out and not any(name in p for p in problems):
            problems.append(
                _("%(section)s.%(field)s is required: name its column or give {value: ...}.")
                % {"section": section, "field": name}
            )
    return out


def _instruments(raw: Any, problems: list[str]) -> dict[str, InstrumentMap]:
    if not isinstance(raw, dict) or not raw:
        problems.append(_("The mapping names no instrument: give instruments: {koos: {items: {P1: column, ...}}}."))
        return {}
    out = {}
    for instrument, spec in raw.items():
        if instrument not in ASKABLE_IDS:
            problems.append(
                _("%(instrument)s is not an instrument the registry asks (known: %(known)s).")
                % {"instrument": instrument, "known": ", ".join(ASKABLE_IDS)}
            )
            continue
        items = spec.get("items") if isinstance(spec, dict) else None
        if not isinstance(items, dict) or not items:
            problems.append(_("%(instrument)s: give items: {ITEM: column, ...}.") % {"instrument": instrument})
            continue
        codes = {str(k): v for k, v in (spec.get("codes") or {}).items()}
        item_codes = {
            item: {str(k): v for k, v in (c or {}).items()} for item, c in (spec.get("item_codes") or {}).items()
        }
        imap = InstrumentMap(
            instrument=instrument, items={str(k): str(v) for k, v in items.items()}, codes=codes, item_codes=item_codes
        )
        for code in [*imap.items, *item_codes]:
            try:
                item = instrument_item(instrument, code)
            except scoring.ScoringError:
                problems.append(
                    _("%(instrument)s has no item %(item)s (its items: %(items)s).")
                    % {"instrument": instrument, "item": code, "items": ", ".join(_item_codes(instrument))}
                )
                continue
            for theirs, ours in imap.codes_for(code).items():
                if ours is not None and not accepts(item, ours):
                    problems.append(
                        _("%(instrument)s %(item)s: code “%(code)s” is mapped to “%(value)s”, which it does not take.")
                        % {"instrument": instrument, "item": code, "code": theirs, "value": ours}
                    )
                    break
        out[instrument] = imap
    return out


def _item_codes(instrument: str) -> list[str]:
    definition = scoring.get_instrument("hhs" if instrument == HHS_EXAM else instrument)
    return [i.code for i in definition.items if instrument != HHS_EXAM or i.respondent == "clinician"]


def mapping_parse(data: Any) -> ImportMapping:
    """A checked mapping from its parsed file, or MappingError naming every problem at once."""
    if not isinstance(data, dict):
        raise MappingError([_("The mapping must be a JSON or YAML object of sections (source, record, patient, ...).")])
    problems: list[str] = []
    source = data.get("source")
    if not isinstance(source, str) or not SOURCE.fullmatch(source):
        problems.append(_("source: name the clinic's system in up to 40 letters, digits, dots, dashes or underscores."))
    fmt = data.get("format", "table")
    if fmt not in FORMATS:
        problems.append(_("format: “%(format)s” is neither table nor redcap.") % {"format": fmt})
    record = data.get("record")
    if not isinstance(record, str) or not record.strip():
        # Without it no row can be told apart from another, or matched to the patient of an earlier run.
        problems.append(
            _("The mapping names no patient column: give record, the column holding each patient's record id.")
        )
    event = data.get("event") or ("redcap_event_name" if fmt == "redcap" and data.get("events") else None)
    events = data.get("events") or {}
    timepoint = data.get("timepoint")
    if event:
        if not isinstance(events, dict) or not events:
            problems.append(_("events: say which timepoint each value of the event column is."))
            events = {}
        for theirs, ours in events.items():
            if ours is not None and ours not in Timepoint.values:
                problems.append(
                    _("events.%(event)s: “%(timepoint)s” is not a timepoint (%(known)s, or null for none).")
                    % {"event": theirs, "timepoint": ours, "known": ", ".join(Timepoint.values)}
                )
    elif timepoint not in Timepoint.values:
        problems.append(
            _("Give event (the column naming each row's timepoint) with events, or timepoint: one of %(known)s.")
            % {"known": ", ".join(Timepoint.values)}
        )
    date_format = data.get("date_format", "%Y-%m-%d")
    if not isinstance(date_format, str) or "%" not in date_format:
        problems.append(_("date_format: give a strftime format such as %%Y-%%m-%%d or %%d/%%m/%%Y."))
        date_format = "%Y-%m-%d"
    patient = _fields("patient", data.get("patient"), PATIENT_FIELDS, problems)
    episode = _fields("episode", data.get("episode"), EPISODE_FIELDS, problems)
    completed_on = _field("completed_on", data.get("completed_on"), problems) if "completed_on" in data else None
    if completed_on is None and "completed_on" not in data:
        problems.append(_("completed_on is required: the column of the day the answers were given."))
    instruments = _instruments(data.get("instruments"), problems)
    unknown = sorted(set(data) - _SECTIONS)
    if unknown:
        problems.append(
            _("Unknown sections in the mapping: %(names)s (known: %(known)s).")
            % {"names": ", ".join(unknown), "known": ", ".join(sorted(_SECTIONS))}
        )
    if problems:
        raise MappingError(problems)
    return ImportMapping(
        source=source,
        format=fmt,
        record=record.strip(),
        event=event,
        events={str(k): v for k, v in events.items()},
        timepoint=timepoint,
        date_format=date_format,
        patient=patient,
        episode=episode,
        completed_on=completed_on or Field(),
        instruments=instruments,
    )


_SECTIONS = {
    "source",
    "format",
    "record",
    "event",
    "events",
    "timepoint",
    "date_format",
    "patient",
    "episode",
    "completed_on",
    "instruments",
    "description",
}
